"""The model-facts panels (issue 17), evaluated by promtool on a worked example.

Two deployments of one model in one namespace differ only in their facts (BF16 at TP 1, FP8 at
TP 2), so the cost recording rules' own (namespace, model) cannot tell them apart; the panels
join the per-pod series and must give each its own row. Pod `a` also serves a second model
that has no facts of its own: it takes its share of the pod's GPU cost (so the first model's
cost per token halves) and drops out of the rows. The engine panels join on the target: two
targets of the same model at different TP are two rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from promtool_cases import expr, input_series, rules_test, run_promtool, samples

pytestmark = pytest.mark.ecosystem

NS = 'namespace="inference"'
INFO = "inferwatch_engine_model_info"
BF16 = 'dtype="bfloat16", tensor_parallel_size="1"'
FP8 = 'dtype="bfloat16", quantization="fp8", tensor_parallel_size="2"'
# (series, constant value): what Prometheus holds with the pack's cost rules recorded.
POD_SERIES = [
    (f'{INFO}{{{NS}, pod="a", engine="vllm", target="a", model="llama", {BF16}, '
     'kv_cache_dtype="auto", block_size="16"}', 1),
    (f'{INFO}{{{NS}, pod="b", engine="vllm", target="b", model="llama", {FP8}, '
     'kv_cache_dtype="fp8"}', 1),
    (f'inferwatch:engine_tokens:rate1h{{{NS}, pod="a", model="llama"}}', 100),
    (f'inferwatch:engine_tokens:rate1h{{{NS}, pod="a", model="tiny"}}', 100),
    (f'inferwatch:engine_tokens:rate1h{{{NS}, pod="b", model="llama"}}', 200),
    (f'inferwatch:gpu_pod_cost_usd_per_hour:rate1h{{{NS}, pod="a", gpu="0", uuid="G0"}}', 3.6),
    (f'inferwatch:gpu_pod_cost_usd_per_hour:rate1h{{{NS}, pod="b", gpu="1", uuid="G1"}}', 3.6),
    (f'inferwatch:gpu_pod_cost_usd_per_hour:rate1h{{{NS}, pod="b", gpu="2", uuid="G2"}}', 3.6),
    (f'inferwatch:engine_tokens:rate5m{{{NS}, pod="a", model="llama"}}', 100),
    (f'inferwatch:engine_tokens:rate5m{{{NS}, pod="a", model="tiny"}}', 100),
    (f'inferwatch:engine_tokens:rate5m{{{NS}, pod="b", model="llama"}}', 200),
    (f'inferwatch:engine_power_watts:rate5m{{{NS}, pod="a", model="llama"}}', 200),
    (f'inferwatch:engine_power_watts:rate5m{{{NS}, pod="a", model="tiny"}}', 100),
    (f'inferwatch:engine_power_watts:rate5m{{{NS}, pod="b", model="llama"}}', 300),
]
# Two targets of one model: output tokens counters rising 600 a minute (10/s) and 1200 (20/s).
SCRAPE = 'cluster="c", node="n", instance="10.0.0.1:9400", job="inferwatch"'
TARGET_SERIES = [
    (f'{INFO}{{{SCRAPE}, engine="sglang", target="s1", model="qwen", {BF16}}}', "1+0x10"),
    (f'{INFO}{{{SCRAPE}, engine="sglang", target="s2", model="qwen", {FP8}}}', "1+0x10"),
    (f'inferwatch_engine_generation_tokens_total{{{SCRAPE}, engine="sglang", target="s1", '
     'model="qwen"}', "0+600x10"),
    (f'inferwatch_engine_generation_tokens_total{{{SCRAPE}, engine="sglang", target="s2", '
     'model="qwen"}', "0+1200x10"),
]


def cases() -> list[dict]:
    cost = "Cost per million tokens by model facts"
    joules = "Joules per token by model facts"
    both = samples((f'{{model="llama", {BF16}}}', 5.0), (f'{{model="llama", {FP8}}}', 10.0))
    return [
        # a: 3.6 $/h split half to llama (100 of 200 tok/s): 1.8 / 3600 * 1e6 / 100 = 5.
        # b: 7.2 $/h, all llama: 7.2 / 3600 * 1e6 / 200 = 10.
        {"expr": expr("cost", cost), "exp_samples": both},
        {"expr": expr("cost", cost, model="llama"), "exp_samples": both},
        {"expr": expr("cost", cost, quantization="fp8"),
         "exp_samples": samples((f'{{model="llama", {FP8}}}', 10.0))},
        {"expr": expr("cost", joules),
         "exp_samples": samples((f'{{model="llama", {BF16}}}', 2.0),
                                (f'{{model="llama", {FP8}}}', 1.5))},
        {"expr": expr("cost", "Energy and cost by model facts", "C"),
         "exp_samples": samples((f'{{model="llama", {BF16}}}', 100.0),
                                (f'{{model="llama", {FP8}}}', 200.0))},
        {"expr": expr("engines", "Output tokens per second by model facts"),
         "exp_samples": samples((f'{{model="qwen", {BF16}}}', 10.0),
                                (f'{{model="qwen", {FP8}}}', 20.0))},
        {"expr": expr("engines", "Output tokens per second by model facts",
                      tensor_parallel_size="2"),
         "exp_samples": samples((f'{{model="qwen", {FP8}}}', 20.0))},
    ]


def all_series() -> list[dict]:
    return (input_series((s, f"{v}+0x10") for s, v in POD_SERIES)
            + input_series(TARGET_SERIES))


def test_panels_by_model_facts_split_deployments_that_share_a_model(tmp_path: Path) -> None:
    result = run_promtool(rules_test(tmp_path, all_series(), cases()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_worked_example_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    wrong = cases()
    wrong[0]["exp_samples"][0]["value"] = 10.0  # what a join ignoring the second model gives
    result = run_promtool(rules_test(tmp_path, all_series(), wrong))
    assert result.returncode == 1 and "FAILED" in result.stdout + result.stderr
