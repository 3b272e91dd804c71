"""The speculative decoding, LoRA and waiting-reason panels (issue 14), evaluated by promtool on a
worked example.

Two vLLM targets of one model speculate: one drafts 3 tokens/s and has 1.5 accepted, the other
drafts 1 and has all of it accepted; the panel's rate is 2.5 / 4 = 0.625 (the mean of the two
targets' own rates, 0.75, would hide that most drafting happens where half is thrown away). A
TensorRT-LLM target publishes the counters at 0 (speculation off): no rate, not a NaN. Two
SGLang targets average acceptance lengths of 2 and 3. A LoRA target runs 2 adapters of at most
2 with 1 waiting; the two vLLM targets hold 3 + 1 requests for capacity and 2 deferred.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from promtool_cases import expr, input_series, rules_test, run_promtool, samples

pytestmark = pytest.mark.ecosystem

SCRAPE = 'cluster="c", node="n", instance="10.0.0.1:9400", job="inferwatch"'


def target(name: str, engine: str = "vllm", model: str = "m") -> str:
    return f'{SCRAPE}, engine="{engine}", target="{name}", model="{model}", role="both"'


def spec(name: str, drafted: int, accepted: int, engine: str = "vllm") -> list[tuple[str, str]]:
    """Counters growing by `drafted` and `accepted` tokens a minute."""
    return [(f"inferwatch_engine_spec_decode_draft_tokens_total{{{target(name, engine)}}}",
             f"0+{drafted}x10"),
            (f"inferwatch_engine_spec_decode_accepted_tokens_total{{{target(name, engine)}}}",
             f"0+{accepted}x10")]


def gauge(name: str, labels: str, value: float, extra: str = "") -> tuple[str, str]:
    return f"{name}{{{labels}{extra}}}", f"{value}+0x10"


SERIES = [
    *spec("a", 180, 90), *spec("b", 60, 60), *spec("off", 0, 0, engine="trtllm"),
    gauge("inferwatch_engine_spec_decode_accept_length", target("s1", "sglang", "m2"), 2.0),
    gauge("inferwatch_engine_spec_decode_accept_length", target("s2", "sglang", "m2"), 3.0),
    gauge("inferwatch_engine_lora_adapters", target("lora"), 2, ', state="running"'),
    gauge("inferwatch_engine_lora_adapters", target("lora"), 1, ', state="waiting"'),
    gauge("inferwatch_engine_lora_adapters_max", target("lora"), 2),
    gauge("inferwatch_engine_requests_waiting_by_reason", target("a"), 3, ', reason="capacity"'),
    gauge("inferwatch_engine_requests_waiting_by_reason", target("a"), 2, ', reason="deferred"'),
    gauge("inferwatch_engine_requests_waiting_by_reason", target("b"), 1, ', reason="capacity"'),
    gauge("inferwatch_engine_requests_waiting_by_reason", target("b"), 0, ', reason="deferred"'),
]
VLLM = '{engine="vllm", model="m"}'
TRTLLM = '{engine="trtllm", model="m"}'


def cases() -> list[dict]:
    board = "engines"
    return [
        {"expr": expr(board, "Speculative decoding acceptance rate"),
         "exp_samples": samples((VLLM, 0.625))},
        {"expr": expr(board, "Draft and accepted tokens / s"),
         "exp_samples": samples((VLLM, 4.0), (TRTLLM, 0.0))},
        {"expr": expr(board, "Draft and accepted tokens / s", "B"),
         "exp_samples": samples((VLLM, 2.5), (TRTLLM, 0.0))},
        {"expr": expr(board, "Mean acceptance length (engine's own)"),
         "exp_samples": samples(('{engine="sglang", model="m2"}', 2.5))},
        {"expr": expr(board, "LoRA adapters"), "exp_samples": samples(
            ('{target="lora", state="running"}', 2.0), ('{target="lora", state="waiting"}', 1.0))},
        {"expr": expr(board, "LoRA adapters", "B"),
         "exp_samples": samples(('{target="lora"}', 2.0))},
        {"expr": expr(board, "Requests waiting by reason"), "exp_samples": samples(
            ('{reason="capacity", engine="vllm", model="m"}', 4.0),
            ('{reason="deferred", engine="vllm", model="m"}', 2.0))},
    ]


def test_feature_panels_on_the_worked_example(tmp_path: Path) -> None:
    result = run_promtool(rules_test(tmp_path, input_series(SERIES), cases()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_mean_of_the_targets_rates_fails(tmp_path: Path) -> None:
    wrong = cases()
    wrong[0]["exp_samples"][0]["value"] = 0.75  # the mean of 0.5 and 1.0
    result = run_promtool(rules_test(tmp_path, input_series(SERIES), wrong))
    assert result.returncode == 1 and "FAILED" in result.stdout + result.stderr
