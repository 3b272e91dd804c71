"""The serving stacks of 2026 (issue 14): NVIDIA Dynamo's frontend and workers, SGLang behind
its model gateway, trtllm-serve's `finish_reason`, placeholder model names, a declared kind
that does not match the page, and the newer concepts (sleep state, waiting by reason, LoRA
adapters, speculative decoding), each checked against our own fixtures' native values and,
for the collector's behaviour, against real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from engine_cases import OWN, render

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines import publish
from inferwatch.exporter.collectors.engines.collector import EngineCollector
from inferwatch.exporter.collectors.engines.detect import detect, matches
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS
from inferwatch.exporter.collectors.engines.normalise import Normalised, normalise
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.app import make_app
from inferwatch.simulate.engines.sim import Simulation

LOGGER = "inferwatch.exporter.collectors.engines"
QWEN = "qwen/qwen3-0.6b"


def load(name: str, kind: str | None = None) -> tuple[dict, Normalised]:
    families = parse((OWN / f"{name}.prom").read_bytes())
    return families, normalise(families, MAPPINGS[kind or detect(families)])


def native(families: dict, family: str, **labels: str) -> float:
    fam = families[family]
    want = fam.name + "_total" if fam.type == "counter" else fam.name
    return sum(v for n, pairs, v in fam.samples
               if n == want and all(dict(pairs).get(k) == x for k, x in labels.items()))


def test_dynamo_frontend_running_waiting_and_finished_by_status_and_error_type() -> None:
    fams, norm = load("dynamo-frontend")
    assert detect(fams) == "dynamo"
    inflight = native(fams, "dynamo_frontend_inflight_requests")
    queued = native(fams, "dynamo_frontend_queued_requests")
    assert norm.values[c.ENGINE_REQUESTS_RUNNING][(QWEN,)] == inflight - queued == 5
    assert norm.values[c.ENGINE_REQUESTS_WAITING][(QWEN,)] == queued
    finished = norm.values[c.ENGINE_REQUESTS_FINISHED]
    total = "dynamo_frontend_requests"
    assert finished[QWEN, "other"] == native(fams, total, status="success")
    assert finished[QWEN, "abort"] == native(fams, total, error_type="cancelled")
    assert finished[QWEN, "rejected"] == (native(fams, total, error_type="overload")
                                          + native(fams, total, error_type="validation"))
    assert finished[QWEN, "error"] == native(fams, total, error_type="internal")
    assert sum(finished.values()) == native(fams, total)
    ttft = norm.values[c.ENGINE_TTFT][(QWEN,)]
    assert ttft.count == fams["dynamo_frontend_time_to_first_token_seconds"].samples[-1][2]
    assert norm.values[c.ENGINE_GENERATION_TOKENS][(QWEN,)] == native(
        fams, "dynamo_frontend_output_tokens")
    assert norm.values[c.ENGINE_PROMPT_TOKENS][(QWEN,)] == next(
        v for n, _, v in fams["dynamo_frontend_input_sequence_tokens"].samples
        if n.endswith("_sum"))
    assert norm.unmapped == []


def test_dynamo_worker_prefers_the_engine_it_passes_through() -> None:
    fams, norm = load("dynamo-worker-vllm")
    model = ("Qwen/Qwen3-0.6B",)
    assert detect(fams) == "dynamo" and matches(fams, "vllm") and matches(fams, "dynamo")
    assert norm.values[c.ENGINE_KV_CACHE_USAGE][model] == native(fams, "vllm:kv_cache_usage_perc")
    assert norm.sources["kv_cache_usage_ratio", model[0]] == "vllm:kv_cache_usage_perc"
    # no vLLM hit counters on this page: Dynamo's KV stats stand in
    assert norm.values[c.ENGINE_PREFIX_HIT_RATIO][model] == native(
        fams, "dynamo_component_kvstats_gpu_prefix_cache_hit_rate")
    assert norm.values[c.ENGINE_REQUESTS_RUNNING][model] == 4
    _, as_vllm = load("dynamo-worker-vllm", "vllm")
    assert as_vllm.values[c.ENGINE_KV_CACHE_USAGE] == norm.values[c.ENGINE_KV_CACHE_USAGE]


def test_sglang_gateway_is_detected_and_publishes_one_series_per_worker() -> None:
    fams, norm = load("sglang-gateway-engine-metrics")
    assert detect(fams) == "sglang" and not norm.values and norm.unmapped == []
    workers = sorted(norm.instances)
    assert workers == ["http://10.0.0.11:30000", "http://10.0.0.12:30000"]
    for worker, running in zip(workers, (12.0, 9.0), strict=True):
        sub = norm.instances[worker].values
        assert sub[c.ENGINE_REQUESTS_RUNNING][("meta-llama/Llama-3.1-8B-Instruct",)] == running
    accept = [norm.instances[w].values[c.ENGINE_SPEC_ACCEPT_LENGTH] for w in workers]
    assert [next(iter(a.values())) for a in accept] == [2.8, 3.1]  # a mean: never summed
    text = render((OWN / "sglang-gateway-engine-metrics.prom").read_bytes()).decode()
    running = [line for line in text.splitlines()
               if line.startswith(c.ENGINE_REQUESTS_RUNNING.name + "{")]
    assert len(running) == 2 and all('worker="http://10.0.0.1' in line for line in running)
    assert text.count(f"# TYPE {c.ENGINE_REQUESTS_RUNNING.name} ") == 1


def test_trtllm_finish_reason_label_and_placeholder_model() -> None:
    fams, norm = load("trtllm-serve-finish-reason")
    finished = norm.values[c.ENGINE_REQUESTS_FINISHED]
    assert finished["", "stop"] == native(fams, "trtllm_request_success", finish_reason="stop")
    assert finished["", "abort"] == 2 and ("", "other") not in finished
    assert all(key[0] == "" for values in norm.values.values() for key in values)
    assert any("'undefined' is a placeholder" in p for p in norm.problems)
    assert norm.values[c.ENGINE_SPEC_DRAFT_TOKENS][("",)] == 43754
    assert norm.values[c.ENGINE_SPEC_ACCEPTED_TOKENS][("",)] == 28109
    assert norm.values[c.ENGINE_SPEC_ACCEPT_LENGTH][("",)] == 2.61


def test_vllm_sleep_lora_waiting_by_reason_and_spec_decode() -> None:
    fams, norm = load("vllm-v1-lora-spec-sleep")
    model = "mistralai/Mistral-7B-Instruct-v0.3"
    sleep = norm.values[c.ENGINE_SLEEP_STATE]
    assert (sleep[model, "awake"], sleep[model, "weights_offloaded"]) == (1.0, 1.0)
    assert norm.values[c.ENGINE_WAITING_BY_REASON] == {(model, "capacity"): 1.0,
                                                       (model, "deferred"): 1.0}
    # the newest lora_requests_info series: running "sql-lora,chat-lora", waiting 1
    assert norm.values[c.ENGINE_LORA_ADAPTERS] == {(model, "running"): 2.0,
                                                   (model, "waiting"): 1.0}
    assert norm.values[c.ENGINE_LORA_ADAPTERS_MAX] == {(model,): 4.0}
    assert norm.values[c.ENGINE_SPEC_DRAFT_TOKENS][(model,)] == native(
        fams, "vllm:spec_decode_num_draft_tokens")
    assert norm.values[c.ENGINE_SPEC_ACCEPTED_TOKENS][(model,)] == 9021.0


def test_sleep_state_published_with_a_state_label() -> None:
    _, norm = load("vllm-v1-lora-spec-sleep")
    fams = {f.name: f for f in publish.series(publish.Identity("vllm", "t"), norm)}
    states = {s.labels["state"]: s.value for s in fams[c.ENGINE_SLEEP_STATE.name].samples}
    assert states == {"awake": 1.0, "weights_offloaded": 1.0, "discard_all": 0.0}
    assert "reason" not in fams[c.ENGINE_SLEEP_STATE.name].samples[0].labels


@pytest.mark.parametrize(("fixture", "kind", "expected"), [
    ("vllm-v1", "vllm", True), ("vllm-v1", "sglang", False), ("dynamo-worker-vllm", "vllm", True),
    ("triton-core", "vllm", False), ("trtllm-serve-1.0-unprefixed", "trtllm", True),
    ("trtllm-serve-1.0-unprefixed", "nim", False), ("nim", "nim", True), ("nim", "trtllm", False),
    ("sglang-gateway-engine-metrics", "sglang", True), ("tgi", "dynamo", False)])
def test_a_page_matches_only_its_own_kind(fixture: str, kind: str, expected: bool) -> None:
    assert matches(parse((OWN / f"{fixture}.prom").read_bytes()), kind) is expected


def _up(families, url: str, engine: str = "") -> list[float]:
    return [s.value for f in families for s in f.samples
            if s.name == c.ENGINE_UP.name and s.labels["target"] == url
            and s.labels["engine"] == (engine or s.labels["engine"])]


async def test_a_declared_kind_the_page_does_not_match_is_down_and_logged_once(
        aiohttp_server, caplog) -> None:
    server = await aiohttp_server(make_app(Simulation("vllm"), speed=60.0), host="127.0.0.1")
    url = str(server.make_url("/metrics"))
    healthy = await aiohttp_server(make_app(Simulation("vllm"), speed=60.0), host="127.0.0.1")
    ok = str(healthy.make_url("/metrics"))
    clock = iter(float(t) for t in range(0, 10_000, 100))
    collector = EngineCollector([Target("sglang", url), Target("vllm", ok)],
                                timeout=2.0, clock=lambda: next(clock))
    caplog.set_level(logging.INFO, LOGGER)
    try:
        first = await collector.collect()
        second = await collector.collect()
    finally:
        await collector.aclose()
    assert _up(first, url) == _up(second, url) == [0.0]
    assert _up(second, ok) == [1.0]
    logged = [r.message for r in caplog.records if "declared kind sglang" in r.message]
    assert len(logged) == 1 and "serves vllm metrics" in logged[0]
    assert not [f for f in second for s in f.samples
                if s.labels.get("target") == url and s.name == c.ENGINE_REQUESTS_RUNNING.name]


async def test_a_placeholder_model_is_published_empty_and_warned_once(
        aiohttp_server, caplog) -> None:
    body = (OWN / "trtllm-serve-finish-reason.prom").read_bytes()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/prometheus/metrics", page)
    server = await aiohttp_server(app, host="127.0.0.1")
    url = str(server.make_url("/prometheus/metrics"))
    clock = iter(float(t) for t in range(0, 10_000, 100))
    collector = EngineCollector([Target("trtllm", url)], timeout=2.0, clock=lambda: next(clock))
    caplog.set_level(logging.INFO, LOGGER)
    try:
        for _ in range(3):
            families = await collector.collect()
    finally:
        await collector.aclose()
    assert _up(families, url) == [1.0]
    models = {s.labels["model"] for f in families for s in f.samples if "model" in s.labels}
    assert models == {""}
    warned = [r for r in caplog.records if "placeholder" in r.message]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING


async def test_the_simulated_dynamo_frontend_is_detected_by_auto(aiohttp_server) -> None:
    server = await aiohttp_server(make_app(Simulation("dynamo"), speed=60.0), host="127.0.0.1")
    url = str(server.make_url("/metrics"))
    clock = iter(float(t) for t in range(0, 10_000, 100))
    collector = EngineCollector([Target("auto", url)], timeout=2.0, clock=lambda: next(clock))
    try:
        await collector.collect()
        families = await collector.collect()
    finally:
        await collector.aclose()
    assert _up(families, url) == [1.0]
    engines = {s.labels["engine"] for f in families for s in f.samples if "engine" in s.labels}
    assert engines == {"dynamo"}
    assert any(f.name == c.ENGINE_TTFT.name and f.samples for f in families)
