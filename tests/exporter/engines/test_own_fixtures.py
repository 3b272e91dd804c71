"""Our own fixtures (tests/testdata/engines, one per engine and version, written from each
engine's source named in SOURCES.md): each is documented, parses as prometheus_client parses
it, is detected as its kind, and maps by the rules of engines.md §7. Their full normalised
output is pinned by the golden tests (`own-*` in golden/)."""

from __future__ import annotations

import math
import re

import pytest
from engine_cases import OWN, own_fixtures
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.detect import detect
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS
from inferwatch.exporter.collectors.engines.normalise import Normalised, normalise
from inferwatch.exporter.collectors.engines.rebucket import Histogram
from inferwatch.exposition.parser import parse

KINDS = {"vllm-v1": "vllm", "vllm-v0": "vllm", "vllm-0.10-old-and-new": "vllm",
         "vllm-0.11-itl-aliases": "vllm", "ray-serve-llm-vllm-v1": "vllm",
         "sglang-current": "sglang", "sglang-2024-name-label": "sglang", "tgi": "tgi",
         "triton-core": "triton", "triton-trtllm-backend": "triton",
         "trtllm-serve": "trtllm", "trtllm-serve-1.0-unprefixed": "trtllm",
         "llamacpp-current": "llamacpp", "llamacpp-with-kv": "llamacpp",
         "lmdeploy": "lmdeploy", "nim": "nim", "dynamo-frontend": "dynamo",
         "dynamo-worker-vllm": "dynamo", "sglang-gateway-engine-metrics": "sglang",
         "trtllm-serve-finish-reason": "trtllm", "vllm-v1-lora-spec-sleep": "vllm",
         "sglang-pd-prefill": "sglang", "sglang-pd-decode": "sglang",
         "vllm-v1-nixl-decode": "vllm", "sglang-pd-prefill-histograms": "sglang",
         "triton-trtllm-disaggregated": "triton", "sglang-hicache": "sglang",
         "sglang-lora": "sglang", "sglang-pd-prefill-transfer-size": "sglang"}


def load(name: str) -> tuple[dict, Normalised]:
    families = parse((OWN / f"{name}.prom").read_bytes())
    return families, normalise(families, MAPPINGS[KINDS[name]])


def value(norm: Normalised, spec: c.MetricSpec, *key: str) -> float | Histogram:
    return norm.values[spec][key]


def native(families: dict, sample: str, **labels: str) -> float:
    """The sum of one native sample name's values over series matching `labels`."""
    fam_name = sample.removesuffix("_total") if sample.removesuffix("_total") in families \
        else next(f for f in families if sample.startswith(f))
    return sum(v for n, pairs, v in families[fam_name].samples if n == sample
               and all(dict(pairs).get(k) == x for k, x in labels.items()))


def test_every_fixture_is_listed_with_its_source_and_every_listed_one_exists() -> None:
    sources = (OWN / "SOURCES.md").read_text()
    names = {p.stem for p in own_fixtures()}
    assert names == set(KINDS)
    for name in names:
        assert f"`{name}.prom`" in sources, name
    listed = {m.group(1) for m in re.finditer(r"^\| `([^`]+)\.prom` \|", sources, re.M)}
    assert listed == names


@pytest.mark.parametrize("name", sorted(KINDS))
def test_parses_like_prometheus_client_and_is_detected(name: str) -> None:
    text = (OWN / f"{name}.prom").read_text()
    ours = sorted((n, tuple(sorted(labels)), "NaN" if math.isnan(v) else v)
                  for fam in parse(text).values() for n, labels, v in fam.samples)
    theirs = sorted((s.name, tuple(sorted(s.labels.items())),
                     "NaN" if math.isnan(s.value) else s.value)
                    for fam in text_string_to_metric_families(text) for s in fam.samples)
    assert ours == theirs
    assert detect(parse(text)) == KINDS[name]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_histograms_are_cumulative_and_exact(name: str) -> None:
    _, norm = load(name)
    for spec, values in norm.values.items():
        for key, v in values.items():
            if isinstance(v, Histogram):
                assert v.buckets == sorted(v.buckets), (spec.name, key)
                assert not v.buckets or v.buckets[-1] <= v.count, (spec.name, key)


