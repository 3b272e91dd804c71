"""The LoRA and speculative-decoding kinds: real shapes, and numbers consistent with the load.

vllm-lora-spec: vLLM V1 with `--enable-lora --max-loras 2` and a speculative config
(vllm/v1/metrics/loggers.py, vllm/v1/spec_decode/metrics.py); sglang-spec: SGLang with EAGLE
(SchedulerMetricsCollector's spec gauges). The default kinds publish none of these families.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import pytest

from inferwatch.simulate.engines.kinds.vllm_lora_spec import CONFIG
from inferwatch.simulate.engines.sim import DEFAULT_EPOCH, Simulation
from tests.simulate.conftest import parse

TIMES = (15.0, 90.0, 140.0)  # before and in the incident's spike (60 to 150 s)
NEW = ("vllm:spec_decode_num_drafts", "vllm:spec_decode_num_draft_tokens",
       "vllm:spec_decode_num_accepted_tokens", "vllm:spec_decode_num_accepted_tokens_per_pos",
       "vllm:num_requests_waiting_by_reason", "vllm:lora_requests_info")


@cache
def snapshots(kind: str) -> dict[float, tuple[dict, list[dict]]]:
    """Each time's parsed page and, per rank, what the load model holds then (one run)."""
    sim, out = Simulation(kind, seed=5, scenario="incident", ranks=2), {}
    for t in TIMES:
        fams = parse(sim.body(t).decode())
        out[t] = fams, [{"received": m.stats.get("requests_received"),
                         "lora": tuple(",".join(sorted({r.adapter for r in q if r.adapter}))
                                       for q in (m.running, m.waiting))}
                        for m in sim.advance_to(t).ranks]
    return out


def page(kind: str, t: float) -> dict:
    return snapshots(kind)[t][0]


def per_engine(fams: dict, name: str, suffix: str = "_total") -> dict[str, float]:
    return {s.labels["engine"]: s.value for s in fams[name].samples if s.name == name + suffix}


@pytest.mark.parametrize("t", TIMES)
def test_spec_decode_counters_agree_with_the_generated_tokens(t: float) -> None:
    """Each draft yields its accepted tokens plus one: drafts + accepted = generated tokens,
    plus what drafts yielded past the tokens emitted so far (at most 3 per request received);
    accepted < drafted = 3 x drafts; per position, the accepted tokens sum to accepted and fall
    with the position (a position is accepted only after the ones before it)."""
    fams, ranks = snapshots("vllm-lora-spec")[t]
    drafts = per_engine(fams, "vllm:spec_decode_num_drafts")
    drafted = per_engine(fams, "vllm:spec_decode_num_draft_tokens")
    accepted = per_engine(fams, "vllm:spec_decode_num_accepted_tokens")
    generated = per_engine(fams, "vllm:generation_tokens")
    by_pos: dict[str, list[float]] = defaultdict(lambda: [0.0] * CONFIG.spec_tokens)
    for s in fams["vllm:spec_decode_num_accepted_tokens_per_pos"].samples:
        if s.name.endswith("_total"):
            by_pos[s.labels["engine"]][int(s.labels["position"])] = s.value
    received = {str(i): r["received"] for i, r in enumerate(ranks)}
    assert set(drafts) == {"0", "1"}
    for e in drafts:
        assert 0 < accepted[e] < drafted[e] == CONFIG.spec_tokens * drafts[e]
        ahead = drafts[e] + accepted[e] - generated[e]
        assert 0 <= ahead <= CONFIG.spec_tokens * received[e]
        assert sum(by_pos[e]) == accepted[e]
        assert by_pos[e] == sorted(by_pos[e], reverse=True)


def test_acceptance_rate_follows_the_configured_acceptance() -> None:
    """Each position accepted at 0.7 once the ones before it were: 0.7 + 0.49 + 0.343 tokens
    accepted of 3 drafted, a rate of 0.511."""
    fams = page("vllm-lora-spec", 140.0)
    rate = (sum(per_engine(fams, "vllm:spec_decode_num_accepted_tokens").values())
            / sum(per_engine(fams, "vllm:spec_decode_num_draft_tokens").values()))
    assert rate == pytest.approx(0.511, abs=0.01)


