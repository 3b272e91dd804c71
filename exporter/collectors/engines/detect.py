"""`kind: auto`: the engine kind from what a target serves (engines.md §9), and whether a page
matches a declared kind.

NVIDIA Dynamo comes before the engines its workers pass through (`dynamo_component_*` beside
`vllm:`/`sglang:`/`trtllm_` on one page); SGLang's model gateway (`/engine_metrics`) writes
`sglang_` for `sglang:`."""

from __future__ import annotations

from inferwatch.exposition.parser import Family

# (prefixes, kind) in order: Dynamo first (its workers pass an engine's names through), then
# Triton, since its vLLM backend also writes `vllm:`.
PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("dynamo_frontend_", "dynamo_component_"), "dynamo"),
    (("nv_trt_llm_", "nv_inference_"), "triton"),
    (("vllm:", "ray_vllm:", "ray_vllm_", "vllm_"), "vllm"),
    (("sglang:", "sglang_"), "sglang"),
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


def matches(families: dict[str, Family], kind: str) -> bool:
    """Whether a page carries the declared kind's own names (a Dynamo worker's page matches
    the engine it passes through as well as `dynamo`; Triton's vLLM backend matches `vllm`)."""
    prefixes = next((p for p, k in PREFIXES if k == kind), None)
    if prefixes is not None and any(name.startswith(prefixes) for name in families):
        return True
    if kind in ("trtllm", "nim"):
        return detect({n: f for n, f in families.items() if ":" not in n
                       and not n.startswith(("dynamo_", "nv_"))}) == kind
    return False