def test_vllm_v1_ratio_weighted_by_capacity_and_ranks_summed() -> None:
    families, norm = load("vllm-v1")
    m = "Qwen/Qwen3-8B"
    # engine 0: 2048 blocks at 0.8125, engine 1: 1024 blocks at 0.25 (block_size 16)
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, m) == pytest.approx(0.625)
    assert value(norm, c.ENGINE_KV_CACHE_CAPACITY, m) == (2048 + 1024) * 16
    assert value(norm, c.ENGINE_REQUESTS_RUNNING, m) == native(
        families, "vllm:num_requests_running")
    # repetition counts as stop
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, m, "stop") == native(
        families, "vllm:request_success_total", finished_reason="stop") + native(
        families, "vllm:request_success_total", finished_reason="repetition")
    assert norm.unmapped == []  # `_created`, python_*, process_* are dropped, not unmapped


def test_vllm_010_old_and_new_names_are_never_added() -> None:
    families, norm = load("vllm-0.10-old-and-new")
    m = "meta-llama/Llama-3.1-8B-Instruct"
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, m) == native(families,
                                                             "vllm:kv_cache_usage_perc")
    assert norm.sources["kv_cache_usage_ratio", m] == "vllm:kv_cache_usage_perc"
    assert value(norm, c.ENGINE_PREFIX_HIT_TOKENS, m) == native(
        families, "vllm:prefix_cache_hits_total")
    assert norm.sources["prefix_cache_hit_tokens_total", m] == "vllm:prefix_cache_hits"
    # 0.10 has only the old ITL name; a family no mapping knows is counted
    assert norm.sources["inter_token_latency_seconds", m] == \
        "vllm:time_per_output_token_seconds"
    assert norm.unmapped == ["vllm:time_per_prefill_token_request_seconds"]


def test_vllm_011_itl_aliases_with_identical_data_counted_once() -> None:
    families, norm = load("vllm-0.11-itl-aliases")
    m = "meta-llama/Llama-3.1-8B-Instruct"
    itl = value(norm, c.ENGINE_ITL, m)
    assert itl.count == native(families, "vllm:inter_token_latency_seconds_count")
    assert itl.count == native(families, "vllm:time_per_output_token_seconds_count")
    assert norm.sources["inter_token_latency_seconds", m] == "vllm:inter_token_latency_seconds"


def test_vllm_v0_sentinels_dropped_and_old_names_used() -> None:
    _, norm = load("vllm-v0")
    m = "mistralai/Mistral-7B-Instruct-v0.3"
    assert c.ENGINE_PREFIX_HIT_RATIO not in norm.values  # -1.0: no data
    assert norm.sources["kv_cache_usage_ratio", m] == "vllm:gpu_cache_usage_perc"


def test_ray_serve_workers_summed_and_ratio_averaged() -> None:
    families, norm = load("ray-serve-llm-vllm-v1")
    assert value(norm, c.ENGINE_PROMPT_TOKENS, "qwen-7b") == native(
        families, "ray_vllm_prompt_tokens_total")
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, "qwen-7b") == pytest.approx((0.5 + 0.75) / 2)


def test_sglang_current_ranks_duplicates_and_finished() -> None:
    _, norm = load("sglang-current")
    m = "meta-llama/Llama-3.1-70B-Instruct"
    assert value(norm, c.ENGINE_REQUESTS_RUNNING, m) == 24 + 11  # tp_rank 1 ignored
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, m) == pytest.approx(
        (0.88 * 420000 + 0.40 * 210000) / 630000)  # full_token_usage over token_usage
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, m, "other") == 10422 - 31
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, m, "abort") == 31
    assert value(norm, c.ENGINE_PROMPT_CACHED_TOKENS, m) == 3902312  # cache_source="total"


