"""What an engine says about the model it serves (dtype, quantization, KV-cache dtype,
parallelism, context length, block size, version), from its config-info metric families and
from its info endpoints: vLLM `/v1/models` and `/version`, TGI `/info`, llama.cpp `/props`,
SGLang `/get_server_info`, NIM `/v1/version`, trtllm-serve `/version` (shapes in
tests/testdata/engines/info/SOURCES.md). Only endpoints of the server that serves the metrics
are asked: Triton's server metadata is on its HTTP port, not the metrics port; LMDeploy's
api_server and Dynamo's frontend and system server answer no version (their source, cited in
SOURCES.md); none of the three publishes a version family.

A value the engine does not say stays "" (never guessed); values the engines write for
"unset" (`None`, `null`, `auto` is kept: it is what the engine says) are dropped; every value
is clipped to FIELD_CHARS printable characters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from inferwatch.exposition.parser import Family

FIELD_CHARS = 256
UNSET = {"", "none", "null", "undefined"}
FACTS = ("model", "dtype", "quantization", "kv_cache_dtype", "tensor_parallel_size",
         "pipeline_parallel_size", "max_model_len", "block_size", "version")

# the label names of config-info families (vLLM `*_config_info`, trtllm-serve's, SGLang's)
LABELS = {"dtype": ("dtype", "model_dtype"), "quantization": ("quantization",),
          "kv_cache_dtype": ("cache_dtype", "kv_cache_dtype"),
          "tensor_parallel_size": ("tensor_parallel_size", "tp_size"),
          "pipeline_parallel_size": ("pipeline_parallel_size", "pp_size"),
          "max_model_len": ("max_model_len",), "block_size": ("block_size", "page_size")}

# per engine kind: the info endpoints, asked in this order
ENDPOINTS = {"vllm": ("/v1/models", "/version"), "tgi": ("/info",), "llamacpp": ("/props",),
             "sglang": ("/get_server_info",), "nim": ("/v1/version",), "trtllm": ("/version",)}


@dataclass(frozen=True)
class Facts:
    """One target's model facts; "" where the engine does not say."""

    model: str = ""
    dtype: str = ""
    quantization: str = ""
    kv_cache_dtype: str = ""
    tensor_parallel_size: str = ""
    pipeline_parallel_size: str = ""
    max_model_len: str = ""
    block_size: str = ""
    version: str = ""

    def over(self, other: Facts) -> Facts:
        """These facts, with `other`'s where these have none."""
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(self)
                                if not getattr(self, f.name)})


def clean(value: Any) -> str:
    """A JSON or label value as a fact: strings and integers only, "" for unset."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, str | int):
        return ""
    text = "".join(c for c in str(value)[:FIELD_CHARS] if c.isprintable())
    return "" if text.strip().lower() in UNSET else text


def from_families(families: dict[str, Family]) -> Facts:
    """Facts from every `*config_info` family of a page (the first series saying each)."""
    found: dict[str, str] = {}
    for name, fam in families.items():
        if not name.endswith("config_info"):
            continue
        for _sample, pairs, _value in fam.samples:
            labels = dict(pairs)
            for fact, names in LABELS.items():
                for label in names:
                    if fact not in found and clean(labels.get(label)):
                        found[fact] = clean(labels[label])
    return Facts(**found)


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _vllm_models(doc: Any) -> Facts:
    data = _get(doc, "data")
    first = data[0] if isinstance(data, list) and data else None
    return Facts(model=clean(_get(first, "id")), max_model_len=clean(_get(first, "max_model_len")))


def _version(doc: Any) -> Facts:
    """vLLM's and trtllm-serve's `/version`: `{"version": <the package's __version__>}`."""
    return Facts(version=clean(_get(doc, "version")))


def _tgi(doc: Any) -> Facts:
    dtype = clean(_get(doc, "model_dtype")).removeprefix("torch.")  # TGI before 2.2
    return Facts(model=clean(_get(doc, "model_id")), dtype=dtype,
                 max_model_len=clean(_get(doc, "max_total_tokens")),
                 version=clean(_get(doc, "version")))


def _llamacpp(doc: Any) -> Facts:
    return Facts(model=clean(_get(doc, "model_alias")) or clean(_get(doc, "model_path")),
                 quantization=clean(_get(doc, "model_ftype")),
                 max_model_len=clean(_get(doc, "default_generation_settings", "n_ctx")),
                 version=clean(_get(doc, "build_info")))


def _sglang(doc: Any) -> Facts:
    served = _get(doc, "served_model_name")
    return Facts(model=clean(served) or clean(_get(doc, "model_path")),
                 dtype=clean(_get(doc, "dtype")), quantization=clean(_get(doc, "quantization")),
                 kv_cache_dtype=clean(_get(doc, "kv_cache_dtype")),
                 tensor_parallel_size=clean(_get(doc, "tp_size")),
                 pipeline_parallel_size=clean(_get(doc, "pp_size")),
                 max_model_len=clean(_get(doc, "context_length")),
                 block_size=clean(_get(doc, "page_size")), version=clean(_get(doc, "version")))


def _nim_version(doc: Any) -> Facts:
    """NIM's `{"release": product release, "api": server API version}`: the release."""
    return Facts(version=clean(_get(doc, "release")))


PARSERS = {"/v1/models": _vllm_models, "/version": _version, "/info": _tgi,
           "/props": _llamacpp, "/get_server_info": _sglang, "/v1/version": _nim_version}


def from_endpoint(path: str, doc: Any) -> Facts:
    """Facts from one info endpoint's JSON document; ValueError when it is not an object."""
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a JSON object")
    return PARSERS[path](doc)
