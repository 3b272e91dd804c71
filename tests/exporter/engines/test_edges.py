"""Edges of the normaliser that no fixture pinned (issue 14): a KV usage of exactly 1.0 kept,
ranks with and without a known capacity, a negative derived finished count clamped to 0, a
bucket above `_count` capped at it, and two native names renaming to one."""

from __future__ import annotations

import pytest

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.kinds import MAPPINGS
from inferwatch.exporter.collectors.engines.normalise import normalise
from inferwatch.exporter.collectors.engines.rebucket import rebucket
from inferwatch.exposition.parser import parse

M = 'model_name="m"'


def vllm(lines: str):
    return normalise(parse(lines.encode()), MAPPINGS["vllm"]).values


def info(engine: int, blocks: int) -> str:
    return (f'vllm:cache_config_info{{block_size="16",engine="{engine}",'
            f'num_gpu_blocks="{blocks}"}} 1\n')


def test_a_kv_usage_of_exactly_one_is_kept() -> None:
    values = vllm(f"# TYPE vllm:kv_cache_usage_perc gauge\n"
                  f'vllm:kv_cache_usage_perc{{engine="0",{M}}} 1.0\n')
    assert values[c.ENGINE_KV_CACHE_USAGE][("m",)] == 1.0


def test_usage_is_capacity_weighted_when_every_rank_has_one_else_the_plain_mean() -> None:
    usage = (f"# TYPE vllm:kv_cache_usage_perc gauge\n"
             f'vllm:kv_cache_usage_perc{{engine="0",{M}}} 0.9\n'
             f'vllm:kv_cache_usage_perc{{engine="1",{M}}} 0.1\n'
             "# TYPE vllm:cache_config_info gauge\n")
    both = vllm(usage + info(0, 3000) + info(1, 1000))
    assert both[c.ENGINE_KV_CACHE_USAGE][("m",)] == pytest.approx((0.9 * 3 + 0.1) / 4)
    one = vllm(usage + info(0, 3000))  # rank 1's capacity unknown
    assert one[c.ENGINE_KV_CACHE_USAGE][("m",)] == pytest.approx(0.5)


def test_a_negative_derived_finished_count_is_clamped() -> None:
    # SGLang finished = total - aborted (other) + aborted (abort); a reset total goes below
    text = ('# TYPE sglang:num_requests_total counter\n'
            f'sglang:num_requests_total{{{M}}} 3\n'
            '# TYPE sglang:num_aborted_requests_total counter\n'
            f'sglang:num_aborted_requests_total{{{M}}} 5\n')
    values = normalise(parse(text.encode()), MAPPINGS["sglang"]).values
    finished = values[c.ENGINE_REQUESTS_FINISHED]
    assert finished[("m", "other")] == 0.0
    assert finished[("m", "abort")] == 5.0


def test_a_bucket_above_count_is_capped() -> None:
    assert rebucket([(0.1, 4.0), (1.0, 12.0), (float("inf"), 10.0)], 10.0, (0.1, 1.0, 5.0)) \
        == [4.0, 10.0, 10.0]


def test_two_names_renaming_to_one_keep_the_first() -> None:
    # Ray's `ray_vllm_x` and OpenTelemetry's `vllm_x` both read as `vllm:x`
    text = ("# TYPE ray_vllm_num_requests_running gauge\n"
            f"ray_vllm_num_requests_running{{{M}}} 7\n"
            "# TYPE vllm_num_requests_running gauge\n"
            f"vllm_num_requests_running{{{M}}} 2\n")
    values = vllm(text)
    assert values[c.ENGINE_REQUESTS_RUNNING] == {("m",): 7.0}  # the first on the page, alone
