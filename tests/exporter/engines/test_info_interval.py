"""The info endpoints' own interval (`collectors.engines.info_interval`: default 5 minutes,
10s to 1d, a bad value named by file and field, exit 2), kept by EngineCollector on its clock;
and a target removed by discovery forgets its info state and page facts (fetched afresh when
it comes back, nothing kept for it meanwhile)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from aiohttp import web

from inferwatch import catalog as c
from inferwatch.core.config import ConfigError
from inferwatch.exporter.collectors.engines.collector import EngineCollector
from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.config import load_config
from inferwatch.simulate.engines.sim import Simulation
from tests.support.procs import PYTHON


class Engine:
    """A simulated SGLang engine counting the fetches of its /get_server_info."""

    def __init__(self) -> None:
        self.sim, self.fetches = Simulation("sglang"), 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _metrics(self, _req: web.Request) -> web.Response:
        return web.Response(body=self.sim.body(1.0), content_type="text/plain")

    async def _info(self, _req: web.Request) -> web.Response:
        self.fetches += 1
        return web.json_response(self.sim.extra(1.0)["/get_server_info"])

    async def start(self) -> Engine:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/get_server_info", self._info)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/metrics"
        return self

    async def wait_fetches(self, n: int) -> None:
        for _ in range(100):  # bounded: 5 s
            if self.fetches >= n:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.fetches} fetches, wanted {n}")


def write(tmp_path, value: str):
    f = tmp_path / "exporter.yml"
    f.write_text(f"exporter:\n  collectors:\n    engines:\n      info_interval: {value}\n")
    return f


def test_info_interval_defaults_to_five_minutes_and_is_read_from_the_file(tmp_path) -> None:
    assert load_config(None).exporter.collectors.engines.info_interval == 300.0
    cfg = load_config(write(tmp_path, "1m")).exporter
    assert cfg.collectors.engines.info_interval == 60.0
    collector = EngineCollector.from_config(cfg.collectors.engines, cfg.engines)
    assert collector._info.interval == 60.0


@pytest.mark.parametrize(("value", "says"), [
    ("5s", "greater than or equal to 10"), ("2d", "less than or equal to 86400"),
    ("soon", "'soon' is not a duration")])
def test_a_bad_info_interval_is_named_by_file_and_field(tmp_path, value: str, says: str) -> None:
    f = write(tmp_path, value)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert problem.startswith(f"{f}: exporter.collectors.engines.info_interval: "), problem
    assert says in problem


def test_check_config_with_a_bad_info_interval_exits_2_without_traceback(tmp_path) -> None:
    f = write(tmp_path, "1s")
    run = subprocess.run([PYTHON, "-m", "inferwatch.cli", "check-config", str(f)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert f"{f}: exporter.collectors.engines.info_interval: " in run.stderr
    assert "Traceback" not in run.stderr


async def test_info_endpoints_are_fetched_again_only_after_the_info_interval() -> None:
    engine = await Engine().start()
    now = [1000.0]
    collector = EngineCollector([Target("sglang", engine.url)], interval=1.0, timeout=1.0,
                                clock=lambda: now[0], info_interval=60.0)
    try:
        await collector.collect()
        await engine.wait_fetches(1)
        for step in (1.0, 30.0, 58.0):  # scrapes are due, the info endpoints are not
            now[0] = 1000.0 + step
            await collector.collect()
        await asyncio.sleep(0.2)  # a wrongly started fetch would have answered by now
        assert engine.fetches == 1
        now[0] = 1061.0
        await collector.collect()
        await engine.wait_fetches(2)
        assert engine.fetches == 2
    finally:
        await collector.aclose()
        await engine.runner.cleanup()


def info_targets(families) -> set[str]:
    return {s.labels["target"] for f in families for s in f.samples
            if s.name == c.ENGINE_MODEL_INFO.name}


async def test_a_target_removed_by_discovery_forgets_its_info_and_page_facts() -> None:
    engines = [await Engine().start(), await Engine().start()]
    found = [Target("sglang", e.url) for e in engines]
    collector = EngineCollector([], interval=0.01, timeout=1.0, discovered=lambda: found,
                                info_interval=300.0)
    try:
        await collector.collect()
        for e in engines:
            await e.wait_fetches(1)
        assert info_targets(await collector.collect()) == {e.url for e in engines}
        gone = found.pop()
        families = await collector.collect()
        assert info_targets(families) == {engines[0].url}
        assert set(collector._info.states) == set(collector._page_facts) == {found[0]}
        found.append(gone)  # back within the 300 s: fetched afresh, not left for 5 minutes
        await collector.collect()
        await engines[1].wait_fetches(2)
        assert engines[0].fetches == 1
    finally:
        await collector.aclose()
        for e in engines:
            await e.runner.cleanup()
