"""One module per engine family; `KINDS` maps each `--kind` to its `Kind`."""

from __future__ import annotations

from inferwatch.simulate.engines.kinds.base import Kind
from inferwatch.simulate.engines.kinds.dynamo import DYNAMO
from inferwatch.simulate.engines.kinds.llamacpp import LLAMACPP
from inferwatch.simulate.engines.kinds.lmdeploy import LMDEPLOY
from inferwatch.simulate.engines.kinds.nim import NIM
from inferwatch.simulate.engines.kinds.sglang import (
    SGLANG,
    SGLANG_DECODE,
    SGLANG_PREFILL,
    SGLANG_SPEC,
)
from inferwatch.simulate.engines.kinds.tgi import TGI
from inferwatch.simulate.engines.kinds.triton import TRITON, TRITON_TRTLLM
from inferwatch.simulate.engines.kinds.trtllm_serve import TRTLLM_SERVE
from inferwatch.simulate.engines.kinds.vllm import RAY_VLLM, VLLM, VLLM_NIXL
from inferwatch.simulate.engines.kinds.vllm_lora_spec import VLLM_LORA_SPEC
from inferwatch.simulate.engines.kinds.vllm_v0 import VLLM_V0

KINDS: dict[str, Kind] = {k.name: k for k in (
    VLLM, VLLM_V0, SGLANG, TGI, TRITON, TRITON_TRTLLM, TRTLLM_SERVE, LLAMACPP, LMDEPLOY, NIM,
    RAY_VLLM, DYNAMO, SGLANG_PREFILL, SGLANG_DECODE, VLLM_NIXL, VLLM_LORA_SPEC, SGLANG_SPEC)}
