"""Model facts from our own info-endpoint fixtures (tests/testdata/engines/info, sources in
its SOURCES.md) and from config-info metric families: what each engine says, nothing
guessed, hostile values bounded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from inferwatch.exporter.collectors.engines.info_parse import (
    ENDPOINTS,
    FIELD_CHARS,
    Facts,
    from_endpoint,
    from_families,
)
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.sim import Simulation

INFO = Path(__file__).parents[2] / "testdata" / "engines" / "info"


def doc(name: str) -> object:
    return json.loads((INFO / name).read_text())


def test_every_fixture_is_listed_in_sources_and_every_listed_one_exists() -> None:
    listed = set(re.findall(r"^\| `([^`]+\.json)` \|", (INFO / "SOURCES.md").read_text(), re.M))
    assert listed == {p.name for p in INFO.glob("*.json")}
    assert len(listed) == 8


@pytest.mark.parametrize(("path", "fixture", "expected"), [
    ("/v1/models", "vllm-v1-models.json",
     Facts(model="meta-llama/Llama-3.1-8B-Instruct", max_model_len="32768")),
    ("/version", "vllm-version.json", Facts(version="0.11.0")),
    ("/info", "tgi-info.json", Facts(model="mistralai/Ministral-8B-Instruct-2410",
                                     max_model_len="32768", version="3.3.4")),
    ("/info", "tgi-2.0-info.json", Facts(model="bigscience/bloom-560m", dtype="float16",
                                         max_model_len="2048", version="2.0.4")),
    ("/props", "llamacpp-props.json",
     Facts(model="/models/qwen2.5-7b-instruct-q4_k_m.gguf", quantization="Q4_K - Medium",
           max_model_len="8192", version="b7100-1a2b3c4d")),
    ("/get_server_info", "sglang-get-server-info.json",
     Facts(model="qwen-32b", dtype="float16", quantization="awq_marlin",
           kv_cache_dtype="fp8_e5m2", tensor_parallel_size="2", pipeline_parallel_size="1",
           block_size="1", version="0.5.4")),
    ("/v1/version", "nim-v1-version.json", Facts(version="1.8.4")),
    ("/version", "trtllm-version.json", Facts(version="1.2.0rc1")),
])
def test_each_engines_info_answer(path: str, fixture: str, expected: Facts) -> None:
    assert from_endpoint(path, doc(fixture)) == expected


def test_vllm_config_info_families_and_the_endpoints_fill_only_the_gaps() -> None:
    page = (b'# TYPE vllm:cache_config_info gauge\n'
            b'vllm:cache_config_info{block_size="16",cache_dtype="fp8",num_gpu_blocks="2048",'
            b'enable_prefix_caching="True",engine="0"} 1.0\n'
            b'# TYPE vllm:model_config_info gauge\n'
            b'vllm:model_config_info{dtype="bfloat16",quantization="None",'
            b'max_model_len="8192"} 1.0\n')
    metrics = from_families(parse(page))
    assert metrics == Facts(dtype="bfloat16", kv_cache_dtype="fp8", max_model_len="8192",
                            block_size="16")
    merged = metrics.over(from_endpoint("/v1/models", doc("vllm-v1-models.json")))
    assert merged.max_model_len == "8192"  # the metric's word first
    assert merged.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert merged.quantization == ""  # "None" is not a quantization


def test_hostile_values_are_bounded_and_wrong_types_dropped() -> None:
    facts = from_endpoint("/get_server_info", {
        "served_model_name": "m" * 100_000, "dtype": {"nested": 1}, "tp_size": True,
        "pp_size": 2.0, "quantization": "fp8\x00\n", "version": ["0.5"]})
    assert len(facts.model) == FIELD_CHARS
    assert (facts.dtype, facts.tensor_parallel_size, facts.version) == ("", "", "")
    assert facts.pipeline_parallel_size == "2"
    assert facts.quantization == "fp8"
    with pytest.raises(ValueError, match="not a JSON object"):
        from_endpoint("/props", [1, 2])
    assert from_endpoint("/v1/models", {"data": "garbage"}) == Facts()


@pytest.mark.parametrize(("kind", "path", "keys"), [
    ("tgi", "/info", {"model", "max_model_len", "version"}),
    ("llamacpp", "/props", {"model", "max_model_len", "version"}),
    ("sglang", "/get_server_info", {"model", "dtype", "kv_cache_dtype", "tensor_parallel_size",
                                    "pipeline_parallel_size", "block_size", "version"}),
    ("vllm", "/v1/models", {"model", "max_model_len"}),
    ("vllm-nixl-decode", "/v1/models", {"model", "max_model_len"}),
])
def test_the_simulator_answers_in_the_shape_of_our_fixtures(kind: str, path: str,
                                                            keys: set[str]) -> None:
    sim = Simulation(kind)
    facts = from_endpoint(path, sim.extra(0.0)[path])
    said = {k for k, v in vars(facts).items() if v}
    assert said == keys
    assert facts.model == sim.model_name


def shape(value: object) -> object:
    """The keys and JSON types of a document (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "null" if value is None else type(value).__name__


@pytest.mark.parametrize(("kind", "path", "fixture"), [
    ("vllm", "/v1/models", "vllm-v1-models.json"),
    ("vllm", "/version", "vllm-version.json"),
    ("sglang", "/get_server_info", "sglang-get-server-info.json"),
    ("nim", "/v1/version", "nim-v1-version.json"),
    ("trtllm-serve", "/version", "trtllm-version.json"),
])
def test_the_simulator_answers_with_the_keys_and_types_of_the_engines_own_shape(
        kind: str, path: str, fixture: str) -> None:
    ours, theirs = shape(Simulation(kind).extra(0.0)[path]), shape(doc(fixture))
    if path == "/get_server_info":  # unset server arguments are null on one side or the other
        for side in (ours, theirs):
            for key in ("context_length", "quantization", "max_running_requests"):
                side[key] = "null|value"
    assert ours == theirs


def test_vllm_lora_cards_after_the_base_model_do_not_change_its_facts() -> None:
    models = doc("vllm-v1-models.json")
    assert [card["parent"] for card in models["data"]] == [None, models["data"][0]["id"]]
    assert from_endpoint("/v1/models", models).max_model_len == "32768"


def test_only_engines_whose_metrics_server_says_a_version_are_asked() -> None:
    """trtllm-serve's /version is on the app that serves /prometheus/metrics; Triton's version is
    on its HTTP port, not the metrics port, and LMDeploy's and Dynamo's servers have none
    (SOURCES.md, "Engines whose version is not asked")."""
    assert ENDPOINTS["trtllm"] == ("/version",)
    assert not {"triton", "lmdeploy", "dynamo"} & ENDPOINTS.keys()
    sources = (INFO / "SOURCES.md").read_text()
    for engine in ("**Triton**", "**LMDeploy**", "**Dynamo**"):
        assert engine in sources.split("## Engines whose version is not asked")[1]
