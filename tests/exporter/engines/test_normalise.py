"""The transformation rules of engines.md §7: alias precedence, units, ratios weighted by
capacity, pivots, token counters from histogram sums, sentinels and dropped families. One test
reads a capture from ../shared/testdata/engines and skips where that folder is absent."""

from __future__ import annotations

import pytest
from engine_cases import CAPTURED

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS
from inferwatch.exporter.collectors.engines.normalise import Normalised, normalise
from inferwatch.exporter.collectors.engines.rebucket import Histogram
from inferwatch.exposition.parser import parse


def run(body: str, kind: str, model: str = "unknown") -> Normalised:
    return normalise(parse(body), MAPPINGS[kind], model)


def value(norm: Normalised, spec: c.MetricSpec, *key: str) -> float | Histogram:
    return norm.values[spec][key]


VLLM_BOTH = """\
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.5
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{engine="0",le="0.01",model_name="m"} 1
vllm:time_per_output_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 2
vllm:time_per_output_token_seconds_sum{engine="0",model_name="m"} 0.03
vllm:time_per_output_token_seconds_count{engine="0",model_name="m"} 2
# TYPE vllm:inter_token_latency_seconds histogram
vllm:inter_token_latency_seconds_bucket{engine="0",le="0.01",model_name="m"} 1
vllm:inter_token_latency_seconds_bucket{engine="0",le="+Inf",model_name="m"} 2
vllm:inter_token_latency_seconds_sum{engine="0",model_name="m"} 0.03
vllm:inter_token_latency_seconds_count{engine="0",model_name="m"} 2
# TYPE vllm:gpu_prefix_cache_hits_total counter
vllm:gpu_prefix_cache_hits_total{engine="0",model_name="m"} 7
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 7
"""


def test_alias_precedence_never_sums_old_and_new_names() -> None:
    norm = run(VLLM_BOTH, "vllm")
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, "m") == 0.25
    assert value(norm, c.ENGINE_ITL, "m").count == 2
    assert value(norm, c.ENGINE_PREFIX_HIT_TOKENS, "m") == 7
    assert norm.sources["kv_cache_usage_ratio", "m"] == "vllm:kv_cache_usage_perc"
    assert norm.sources["inter_token_latency_seconds", "m"] == "vllm:inter_token_latency_seconds"
    assert norm.sources["prefix_cache_hit_tokens_total", "m"] == "vllm:prefix_cache_hits"
    assert norm.unmapped == []


def test_old_name_used_when_the_new_one_is_absent() -> None:
    body = "\n".join(line for line in VLLM_BOTH.splitlines() if "kv_cache_usage" not in line)
    norm = run(body, "vllm")
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, "m") == 0.5
    assert norm.sources["kv_cache_usage_ratio", "m"] == "vllm:gpu_cache_usage_perc"


def test_captured_vllm_010_with_both_generations() -> None:
    path = CAPTURED / "vllm-mindie-pymotor-metrics-example.prom"
    if not path.exists():
        pytest.skip("captured engine bodies absent (../shared/testdata/engines)")
    families = parse(path.read_bytes())
    norm = normalise(families, MAPPINGS["vllm"])
    (model,) = {m for _, m in norm.sources}
    new = families["vllm:kv_cache_usage_perc"].samples[0][2]
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, model) == new
    assert norm.sources["kv_cache_usage_ratio", model] == "vllm:kv_cache_usage_perc"
    assert norm.sources["prefix_cache_queried_tokens_total", model] == "vllm:prefix_cache_queries"


def test_kv_ratio_weighted_by_capacity_across_ranks() -> None:
    body = """\
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.9
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.1
vllm:cache_config_info{block_size="16",engine="0",num_gpu_blocks="3000"} 1
vllm:cache_config_info{block_size="16",engine="1",num_gpu_blocks="1000"} 1
vllm:num_requests_running{engine="0",model_name="m"} 4
vllm:num_requests_running{engine="1",model_name="m"} 6
"""
    norm = run(body, "vllm")
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, "m") == pytest.approx(0.7)  # not 1.0, not 0.5
    assert value(norm, c.ENGINE_KV_CACHE_CAPACITY, "m") == 64000
    assert value(norm, c.ENGINE_REQUESTS_RUNNING, "m") == 10  # counts are summed


def test_ratio_without_capacities_is_the_plain_mean() -> None:
    body = """\
lmdeploy:gpu_cache_usage_perc{engine="0",model_name="m"} 0.9
lmdeploy:gpu_cache_usage_perc{engine="1",model_name="m"} 0.1
"""
    assert value(run(body, "lmdeploy"), c.ENGINE_KV_CACHE_USAGE, "m") == pytest.approx(0.5)


def test_sglang_tp_duplicates_ignored_and_dp_ranks_weighted() -> None:
    labels = 'engine_type="unified",model_name="m",pp_rank="0"'
    body = f"""\
sglang:token_usage{{dp_rank="0",{labels},tp_rank="0"}} 0.5
sglang:token_usage{{dp_rank="0",{labels},tp_rank="1"}} 0.5
sglang:token_usage{{dp_rank="1",{labels},tp_rank="0"}} 0.2
sglang:max_total_num_tokens{{dp_rank="0",{labels},tp_rank="0"}} 1000
sglang:max_total_num_tokens{{dp_rank="0",{labels},tp_rank="1"}} 1000
sglang:max_total_num_tokens{{dp_rank="1",{labels},tp_rank="0"}} 3000
sglang:num_running_reqs{{dp_rank="0",{labels},tp_rank="0"}} 2
sglang:num_running_reqs{{dp_rank="0",{labels},tp_rank="1"}} 2
"""
    norm = run(body, "sglang")
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, "m") == pytest.approx((500 + 600) / 4000)
    assert value(norm, c.ENGINE_KV_CACHE_CAPACITY, "m") == 4000
    assert value(norm, c.ENGINE_REQUESTS_RUNNING, "m") == 2