@pytest.mark.parametrize("t", TIMES)
def test_waiting_by_reason_sums_to_waiting(t: float) -> None:
    fams = page("vllm-lora-spec", t)
    waiting = per_engine(fams, "vllm:num_requests_waiting", "")
    by_reason: dict[str, float] = defaultdict(float)
    reasons = set()
    for s in fams["vllm:num_requests_waiting_by_reason"].samples:
        assert set(s.labels) == {"model_name", "engine", "reason"}
        by_reason[s.labels["engine"]] += s.value
        reasons.add(s.labels["reason"])
    assert reasons == {"capacity", "deferred"}
    assert by_reason == waiting


def test_the_lora_budget_defers_requests_in_the_spike() -> None:
    """Under the incident's spike, requests for a third adapter wait with two in the batch."""
    deferred = [s.value for t in TIMES[1:] for s in
                page("vllm-lora-spec", t)["vllm:num_requests_waiting_by_reason"].samples
                if s.labels["reason"] == "deferred"]
    assert max(deferred) > 0


@pytest.mark.parametrize("t", TIMES)
def test_lora_requests_info_as_vllm_writes_it(t: float) -> None:
    """No model/engine labels; max_lora as set; one series per label set seen, valued at the
    time it was last set (never after the page's time); never more running adapters than
    max_lora; the newest series list the adapters of the requests now running and waiting."""
    fams, ranks = snapshots("vllm-lora-spec")[t]
    samples = fams["vllm:lora_requests_info"].samples
    assert samples and fams["vllm:lora_requests_info"].type == "gauge"
    for s in samples:
        assert set(s.labels) == {"max_lora", "running_lora_adapters", "waiting_lora_adapters"}
        assert s.labels["max_lora"] == "2"
        running = [a for a in s.labels["running_lora_adapters"].split(",") if a]
        assert len(running) <= 2 and set(running) <= set(CONFIG.lora_adapters)
        assert DEFAULT_EPOCH <= s.value <= DEFAULT_EPOCH + t
    latest = max(s.value for s in samples)
    newest = {(s.labels["running_lora_adapters"], s.labels["waiting_lora_adapters"])
              for s in samples if s.value == latest}
    assert newest <= {r["lora"] for r in ranks}, (newest, ranks)
    assert len({tuple(sorted(s.labels.items())) for s in samples}) == len(samples)


def test_spec_families_come_first_as_registered() -> None:
    """SpecDecodingProm is created before the scheduler gauges: first after python/process."""
    text = Simulation("vllm-lora-spec").body(20.0).decode()
    types = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE vllm:")]
    assert types[0] == "vllm:spec_decode_num_drafts_total"
    assert types.index("vllm:num_requests_waiting_by_reason") == \
        types.index("vllm:num_requests_waiting") + 1
    assert types[-1] == "vllm:cache_config_info"
    assert types[-2] == "vllm:lora_requests_info"


@pytest.mark.parametrize("kind", ["vllm", "vllm-nixl-decode", "ray-vllm"])
def test_default_vllm_kinds_publish_none_of_them(kind: str) -> None:
    text = Simulation(kind).body(60.0).decode()
    assert not [n for n in NEW if n.split(":")[1] in text]


def test_the_features_leave_arrivals_as_they_were() -> None:
    """LoRA and speculation draw from their own random stream: the same requests arrive."""
    plain, featured = (Simulation(k, seed=9).advance_to(90.0).ranks[0].stats
                       for k in ("vllm", "vllm-lora-spec"))
    assert plain.get("requests_received") == featured.get("requests_received") > 0


@pytest.mark.parametrize("t", TIMES)
def test_sglang_spec_gauges_agree(t: float) -> None:
    """accept_length = 1 + accepted / drafts, accept_rate = accepted / (3 x drafts): so
    length - 1 = 3 x rate, the length between 1 and 4, the rate between 0 and 1."""
    fams = page("sglang-spec", t)
    length = {s.labels["dp_rank"]: s.value for s in fams["sglang:spec_accept_length"].samples}
    rate = {s.labels["dp_rank"]: s.value for s in fams["sglang:spec_accept_rate"].samples}
    assert set(length) == set(rate) == {"0", "1"}
    for r in length:
        assert 1.0 < length[r] < 4.0 and 0.0 < rate[r] < 1.0
        assert length[r] - 1 == pytest.approx(3 * rate[r])
    assert "spec_accept" not in Simulation("sglang").body(t).decode()
