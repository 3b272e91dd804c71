"""The sleep and disaggregation panels (issue 14), evaluated by promtool on a worked example.

Four targets: one asleep (its rank's weights offloaded) with nothing running, one awake and
idle, one awake and busy, and one of an engine without sleep mode, idle: one engine asleep and
two idle, never the sleeping one counted as idle capacity. A prefill and a decode engine each
hold their own queues, and a decode engine's KV transfers fail at one a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from promtool_cases import expr, input_series, rules_test, run_promtool, samples

pytestmark = pytest.mark.ecosystem

SCRAPE = 'cluster="c", node="n", instance="10.0.0.1:9400", job="inferwatch"'
STATES = ("awake", "weights_offloaded", "discard_all")


def target(name: str, engine: str = "vllm", role: str = "both") -> str:
    return f'{SCRAPE}, engine="{engine}", target="{name}", model="m", role="{role}"'


def sleeping(name: str, state: str) -> list[tuple[str, str]]:
    return [(f'inferwatch_engine_sleep_state{{{target(name)}, state="{s}"}}',
             f"{float(s == state)}+0x10") for s in STATES]


def load(name: str, running: int, waiting: int, engine: str = "vllm") -> list[tuple[str, str]]:
    return [(f"inferwatch_engine_requests_running{{{target(name, engine)}}}", f"{running}+0x10"),
            (f"inferwatch_engine_requests_waiting{{{target(name, engine)}}}", f"{waiting}+0x10")]


def queue(name: str, role: str, queue: str, waiting: int) -> tuple[str, str]:
    return (f'inferwatch_engine_requests_waiting_by_queue{{{target(name, "sglang", role)}, '
            f'queue="{queue}"}}', f"{waiting}+0x10")


SERIES = [
    *sleeping("asleep", "weights_offloaded"), *load("asleep", 0, 0),
    *sleeping("idle", "awake"), *load("idle", 0, 0),
    *sleeping("busy", "awake"), *load("busy", 3, 1),
    *load("no-sleep-mode", 0, 0, engine="tgi"),
    queue("p1", "prefill", "scheduler", 2), queue("p1", "prefill", "prefill_prealloc", 3),
    queue("p2", "prefill", "scheduler", 1), queue("d1", "decode", "decode_transfer", 4),
    (f'inferwatch_engine_kv_transfer_failures_total{{{target("d1", "vllm", "decode")}, '
     'reason="transfer"}', "0+60x10"),
]


def cases() -> list[dict]:
    modes = "engines"
    return [
        {"expr": expr(modes, "Engines asleep"), "exp_samples": samples(("{}", 1.0))},
        {"expr": expr(modes, "Engines idle (awake)"), "exp_samples": samples(("{}", 2.0))},
        {"expr": expr(modes, "Ranks by sleep state"), "exp_samples": samples(
            ('{state="awake", engine="vllm", model="m"}', 2.0),
            ('{state="weights_offloaded", engine="vllm", model="m"}', 1.0),
            ('{state="discard_all", engine="vllm", model="m"}', 0.0))},
        {"expr": expr(modes, "Waiting by queue and role"), "exp_samples": samples(
            ('{role="prefill", queue="scheduler"}', 3.0),
            ('{role="prefill", queue="prefill_prealloc"}', 3.0),
            ('{role="decode", queue="decode_transfer"}', 4.0))},
        {"expr": expr(modes, "KV transfer failures"),
         "exp_samples": samples(('{role="decode", reason="transfer"}', 1.0))},
    ]


def test_a_sleeping_engine_is_not_an_idle_one(tmp_path: Path) -> None:
    result = run_promtool(rules_test(tmp_path, input_series(SERIES), cases()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_counting_the_sleeping_engine_as_idle_fails(tmp_path: Path) -> None:
    wrong = cases()
    wrong[1]["exp_samples"][0]["value"] = 3.0  # idle if asleep were idle
    result = run_promtool(rules_test(tmp_path, input_series(SERIES), wrong))
    assert result.returncode == 1 and "FAILED" in result.stdout + result.stderr
