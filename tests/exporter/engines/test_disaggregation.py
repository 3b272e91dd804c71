"""Prefill/decode disaggregation and KV offload (issue 14), from our own fixtures
(tests/testdata/engines, SOURCES.md) and the simulator:

- the `role` label: what the engine says (SGLang's `engine_type`), else the target's config or
  pod annotation (`inferwatch.io/role`), else `both`; the engine's word over the config's;
- SGLang's PD queues counted into waiting and published by queue; KV-transfer latency, speed
  and failures by stage; vLLM's NIXL bytes, durations and failures; the external prefix
  cache; TRT-LLM's host-tier usage;
- every expected value computed from the native samples of the fixture, not written here.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.collector import EngineCollector, ScrapeTarget
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS
from inferwatch.exporter.collectors.engines.normalise import normalise
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.config import EngineTarget
from inferwatch.exporter.kube.pods import BadAnnotations, target_of
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.app import make_app
from inferwatch.simulate.engines.sim import Simulation
from tests.exporter.engines.test_own_fixtures import load, native, value
from tests.support.kubeapi import pod

SG = "meta-llama/Llama-3.1-70B-Instruct"
QUEUES = {"scheduler": "num_queue_reqs", "prefill_prealloc": "num_prefill_prealloc_queue_reqs",
          "prefill_inflight": "num_prefill_inflight_queue_reqs",
          "decode_prealloc": "num_decode_prealloc_queue_reqs",
          "decode_transfer": "num_decode_transfer_queue_reqs"}


def rank0(families: dict, name: str) -> list[float]:
    """The values of one SGLang family's tp_rank 0 samples (one per DP rank)."""
    return [v for _, pairs, v in families[name].samples if dict(pairs)["tp_rank"] == "0"]


@pytest.mark.parametrize(("name", "role"), [("sglang-pd-prefill", "prefill"),
                                            ("sglang-pd-decode", "decode"),
                                            ("sglang-current", "both"),
                                            ("vllm-v1-nixl-decode", "")])
def test_the_role_is_what_the_engine_says(name, role) -> None:
    assert load(name)[1].role == role


@pytest.mark.parametrize("name", ["sglang-pd-prefill", "sglang-pd-decode"])
def test_sglang_pd_queues_are_waiting_and_published_by_queue(name) -> None:
    families, norm = load(name)
    by_queue = {q: sum(rank0(families, "sglang:" + n)) for q, n in QUEUES.items()}
    assert sum(by_queue.values()) > sum(rank0(families, "sglang:num_queue_reqs"))
    assert value(norm, c.ENGINE_REQUESTS_WAITING, SG) == sum(by_queue.values())
    for queue, expected in by_queue.items():
        assert value(norm, c.ENGINE_WAITING_BY_QUEUE, SG, queue) == expected, queue


def test_sglang_kv_transfer_latency_speed_and_failures() -> None:
    families, norm = load("sglang-pd-prefill")
    latency = rank0(families, "sglang:kv_transfer_latency_ms")
    speed = rank0(families, "sglang:kv_transfer_speed_gb_s")
    assert value(norm, c.ENGINE_KV_TRANSFER_LATENCY, SG) == pytest.approx(
        sum(latency) / len(latency) / 1e3)
    assert value(norm, c.ENGINE_KV_TRANSFER_SPEED, SG) == pytest.approx(
        sum(speed) / len(speed) * 1e9)
    for reason, fam in (("transfer", "sglang:num_transfer_failed_reqs"),
                        ("bootstrap", "sglang:num_bootstrap_failed_reqs")):
        assert value(norm, c.ENGINE_KV_TRANSFER_FAILURES, SG, reason) == sum(
            rank0(families, fam)), reason


def test_sglang_decode_usage_is_weighted_by_each_ranks_capacity() -> None:
    families, norm = load("sglang-pd-decode")
    usage = rank0(families, "sglang:token_usage")
    cap = rank0(families, "sglang:max_total_num_tokens")
    assert cap[0] != cap[1]
    weighted = sum(u * w for u, w in zip(usage, cap, strict=True)) / sum(cap)
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, SG) == pytest.approx(weighted)
    assert value(norm, c.ENGINE_PREEMPTIONS, SG) == sum(
        rank0(families, "sglang:num_retracted_requests"))