def test_sglang_2024_model_from_the_name_label() -> None:
    _, norm = load("sglang-2024-name-label")
    assert {model for _, model in norm.sources} == {"meta-llama/Llama-3.1-8B-Instruct"}
    assert norm.unmapped == []


def test_tgi_token_counters_from_histogram_sums_and_failures_by_err() -> None:
    families, norm = load("tgi")
    assert value(norm, c.ENGINE_PROMPT_TOKENS, "") == native(
        families, "tgi_request_input_length_sum")
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "", "rejected") == 31 + 12
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "", "error") == 8
    assert c.ENGINE_TTFT not in norm.values and c.ENGINE_KV_CACHE_USAGE not in norm.values


def test_triton_core_units() -> None:
    families, norm = load("triton-core")
    m = "llama3_8b_onnx"
    ttft = value(norm, c.ENGINE_TTFT, m)
    assert ttft.sum == pytest.approx(native(
        families, "nv_inference_first_response_histogram_ms_sum") / 1e3)
    # the native 0.5 s (500 ms) bound is a canonical one: its count carries over exactly
    bounds = list(c.ENGINE_TTFT.buckets)
    assert ttft.buckets[bounds.index(0.5)] == native(
        families, "nv_inference_first_response_histogram_ms_bucket", le="500")
    duration = value(norm, c.ENGINE_REQUEST_DURATION, m)
    assert duration.sum == pytest.approx(2822117415 / 1e6)
    assert duration.count == 1822 + 4 + 2 + 1 and duration.buckets == []


def test_triton_trtllm_backend_pivots() -> None:
    _, norm = load("triton-trtllm-backend")
    m = "tensorrt_llm"
    assert value(norm, c.ENGINE_REQUESTS_WAITING, m) == 7
    assert value(norm, c.ENGINE_REQUESTS_CAPACITY, m) == 64
    assert value(norm, c.ENGINE_KV_CACHE_CAPACITY, m) == 4096 * 64
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, m) == 0.734375


def test_trtllm_serve_prefixed_and_unprefixed() -> None:
    _, norm = load("trtllm-serve")
    m = "nvidia/Llama-3.3-70B-Instruct-FP8"
    assert value(norm, c.ENGINE_KV_CACHE_CAPACITY, m) == 8192 * 32
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, m, "abort") == 11  # cancelled
    _, old = load("trtllm-serve-1.0-unprefixed")
    assert old.sources["time_to_first_token_seconds", "Qwen/Qwen2.5-7B-Instruct"] == \
        "time_to_first_token_seconds"


def test_llamacpp_kv_usage_only_before_its_removal() -> None:
    _, with_kv = load("llamacpp-with-kv")
    _, current = load("llamacpp-current")
    assert value(with_kv, c.ENGINE_KV_CACHE_USAGE, "") == 0.354248
    assert c.ENGINE_KV_CACHE_USAGE not in current.values
    assert value(current, c.ENGINE_BATCH_MAX_TOKENS, "") == 4096


def test_lmdeploy_reasons_and_nim_finish_reasons() -> None:
    _, lmd = load("lmdeploy")
    m = "internlm/internlm3-8b-instruct"
    assert value(lmd, c.ENGINE_REQUESTS_FINISHED, m, "rejected") == 1  # NO_QUEUE
    assert value(lmd, c.ENGINE_REQUESTS_FINISHED, m, "error") == 3  # INPUT_LENGTH_ERROR
    assert value(lmd, c.ENGINE_KV_CACHE_USAGE, m) == pytest.approx((0.77 + 0.61) / 2)
    _, nim = load("nim")
    assert nim.sources["requests_finished_total", "meta/llama3-8b-instruct"] == \
        "request_finish"
    assert value(nim, c.ENGINE_REQUESTS_CAPACITY, "meta/llama3-8b-instruct") == 256
