"""The hostile-target suite as a 15-minute soak: skipped unless INFERWATCH_SOAK=1.

The same servers, exporter and per-scrape checks as test_hostile_targets.py (hostile.py), run
for INFERWATCH_SOAK_MINUTES (15) instead of a few scrapes, printing this process's RSS (the
exporter, in process, with the loopback engines and hostile servers beside it) at 1, 5 and 15
minutes and the scrape count. Every scrape must carry every target's `up`, every hostile
target down, nothing native and few series; the healthy targets must be up in at least
LEAST_UP of the scrapes, not in every one: engines every 1 s with a 0.9 s timeout, on a
shared machine a healthy target's scrape can time out while the process parses the hostile
bodies (their parsing holds the GIL), and the count of such scrapes is printed. Run it with
`-s` to see the figures:

    INFERWATCH_SOAK=1 python -m pytest -s -q tests/exporter/engines/test_hostile_soak.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest

from inferwatch.exporter.app import Hardening, make_app, start_server
from inferwatch.exporter.main import build_loop
from tests.exporter.engines.hostile import check_logs, check_records, rss_mb, scrape_rounds
from tests.exporter.engines.test_hostile_targets import exporter_config, servers  # noqa: F401 (a fixture)

MINUTES = float(os.environ.get("INFERWATCH_SOAK_MINUTES", "15"))
MARKS = (1, 5, 15)  # minutes at which RSS is printed
LEAST_UP = 0.99  # of the scrapes with every healthy target up

pytestmark = pytest.mark.skipif(os.environ.get("INFERWATCH_SOAK") != "1",
                                reason="the 15-minute soak runs with INFERWATCH_SOAK=1")


@pytest.mark.timeout(MINUTES * 60 + 120)
async def test_soak(servers, caplog) -> None:  # noqa: F811 (the fixture)
    healthy, bad = servers
    caplog.set_level(logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the servers' own lines

    def logs_checked(_found) -> None:  # the records checked as they come, then dropped
        check_records(caplog.records)
        caplog.clear()

    loop = build_loop(exporter_config(healthy, list(bad.values()), interval=1.0, timeout=0.9))
    runner, site = await start_server(make_app(loop), "127.0.0.1", 0, None, Hardening())
    url = f"http://127.0.0.1:{site.port}/metrics"
    start = time.monotonic()
    rss: dict[float, float] = {0: rss_mb()}
    scrapes = all_up = 0
    try:
        for mark in [m for m in MARKS if m < MINUTES] + [MINUTES]:
            done, up = await scrape_rounds(loop, url, healthy, list(bad.values()),
                                           until=start + mark * 60, each=logs_checked,
                                           strict=False)
            scrapes, all_up = scrapes + done, all_up + up
            rss[mark] = rss_mb()
            print(f"soak minute {mark:g}: RSS {rss[mark]:.0f} MB, {scrapes} scrapes, both "
                  f"healthy targets up in {all_up}", flush=True)
    finally:
        await runner.cleanup()
        logging.getLogger("aiohttp.access").setLevel(logging.NOTSET)
    await asyncio.sleep(0)
    assert scrapes > 0
    assert all_up >= LEAST_UP * scrapes, (all_up, scrapes)
    await check_logs(caplog.records)