def test_vllm_nixl_bytes_durations_failures_and_external_cache() -> None:
    families, norm = load("vllm-v1-nixl-decode")
    model = "Qwen/Qwen3-8B"
    assert value(norm, c.ENGINE_KV_TRANSFER_BYTES, model) == native(
        families, "vllm:nixl_bytes_transferred_sum")
    duration = value(norm, c.ENGINE_KV_TRANSFER_DURATION, model)
    assert duration.count == native(families, "vllm:nixl_xfer_time_seconds_count")
    assert duration.sum == pytest.approx(native(families, "vllm:nixl_xfer_time_seconds_sum"))
    for reason, sample in (("transfer", "vllm:nixl_num_failed_transfers_total"),
                           ("notification", "vllm:nixl_num_failed_notifications_total"),
                           ("expired", "vllm:nixl_num_kv_expired_reqs_total")):
        assert value(norm, c.ENGINE_KV_TRANSFER_FAILURES, model, reason) == native(
            families, sample), reason
    assert value(norm, c.ENGINE_EXTERNAL_QUERIED_TOKENS, model) == native(
        families, "vllm:external_prefix_cache_queries_total")
    assert value(norm, c.ENGINE_EXTERNAL_HIT_TOKENS, model) == native(
        families, "vllm:external_prefix_cache_hits_total")


def test_trtllm_host_tier_usage() -> None:
    families, norm = load("trtllm-serve")
    host = [v for _, _, v in families["trtllm_kv_cache_host_utilization"].samples]
    assert host
    assert value(norm, c.ENGINE_KV_HOST_USAGE, "nvidia/Llama-3.3-70B-Instruct-FP8") == \
        pytest.approx(sum(host) / len(host))


def test_role_in_the_config_and_refused_when_unknown() -> None:
    assert EngineTarget.model_validate({"url": "http://h:1", "role": "decode"}).role == "decode"
    with pytest.raises(ValidationError, match="role"):
        EngineTarget.model_validate({"url": "http://h:1", "role": "primary"})


def test_role_from_the_pod_annotation() -> None:
    notes = {"inferwatch.io/scrape": "true", "inferwatch.io/port": "8000"}
    obj = pod("engine-0", "uid-0", annotations={**notes, "inferwatch.io/role": " Prefill "})
    assert target_of(obj).role == "prefill"
    assert target_of(pod("engine-0", "uid-0", annotations=notes)).role == ""
    with pytest.raises(BadAnnotations, match="role"):
        target_of(pod("engine-0", "uid-0", annotations={**notes, "inferwatch.io/role": "p"}))


def roles(families) -> dict[str, set[str]]:
    """The `role` label values of each target's series."""
    out: dict[str, set[str]] = {}
    for f in families:
        for s in f.samples:
            out.setdefault(s.labels["target"], set()).add(s.labels["role"])
    return out


async def test_the_engine_says_its_role_over_the_config_and_the_config_over_both(
        aiohttp_server) -> None:
    async def url(kind: str) -> str:
        server = await aiohttp_server(make_app(Simulation(kind), speed=60.0), host="127.0.0.1")
        return str(server.make_url("/metrics"))

    prefill, decode_vllm, plain = await url("sglang-prefill"), await url("vllm-nixl-decode"), \
        await url("vllm")
    collector = EngineCollector([
        ScrapeTarget(Target("sglang", prefill, role="decode")),  # the engine says prefill
        ScrapeTarget(Target("vllm", decode_vllm, role="decode")),  # vLLM says nothing
        Target("vllm", plain)], timeout=2.0)
    try:
        families = await collector.collect()
    finally:
        await collector.aclose()
    assert roles(families) == {prefill: {"prefill"}, decode_vllm: {"decode"}, plain: {"both"}}
    names = {s.name for f in families for s in f.samples if s.labels["target"] == prefill}
    assert c.ENGINE_WAITING_BY_QUEUE.name in names
    assert c.ENGINE_KV_TRANSFER_LATENCY.name in names
    nixl = {s.name for f in families for s in f.samples if s.labels["target"] == decode_vllm}
    assert c.ENGINE_KV_TRANSFER_BYTES.name in nixl


