"""Newer SGLang (observability/metrics_collector.py at 016d8605) writes the KV-transfer size and
speed as histograms, observed per transfer in MiB and GiB/s (req_time_stats.py): the size's
`_sum` is the bytes moved, the speed's `_sum` over `_count` (pooled over DP ranks) its mean.
Expected values come from the fixture's native samples (tests/testdata/engines/SOURCES.md)."""

from __future__ import annotations

import pytest

from inferwatch import catalog as c
from tests.exporter.engines.test_own_fixtures import load, native, value

MODEL = "Qwen/Qwen3-32B"


def test_newer_sglang_transfer_size_is_bytes_moved_and_speed_the_pooled_mean() -> None:
    families, norm = load("sglang-pd-prefill-transfer-size")
    moved_mib = native(families, "sglang:kv_transfer_total_mb_sum")
    assert moved_mib > 0
    assert value(norm, c.ENGINE_KV_TRANSFER_BYTES, MODEL) == moved_mib * 2**20
    speed_sum = native(families, "sglang:kv_transfer_speed_gb_s_sum")
    speed_count = native(families, "sglang:kv_transfer_speed_gb_s_count")
    per_rank = [native(families, f"sglang:kv_transfer_speed_gb_s_{s}", dp_rank=r)
                for r in ("0", "1") for s in ("sum", "count")]
    mean_of_means = (per_rank[0] / per_rank[1] + per_rank[2] / per_rank[3]) / 2
    pooled = speed_sum / speed_count
    assert pooled != pytest.approx(mean_of_means)  # the fixture tells the two apart
    assert value(norm, c.ENGINE_KV_TRANSFER_SPEED, MODEL) == pytest.approx(pooled * 2**30)
    assert norm.unmapped == []


def test_the_speed_gauge_of_older_builds_is_still_read_as_a_gauge() -> None:
    """The histogram source is only the fallback: a build with the gauge keeps its reading."""
    families, norm = load("sglang-pd-prefill")
    gauge = [v for _, pairs, v in families["sglang:kv_transfer_speed_gb_s"].samples
             if dict(pairs).get("tp_rank", "0") == "0"]
    assert gauge and (c.ENGINE_KV_TRANSFER_BYTES not in norm.values
                      or not norm.values[c.ENGINE_KV_TRANSFER_BYTES])
    model = next(iter(norm.values[c.ENGINE_KV_TRANSFER_SPEED]))
    assert value(norm, c.ENGINE_KV_TRANSFER_SPEED, *model) == pytest.approx(
        sum(gauge) / len(gauge) * 1e9)
