"""`kind: auto`: the engine kind from what a target serves (engines.md §9)."""

from __future__ import annotations

from inferwatch.exposition.parser import Family

# (prefixes, kind) in order: Triton first, since its vLLM backend also writes `vllm:`.
PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("nv_trt_llm_", "nv_inference_"), "triton"),
    (("vllm:", "ray_vllm:", "ray_vllm_", "vllm_"), "vllm"),
    (("sglang:",), "sglang"),
    (("tgi_",), "tgi"),
    (("trtllm_", "trtllm:"), "trtllm"),
    (("llamacpp:",), "llamacpp"),
    (("lmdeploy:",), "lmdeploy"),
)


UNPREFIXED = ("num_requests_running", "time_to_first_token_seconds",
              "e2e_request_latency_seconds", "request_success")


def _base(name: str) -> str:
    """A family name without the suffix an untyped sample keeps (no `# TYPE` line)."""
    for suffix in ("_total", "_sum", "_count", "_bucket"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def detect(families: dict[str, Family]) -> str | None:
    """The engine kind, or None when nothing known is served."""
    for prefixes, kind in PREFIXES:
        if any(name.startswith(prefixes) for name in families):
            return kind
    # Unprefixed names: TRT-LLM 1.0/1.1 label them with `engine_type`, NIM does not. TRT-LLM
    # 1.0 served only a few histograms and counters, without `num_requests_running`.
    unprefixed = [fam for name, fam in families.items() if _base(name) in UNPREFIXED]
    if any(k == "engine_type" for fam in unprefixed for _, labels, _ in fam.samples[:8]
           for k, _ in labels):
        return "trtllm"
    return "nim" if "num_requests_running" in families else None
