"""One module per engine family; `KINDS` maps each `--kind` to its `Kind`."""

from __future__ import annotations

from exporter.simulate.kinds.base import Kind
from exporter.simulate.kinds.llamacpp import LLAMACPP
from exporter.simulate.kinds.lmdeploy import LMDEPLOY
from exporter.simulate.kinds.nim import NIM
from exporter.simulate.kinds.sglang import SGLANG
from exporter.simulate.kinds.tgi import TGI
from exporter.simulate.kinds.triton import TRITON, TRITON_TRTLLM
from exporter.simulate.kinds.trtllm_serve import TRTLLM_SERVE
from exporter.simulate.kinds.vllm import RAY_VLLM, VLLM
from exporter.simulate.kinds.vllm_v0 import VLLM_V0

KINDS: dict[str, Kind] = {k.name: k for k in (
    VLLM, VLLM_V0, SGLANG, TGI, TRITON, TRITON_TRTLLM, TRTLLM_SERVE, LLAMACPP, LMDEPLOY, NIM,
    RAY_VLLM)}
