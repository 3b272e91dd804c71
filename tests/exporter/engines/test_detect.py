"""`kind: auto` detects every engine kind from what it serves (engines.md §9). The captured
bodies are read from ../shared/testdata/engines; those cases skip where that folder is absent."""

from __future__ import annotations

import pytest
from engine_cases import CAPTURED

from inferwatch.exporter.collectors.engines.detect import detect
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.sim import Simulation

SIMULATED = {"vllm": "vllm", "vllm-v0": "vllm", "ray-vllm": "vllm", "sglang": "sglang",
             "tgi": "tgi", "triton": "triton", "triton-trtllm": "triton",
             "trtllm-serve": "trtllm", "llamacpp": "llamacpp", "lmdeploy": "lmdeploy",
             "nim": "nim"}
CAPTURES = {"triton-core-trtllm-backend-readme": "triton",
            "triton-server-docs-queue-summary": "triton",
            "triton-trtllm-backend-readme-ifb": "triton",
            "triton-vllm-backend-readme": "vllm", "vllm-aibrix-runtime-docs-v0": "vllm",
            "vllm-kserve-odc-context-nixl": "vllm", "vllm-mindie-pymotor-metrics-example": "vllm"}


@pytest.mark.parametrize(("sim_kind", "expected"), sorted(SIMULATED.items()))
def test_simulated_kinds(sim_kind: str, expected: str) -> None:
    assert detect(parse(Simulation(sim_kind).body(30.0))) == expected


@pytest.mark.parametrize(("name", "expected"), sorted(CAPTURES.items()))
def test_captured_bodies(name: str, expected: str) -> None:
    path = CAPTURED / f"{name}.prom"
    if not path.exists():
        pytest.skip("captured engine bodies absent (../shared/testdata/engines)")
    assert detect(parse(path.read_bytes())) == expected


@pytest.mark.parametrize(("body", "expected"), [
    # Triton with its vLLM backend writes both: it is Triton
    ('nv_inference_count{model="m",version="1"} 1\nvllm:prompt_tokens_total{model="m"} 1\n',
     "triton"),
    ("trtllm:num_requests_running 1\n", "trtllm"),
    # TRT-LLM 1.0/1.1: unprefixed names with an engine_type label
    ('num_requests_running{engine_type="trtllm"} 1\n', "trtllm"),
    # TRT-LLM 1.0 served only histograms and counters, no num_requests_running
    ('time_to_first_token_seconds_sum{engine_type="trtllm",model_name="m"} 1\n', "trtllm"),
    ('request_success_total{engine_type="trtllm",finished_reason="stop"} 1\n', "trtllm"),
    ('time_to_first_token_seconds_sum{model_name="m"} 1\n', None),
    ('num_requests_running{model_name="m"} 1\ngpu_cache_usage_perc{model_name="m"} 0.1\n',
     "nim"),
    ("node_load1 0.5\n", None),
    ("", None),
])
def test_prefixes(body: str, expected: str | None) -> None:
    assert detect(parse(body)) == expected
