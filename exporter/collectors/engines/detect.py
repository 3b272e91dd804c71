"""`kind: auto`: the engine kind from what a target serves (engines.md §9)."""

from __future__ import annotations

from exporter.collectors.engines.parser import Family

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


def detect(families: dict[str, Family]) -> str | None:
    """The engine kind, or None when nothing known is served."""
    for prefixes, kind in PREFIXES:
        if any(name.startswith(prefixes) for name in families):
            return kind
    running = families.get("num_requests_running")
    if running is None:
        return None
    # Unprefixed names: TRT-LLM 1.0/1.1 label them with `engine_type`, NIM does not.
    if any(k == "engine_type" for _, labels, _ in running.samples for k, _ in labels):
        return "trtllm"
    return "nim"
