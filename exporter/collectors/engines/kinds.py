"""Engine kinds: the mapping of each, and where its metrics are served."""

from __future__ import annotations

from inferwatch.exporter.collectors.engines.dynamo import DYNAMO
from inferwatch.exporter.collectors.engines.llamacpp import LLAMACPP
from inferwatch.exporter.collectors.engines.lmdeploy import LMDEPLOY
from inferwatch.exporter.collectors.engines.mapping import Mapping
from inferwatch.exporter.collectors.engines.nim import NIM
from inferwatch.exporter.collectors.engines.sglang import SGLANG
from inferwatch.exporter.collectors.engines.tgi import TGI
from inferwatch.exporter.collectors.engines.triton import TRITON
from inferwatch.exporter.collectors.engines.trtllm import TRTLLM
from inferwatch.exporter.collectors.engines.vllm import VLLM

AUTO = "auto"
MAPPINGS: dict[str, Mapping] = {m.engine: m for m in (
    VLLM, SGLANG, TGI, TRITON, TRTLLM, LLAMACPP, LMDEPLOY, NIM, DYNAMO)}
METRICS_PATHS: dict[str, tuple[str, ...]] = {
    "trtllm": ("/prometheus/metrics", "/metrics"),
    AUTO: ("/metrics", "/prometheus/metrics"),
}
DEFAULT_PATHS = ("/metrics",)


def metrics_paths(kind: str) -> tuple[str, ...]:
    """Paths to try, in order, for a target URL given without one."""
    return METRICS_PATHS.get(kind, DEFAULT_PATHS)