def test_triton_units_ms_histogram_bounds_and_us_accumulators() -> None:
    body = """\
# TYPE nv_inference_first_response_histogram_ms histogram
nv_inference_first_response_histogram_ms_bucket{model="m",version="1",le="100"} 3
nv_inference_first_response_histogram_ms_bucket{model="m",version="1",le="500"} 7
nv_inference_first_response_histogram_ms_bucket{model="m",version="1",le="+Inf"} 10
nv_inference_first_response_histogram_ms_sum{model="m",version="1"} 4500
nv_inference_first_response_histogram_ms_count{model="m",version="1"} 10
# TYPE nv_inference_request_duration_us counter
nv_inference_request_duration_us{model="m",version="1"} 2500000
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="m",version="1"} 4
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="m",reason="REJECTED",version="1"} 1
"""
    norm = run(body, "triton")
    ttft = value(norm, c.ENGINE_TTFT, "m")
    bounds = dict(zip(c.TTFT_BUCKETS, ttft.buckets, strict=True))
    assert (bounds[0.1], bounds[0.5], ttft.sum, ttft.count) == (3, 7, pytest.approx(4.5), 10)
    duration = value(norm, c.ENGINE_REQUEST_DURATION, "m")
    assert (duration.buckets, duration.sum, duration.count) == ([], 2.5, 5)
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "m", "rejected") == 1
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "m", "other") == 4


def test_trtllm_backend_sub_labels_pivoted() -> None:
    rows = {"active": 3, "max": 64, "waiting": 5, "scheduled": 3, "context": 1}
    blocks = {"fraction": 0.25, "max": 100, "tokens_per": 64, "used": 25, "free": 75}
    body = "".join(f'nv_trt_llm_request_metrics{{model="m",request_type="{k}",version="1"}} {v}\n'
                   for k, v in rows.items())
    body += "".join(f'nv_trt_llm_kv_cache_block_metrics{{kv_cache_block_type="{k}",model="m",'
                    f'version="1"}} {v}\n' for k, v in blocks.items())
    norm = run(body, "triton")
    assert value(norm, c.ENGINE_REQUESTS_RUNNING, "m") == 3
    assert value(norm, c.ENGINE_REQUESTS_WAITING, "m") == 5
    assert value(norm, c.ENGINE_REQUESTS_CAPACITY, "m") == 64
    assert value(norm, c.ENGINE_KV_CACHE_USAGE, "m") == 0.25
    assert value(norm, c.ENGINE_KV_CACHE_CAPACITY, "m") == 6400


def test_token_counters_from_histogram_sums_and_tgi_reasons() -> None:
    body = """\
# TYPE tgi_request_input_length histogram
tgi_request_input_length_bucket{le="100"} 2
tgi_request_input_length_bucket{le="+Inf"} 3
tgi_request_input_length_sum 420
tgi_request_input_length_count 3
# TYPE tgi_request_success counter
tgi_request_success 3
# TYPE tgi_request_failure counter
tgi_request_failure{err="overloaded"} 2
tgi_request_failure{err="generation"} 1
"""
    norm = run(body, "tgi", model="served")
    assert value(norm, c.ENGINE_PROMPT_TOKENS, "served") == 420
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "served", "rejected") == 2
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "served", "error") == 1
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "served", "other") == 3


def test_sentinels_dropped_and_out_of_range_ratios_reported() -> None:
    body = """\
vllm:gpu_prefix_cache_hit_rate{model_name="m"} -1.0
vllm:gpu_cache_usage_perc{model_name="m"} 42.0
vllm:num_requests_waiting{model_name="m"} NaN
"""
    norm = run(body, "vllm")
    assert c.ENGINE_PREFIX_HIT_RATIO not in norm.values
    assert c.ENGINE_KV_CACHE_USAGE not in norm.values
    assert norm.problems == ["vllm:gpu_cache_usage_perc=42 is above 1; dropped"]


def test_created_python_process_dropped_and_unknown_families_counted() -> None:
    body = """\
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{model_name="m"} 5
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{model_name="m"} 1.7e9
python_gc_objects_collected_total{generation="0"} 1
process_cpu_seconds_total 2
vllm:request_params_n_count{model_name="m"} 1
vllm:brand_new_metric{model_name="m"} 1
"""
    norm = run(body, "vllm")
    assert norm.unmapped == ["vllm:brand_new_metric"]
    assert value(norm, c.ENGINE_PROMPT_TOKENS, "m") == 5


def test_ray_prefixes_and_worker_labels() -> None:
    body = """\
ray_vllm_num_requests_running{WorkerId="a",engine="0",model_name="m"} 2
ray_vllm_num_requests_running{WorkerId="b",engine="0",model_name="m"} 3
ray_vllm:num_requests_waiting{WorkerId="a",engine="0",model_name="m"} 1
"""
    norm = run(body, "vllm")
    assert value(norm, c.ENGINE_REQUESTS_RUNNING, "m") == 5
    assert value(norm, c.ENGINE_REQUESTS_WAITING, "m") == 1


def test_sglang_finished_is_total_minus_aborted() -> None:
    body = """\
sglang:num_requests_total{model_name="m"} 10
sglang:num_aborted_requests_total{model_name="m"} 3
"""
    norm = run(body, "sglang")
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "m", "other") == 7
    assert value(norm, c.ENGINE_REQUESTS_FINISHED, "m", "abort") == 3
