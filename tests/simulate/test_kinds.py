"""Each kind's page over HTTP: native family names, types, labels and buckets.

The expectations are engines.md section 2 and the captures in shared/testdata/engines.
"""

from __future__ import annotations

import pytest

from tests.simulate.conftest import parse

V1 = {"model_name", "engine"}
RAY = {"Component", "NodeAddress", "ReplicaId", "SessionName", "Version", "WorkerId"} | V1
SGL = {"model_name", "engine_type", "tp_rank", "pp_rank"}
TRITON = {"model", "version"}
VLLM_TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
             7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]

# kind: [(parsed family name, type, label names of its samples)]
EXPECTED = {
    "vllm": [("vllm:kv_cache_usage_perc", "gauge", V1), ("vllm:num_requests_waiting", "gauge", V1),
             ("vllm:num_requests_running", "gauge", V1), ("vllm:num_preemptions", "counter", V1),
             ("vllm:request_success", "counter", V1 | {"finished_reason"}),
             ("vllm:time_to_first_token_seconds", "histogram", V1),
             ("vllm:inter_token_latency_seconds", "histogram", V1),
             ("vllm:iteration_tokens_total", "histogram", V1),
             ("vllm:cache_config_info", "gauge", None)],
    "vllm-v0": [("vllm:gpu_cache_usage_perc", "gauge", {"model_name"}),
                ("vllm:time_per_output_token_seconds", "histogram", {"model_name"}),
                ("vllm:num_requests_swapped", "gauge", {"model_name"}),
                ("vllm:gpu_prefix_cache_hit_rate", "gauge", {"model_name"})],
    "ray-vllm": [("ray_vllm_kv_cache_usage_perc", "gauge", RAY),
                 ("ray_vllm_time_to_first_token_seconds", "histogram", RAY),
                 ("ray_vllm_num_preemptions", "counter", RAY)],
    "sglang": [("sglang:token_usage", "gauge", SGL), ("sglang:num_queue_reqs", "gauge", SGL),
               ("sglang:num_running_reqs", "gauge", SGL),
               ("sglang:time_to_first_token_seconds", "histogram", {"model_name"}),
               ("sglang:queue_time_seconds", "histogram", SGL)],
    "tgi": [("tgi_queue_size", "gauge", set()), ("tgi_batch_current_size", "gauge", set()),
            ("tgi_request_duration", "histogram", set()),
            ("tgi_request_queue_duration", "histogram", set()),
            ("tgi_request_count", "counter", set())],
    "triton": [("nv_inference_queue_duration_us", "counter", TRITON),
               ("nv_inference_request_success", "counter", TRITON),
               ("nv_inference_request_failure", "counter", TRITON | {"reason"}),
               ("nv_inference_pending_request_count", "gauge", TRITON),
               ("nv_inference_first_response_histogram_ms", "histogram", TRITON)],
    "triton-trtllm": [("nv_trt_llm_request_metrics", "gauge", TRITON | {"request_type"}),
                      ("nv_trt_llm_kv_cache_block_metrics", "gauge",
                       TRITON | {"kv_cache_block_type"}),
                      ("nv_llm_input_token_len", "histogram", TRITON | {"response_metric_type"}),
                      ("nv_inference_request_duration_us", "counter", TRITON)],
    "trtllm-serve": [("trtllm_kv_cache_utilization", "gauge", {"model_name", "engine_type"}),
                     ("trtllm_num_requests_waiting", "gauge", {"model_name", "engine_type"}),
                     ("trtllm_time_to_first_token_seconds", "histogram",
                      {"model_name", "engine_type"})],
    "llamacpp": [("llamacpp:requests_deferred", "gauge", set()),
                 ("llamacpp:requests_processing", "gauge", set()),
                 ("llamacpp:tokens_predicted", "counter", set()),
                 ("llamacpp:n_tokens_max", "counter", set())],
    "lmdeploy": [("lmdeploy:gpu_cache_usage_perc", "gauge", V1),
                 ("lmdeploy:iter_token_latency", "histogram", V1),
                 ("lmdeploy:request_success", "counter", V1 | {"finished_reason"}),
                 ("lmdeploy:num_requests_succeeded", "gauge", V1)],
    "dynamo": [("dynamo_frontend_inflight_requests", "gauge", {"model"}),
               ("dynamo_frontend_queued_requests", "gauge", {"model"}),
               ("dynamo_frontend_requests", "counter",
                {"model", "endpoint", "request_type", "status", "error_type"}),
               ("dynamo_frontend_time_to_first_token_seconds", "histogram", {"model"}),
               ("dynamo_frontend_inter_token_latency_seconds", "histogram", {"model"})],
    "nim": [("gpu_cache_usage_perc", "gauge", {"model_name"}),
            ("num_request_max", "gauge", {"model_name"}),
            ("request_finish", "counter", {"model_name", "finished_reason"})],
}
PATHS = {"trtllm-serve": "/prometheus/metrics"}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
async def test_native_families(engine, clock, kind: str) -> None:
    client = await engine(kind, seed=3)
    clock.now += 30
    resp = await client.get(PATHS.get(kind, "/metrics"))
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = parse(await resp.text())
    for name, mtype, labels in EXPECTED[kind]:
        assert fams[name].type == mtype, name
        if labels is not None:
            for s in fams[name].samples:
                assert set(s.labels) - {"le", "quantile"} == labels, (name, s)


