"""Per-target limits (exporter/collectors/engines/limits.py): each limit at its boundary (at
the limit accepted, one over refused), comment and blank lines not counted as samples, a
1 MiB label value refused through a real collector scrape with the refusal counted and
logged once in a short line, and per-target limits from the config over the defaults."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from inferwatch import catalog as c
from inferwatch.exporter.collectors.engines.collector import EngineCollector
from inferwatch.exporter.collectors.engines.limits import (
    LABEL_LIMIT,
    LABEL_NAME_LENGTH_LIMIT,
    LABEL_VALUE_LENGTH_LIMIT,
    SAMPLE_LIMIT,
    LimitExceeded,
    Limits,
)
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.config import EnginesCollectorConfig, EngineTarget
from inferwatch.exposition.parser import parse
from inferwatch.simulate.engines.sim import Simulation

LOG_MOST = 4096  # no log line longer than a few kB


def check(body: bytes, limits: Limits) -> None:
    """What the collector's worker thread does with a body (LimitExceeded when refused)."""
    limits.check_body(body)
    limits.check_families(parse(body), limits.label_checks_needed(body))


def refused(body: bytes, limits: Limits) -> str:
    with pytest.raises(LimitExceeded) as err:
        check(body, limits)
    return err.value.limit


def page(samples: int, comments: bool = False) -> bytes:
    head = b"# HELP vllm:x A gauge.\n# TYPE vllm:x gauge\n"
    lines = [b'vllm:x{i="%d"} 1' % i for i in range(samples)]
    if comments:  # as many comment and blank lines again: they are no samples
        lines = [x for line in lines for x in (line, b"# a comment", b"", b"  ")]
    return head + b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("comments", [False, True])
def test_sample_limit_boundary(comments) -> None:
    limits = Limits(sample_limit=1000)
    check(page(1000, comments), limits)
    assert refused(page(1001, comments), limits) == SAMPLE_LIMIT
    no_newline = page(1001, comments).rstrip(b"\n")
    assert refused(no_newline, limits) == SAMPLE_LIMIT
    check(page(5000), Limits(sample_limit=0))  # 0: no limit


def labelled(n: int) -> bytes:
    """One sample with n labels besides its name."""
    labels = ",".join(f'l{i}="v"' for i in range(n))
    return f"# TYPE vllm:x gauge\nvllm:x{{{labels}}} 1\n".encode()


def test_label_limit_counts_the_name_as_prometheus_does() -> None:
    limits = Limits(label_limit=10)
    check(labelled(9), limits)  # 9 labels + __name__ = 10
    assert refused(labelled(10), limits) == LABEL_LIMIT
    check(labelled(100), Limits(label_limit=0))


def test_label_name_length_limit_boundary() -> None:
    limits = Limits(label_name_length_limit=300)
    ok = b'vllm:x{%s="v"} 1\n' % (b"n" * 300)
    over = b'vllm:x{%s="v"} 1\n' % (b"n" * 301)
    check(ok, limits)
    assert refused(over, limits) == LABEL_NAME_LENGTH_LIMIT


def test_label_value_length_limit_boundary_and_the_metric_name() -> None:
    limits = Limits()  # the default: 2,048 characters
    assert limits.label_value_length_limit == 2048
    check(b'vllm:x{model_name="%s"} 1\n' % (b"m" * 2048), limits)
    assert refused(b'vllm:x{model_name="%s"} 1\n' % (b"m" * 2049), limits) == \
        LABEL_VALUE_LENGTH_LIMIT
    assert refused(b"vllm:%s 1\n" % (b"x" * 2049), limits) == LABEL_VALUE_LENGTH_LIMIT
    # escapes count once unescaped: 2,048 characters written as 4,096
    check(b'vllm:x{model_name="%s"} 1\n' % (b"\\\\" * 2048), limits)


def test_real_pages_fit_the_defaults() -> None:
    for kind in ("vllm", "sglang", "tgi", "triton", "trtllm-serve"):
        check(Simulation(kind).body(60.0), Limits())


def test_a_reason_quotes_at_most_50_characters() -> None:
    body = b'vllm:x{model_name="%s"} 1\n' % (b"m" * (1 << 20))
    with pytest.raises(LimitExceeded) as err:
        check(body, Limits())
    assert len(str(err.value)) < 300
    assert "1048576" in str(err.value)


async def test_a_1mib_label_value_is_refused_counted_and_logged_once(aiohttp_server,
                                                                    caplog) -> None:
    huge = "m" * (1 << 20)
    good = Simulation("vllm").body(60.0)
    typed = b"# TYPE vllm:num_requests_waiting gauge\n"
    assert typed in good
    state = {"body": good.replace(typed, typed + b'vllm:num_requests_waiting{model_name="%s"} 0\n'
                                  % huge.encode())}

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=state["body"], content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    url = str((await aiohttp_server(app, host="127.0.0.1")).make_url("/metrics"))
    collector = EngineCollector([Target("vllm", url)], timeout=2.0, clock=iter(
        range(0, 10_000, 100)).__next__)
    caplog.set_level(logging.DEBUG)
    try:
        runs = [await collector.collect() for _ in range(3)]
        state["body"] = good
        runs.append(await collector.collect())
    finally:
        await collector.aclose()

    def values(families, name):
        return [(s.labels, s.value) for f in families for s in f.samples if s.name == name]

    for n, families in enumerate(runs[:3], 1):
        assert [v for _, v in values(families, c.ENGINE_UP.name)] == [0.0]
        assert values(families, c.ENGINE_SCRAPE_LIMIT_EXCEEDED.name) == [
            ({"target": url, "limit": LABEL_VALUE_LENGTH_LIMIT, "role": "both"}, float(n))]
        assert not any(huge in v for f in families for s in f.samples
                       for v in s.labels.values())
    assert [v for _, v in values(runs[3], c.ENGINE_UP.name)] == [1.0]  # back under the limit
    assert values(runs[3], c.ENGINE_SCRAPE_LIMIT_EXCEEDED.name)[0][1] == 3.0
    down = [r for r in caplog.records if "down: label_value_length_limit" in r.getMessage()]
    assert len(down) == 1, [r.getMessage()[:200] for r in caplog.records]
    assert max(len(r.getMessage()) for r in caplog.records) < LOG_MOST


async def test_per_target_limits_from_the_config(aiohttp_server) -> None:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=Simulation("vllm").body(60.0), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/lenient", metrics)
    server = await aiohttp_server(app, host="127.0.0.1")
    strict, lenient = str(server.make_url("/metrics")), str(server.make_url("/lenient"))
    cfg = EnginesCollectorConfig(interval=5.0, sample_limit=10)
    engines = [EngineTarget(kind="vllm", url=strict),
               EngineTarget(kind="vllm", url=lenient, sample_limit=0)]
    collector = EngineCollector.from_config(cfg, engines)
    try:
        families = await collector.collect()
    finally:
        await collector.aclose()
    up = {s.labels["target"]: s.value for f in families for s in f.samples
          if s.name == c.ENGINE_UP.name}
    assert up == {strict: 0.0, lenient: 1.0}
    assert [s.labels["limit"] for f in families for s in f.samples
            if s.name == c.ENGINE_SCRAPE_LIMIT_EXCEEDED.name] == [SAMPLE_LIMIT]