def test_newer_sglang_bootstrap_queue_and_latency_histogram() -> None:
    """observability/metrics_collector.py at 016d8605: the prefill queue renamed bootstrap is
    counted into waiting, `kv_transfer_latency_ms` is a histogram (the transfer duration)."""
    families, norm = load("sglang-pd-prefill-histograms")
    model = "Qwen/Qwen3-32B"
    queues = {**{q: n for q, n in QUEUES.items() if q != "prefill_prealloc"},
              "prefill_bootstrap": "num_prefill_bootstrap_queue_reqs"}
    by_queue = {q: sum(rank0(families, "sglang:" + n)) for q, n in queues.items()}
    assert by_queue["prefill_bootstrap"] > 0
    assert value(norm, c.ENGINE_REQUESTS_WAITING, model) == sum(by_queue.values())
    for queue, expected in by_queue.items():
        assert value(norm, c.ENGINE_WAITING_BY_QUEUE, model, queue) == expected, queue
    fam = families["sglang:kv_transfer_latency_ms"]

    def at(sample: str, le: str | None = None) -> float:
        return sum(v for n, pairs, v in fam.samples if n == sample and dict(pairs)["tp_rank"]
                   == "0" and dict(pairs).get("le") == le)

    duration = value(norm, c.ENGINE_KV_TRANSFER_DURATION, model)
    assert duration.count == at("sglang:kv_transfer_latency_ms_count") > 0
    assert duration.sum == pytest.approx(at("sglang:kv_transfer_latency_ms_sum") / 1e3)
    bounds = c.ENGINE_KV_TRANSFER_DURATION.buckets
    assert duration.buckets[bounds.index(0.01)] == at("sglang:kv_transfer_latency_ms_bucket",
                                                      "10.0")  # a native bound: exact
    assert (model,) not in norm.values.get(c.ENGINE_KV_TRANSFER_LATENCY, {})
    assert norm.unmapped == []


def test_triton_trtllm_kv_transfer_time_and_count_are_the_duration_histogram() -> None:
    families, norm = load("triton-trtllm-disaggregated")
    fam = families["nv_trt_llm_disaggregated_serving_metrics"]
    by_type = {dict(pairs)["disaggregated_serving_type"]: v for _, pairs, v in fam.samples}
    duration = value(norm, c.ENGINE_KV_TRANSFER_DURATION, "tensorrt_llm")
    assert duration.count == by_type["request_count"] > 0
    assert duration.sum == pytest.approx(by_type["kv_cache_transfer_ms"] / 1e3)
    assert norm.unmapped == []


def test_sglang_hicache_host_tier_usage_is_pooled_over_ranks() -> None:
    families, norm = load("sglang-hicache")
    model = "Qwen/Qwen3-8B"
    used = rank0(families, "sglang:hicache_host_used_tokens")
    total = rank0(families, "sglang:hicache_host_total_tokens")
    pooled = sum(used) / sum(total)
    assert pooled != pytest.approx(sum(u / t for u, t in zip(used, total, strict=True)) / 2)
    assert value(norm, c.ENGINE_KV_HOST_USAGE, model) == pytest.approx(pooled)
    assert norm.unmapped == []


@pytest.mark.parametrize(("used", "total", "expected"), [(3.0, 0.0, None), (5.0, 4.0, None),
                                                         (0.0, 4.0, 0.0)])
def test_sglang_hicache_usage_without_a_total_or_above_one_is_not_published(
        used, total, expected) -> None:
    labels = 'dp_rank="0",engine_type="unified",model_name="m",pp_rank="0",tp_rank="0"'
    body = (f"sglang:num_running_reqs{{{labels}}} 1\n"
            f"sglang:hicache_host_used_tokens{{{labels}}} {used}\n"
            f"sglang:hicache_host_total_tokens{{{labels}}} {total}\n").encode()
    norm = normalise(parse(body), MAPPINGS["sglang"])
    assert norm.values.get(c.ENGINE_KV_HOST_USAGE, {}).get(("m",)) == expected
    assert any("above 1" in p for p in norm.problems) == (used > total > 0)


def test_sglang_lora_pool_slots_are_the_most_adapters_held() -> None:
    families, norm = load("sglang-lora")
    model = "meta-llama/Llama-3.1-8B-Instruct"
    assert value(norm, c.ENGINE_LORA_ADAPTERS_MAX, model) == sum(
        rank0(families, "sglang:lora_pool_slots_total"))
    assert c.ENGINE_LORA_ADAPTERS not in norm.values  # slots used are adapters loaded
    assert norm.unmapped == []