async def test_vllm_ttft_native_buckets_and_data_parallel_ranks(engine, clock) -> None:
    client = await engine("vllm", ranks=2, model_name="m")
    clock.now += 20
    fams = parse(await (await client.get("/metrics")).text())
    ttft = fams["vllm:time_to_first_token_seconds"]
    for rank in ("0", "1"):
        les = [float(s.labels["le"]) for s in ttft.samples
               if s.name.endswith("_bucket") and s.labels["engine"] == rank]
        assert les == [*VLLM_TTFT, float("inf")]
    usage = {s.labels["engine"]: s.value for s in fams["vllm:kv_cache_usage_perc"].samples}
    assert set(usage) == {"0", "1"} and all(0 < v < 1 for v in usage.values())
    assert fams["vllm:request_success"].samples[0].labels["model_name"] == "m"
    assert "vllm:num_preemptions_created" in fams


async def test_v1_text_quirks_match_the_capture(engine, clock) -> None:
    """Sorted labels with `le` inside, `_created` gauges, Go-style floats (kserve capture)."""
    client = await engine("vllm")
    clock.now += 10
    text = await (await client.get("/metrics")).text()
    assert '_bucket{engine="0",le="0.001",model_name=' in text
    assert "# TYPE vllm:time_to_first_token_seconds_created gauge" in text
    assert "process_start_time_seconds 1.767604364e+09\n" in text


@pytest.mark.parametrize(("kind", "needle", "absent"), [
    ("triton", 'nv_inference_first_response_histogram_ms_count{model="tensorrt_llm",version="1"}'
     ' ', "_total{"),
    ("triton", 'le="100"} ', 'le="100.0"'),
    ("tgi", "\n\n# HELP tgi_request_success Number of successful requests\n", "tgi_request_count_"),
    ("tgi", "# TYPE tgi_batch_current_max_tokens gauge\n", "# HELP tgi_batch_current_max_tokens"),
    ("vllm-v0", "vllm:gpu_prefix_cache_hit_rate{model_name=", "_created"),
    ("llamacpp", "# TYPE llamacpp:n_tokens_max counter\n", "{"),
])
async def test_exposition_quirks(engine, clock, kind: str, needle: str, absent: str) -> None:
    client = await engine(kind)
    clock.now += 15
    text = await (await client.get("/metrics")).text()
    assert needle in text
    assert absent not in text


async def test_v0_histogram_order_is_multiprocess(engine, clock) -> None:
    client = await engine("vllm-v0")
    clock.now += 10
    lines = [ln for ln in (await (await client.get("/metrics")).text()).splitlines()
             if ln.startswith("vllm:e2e_request_latency_seconds")]
    assert lines[0].startswith("vllm:e2e_request_latency_seconds_sum")
    assert lines[1].startswith('vllm:e2e_request_latency_seconds_bucket{le="1.0",model_name=')
    assert lines[-1].startswith("vllm:e2e_request_latency_seconds_count")


@pytest.mark.parametrize(("kind", "path", "key"), [
    ("vllm", "/version", "version"), ("tgi", "/info", "model_id"), ("triton", "/v2", "name"),
    ("nim", "/v1/version", "release"), ("sglang", "/get_server_info", "version"),
    ("llamacpp", "/props", "total_slots")])
async def test_engine_info_endpoints(engine, kind: str, path: str, key: str) -> None:
    resp = await (await engine(kind)).get(path)
    assert resp.status == 200
    assert key in await resp.json()


async def test_trtllm_serve_has_no_plain_metrics_path(engine) -> None:
    client = await engine("trtllm-serve")
    assert (await client.get("/metrics")).status == 404
    assert (await client.get("/prometheus/metrics")).status == 200


def test_dynamo_log_buckets_follow_generate_log_buckets() -> None:
    """Dynamo's defaults (lib/llm/src/http/service/metrics.rs): 0 first, 2 significant figures,
    duplicates dropped."""
    from inferwatch.simulate.engines.kinds.dynamo import log_buckets
    assert log_buckets(1.0, 512.0, 10) == (0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 130.0, 260.0,
                                           510.0)
    assert log_buckets(0.001, 2.0, 13)[:4] == (0.0, 0.0019, 0.0035, 0.0067)
    assert len(log_buckets(0.001, 480.0, 18)) == 18
