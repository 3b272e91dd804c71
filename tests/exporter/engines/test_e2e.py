"""End to end: `inferwatch exporter --engine vllm=URL --engine auto=URL2` as a subprocess over
two `inferwatch simulate-engine` subprocesses; every fixed engine name of metrics.md is served
with its labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog as c
from tests.support.procs import free_port, spawn, wait_http

FIXED = (c.ENGINE_UP, c.ENGINE_KV_CACHE_USAGE, c.ENGINE_REQUESTS_WAITING,
         c.ENGINE_REQUESTS_RUNNING, c.ENGINE_TTFT, c.ENGINE_ITL, c.ENGINE_REQUEST_DURATION,
         c.ENGINE_QUEUE_DURATION, c.ENGINE_PROMPT_TOKENS, c.ENGINE_GENERATION_TOKENS,
         c.ENGINE_PREEMPTIONS, c.ENGINE_REQUESTS_FINISHED)


def test_exporter_over_simulated_engines(processes) -> None:
    vllm_port, sglang_port, port = free_port(), free_port(), free_port()
    for kind, p in (("vllm", vllm_port), ("sglang", sglang_port)):
        processes.append(spawn("simulate-engine", "--kind", kind, "--speed", "30",
                               "--web.listen-address", f"127.0.0.1:{p}"))
    vllm_url = f"http://127.0.0.1:{vllm_port}/metrics"
    sglang_url = f"http://127.0.0.1:{sglang_port}"
    for url in (vllm_url, sglang_url + "/metrics"):
        wait_http(url)
    processes.append(spawn("exporter", "--simulate-gpus", "2", "--engine", f"vllm={vllm_url}",
                           "--engine", f"auto={sglang_url}", "--collector.engines.interval",
                           "1s", "--web.listen-address", f"127.0.0.1:{port}"))
    wait_http(f"http://127.0.0.1:{port}/readyz", timeout=30)
    text = wait_http(f"http://127.0.0.1:{port}/metrics").decode()
    series = [s for f in text_string_to_metric_families(text) for s in f.samples]
    for target, engine in ((vllm_url, "vllm"), (sglang_url, "sglang")):
        for spec in FIXED:
            found = [s for s in series if s.name in spec.series_names
                     and s.labels.get("target") == target]
            assert found, (spec.name, target)
            for s in found:
                assert s.labels["engine"] == engine
                assert s.labels["model"] == "meta-llama/Llama-3.1-8B-Instruct"
                extra = {"le"} if s.name.endswith("_bucket") else set()
                assert set(s.labels) == set(spec.labels) | extra | {"role"}, s
                assert s.labels["role"] == "both"  # sglang says `unified`; vllm says nothing
        up = [s.value for s in series if s.name == c.ENGINE_UP.name
              and s.labels["target"] == target]
        assert up == [1.0]
