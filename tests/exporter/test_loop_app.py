"""The loop and the HTTP app: snapshots, timeouts, failures, content negotiation, health."""

from __future__ import annotations

import asyncio
import gzip
import threading

from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog
from inferwatch.exporter.app import make_app, wants_gzip
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.loop import CollectorLoop, build_labels


class Steady:
    """Reports one GPU temperature sample per run, counting its runs."""

    def __init__(self, name="steady", interval=0.05, timeout=1.0):
        self.name, self.interval, self.timeout = name, interval, timeout
        self.runs = 0
        self.closed = False

    def collect(self):
        self.runs += 1
        fam = catalog.GPU_TEMPERATURE.family()
        fam.add_metric(["0", "GPU-a"], 40 + self.runs)
        return [fam]

    def close(self):
        self.closed = True


class Hanging:
    """Blocks in its worker thread until released, as a wedged driver call would."""

    def __init__(self, timeout=0.1):
        self.name, self.interval, self.timeout = "hanging", 0.05, timeout
        self.release = threading.Event()
        self.calls = 0

    def collect(self):
        self.calls += 1
        self.release.wait(10)
        return []

    def close(self):
        self.release.set()


class Failing:
    name, interval, timeout = "failing", 0.05, 1.0

    def collect(self):
        up = catalog.GPU_UP.family()
        up.add_metric(["0", "GPU-a"], 0)
        raise CollectorFailed("driver gone", [up])

    def close(self):
        pass


def parse(text: bytes) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text.decode())}


def sample(families, name, **labels):
    for fams in families.values():
        for s in fams:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def test_hanging_collector_times_out_and_never_piles_up():
    hanging, steady = Hanging(timeout=0.1), Steady()
    loop = CollectorLoop([hanging, steady], build_labels)
    await loop.run_once(hanging)
    await loop.run_once(hanging)  # the first call is still stuck: no second thread
    await loop.run_once(steady)
    assert hanging.calls == 1
    assert loop.states["hanging"].up is False
    assert "still in progress" in loop.states["hanging"].error
    assert loop.states["steady"].up is True
    hanging.release.set()


async def test_failed_collector_reports_what_it_can_and_the_rest_goes_on():
    failing, steady = Failing(), Steady()
    loop = CollectorLoop([failing, steady], build_labels)
    await loop.start()
    await asyncio.wait_for(loop.first_round.wait(), 5)
    for _ in range(250):  # until a snapshot holds both collectors' second runs
        fams = parse(loop.snapshot.text)
        if min(loop.states["failing"].runs, loop.states["steady"].runs) > 1 and \
                sample(fams, catalog.GPU_TEMPERATURE.name, gpu="0"):
            break
        await asyncio.sleep(0.02)
    await loop.stop()
    assert sample(fams, catalog.COLLECTOR_UP.name, collector="failing") == 0
    assert sample(fams, catalog.COLLECTOR_UP.name, collector="steady") == 1
    assert sample(fams, catalog.GPU_UP.name, gpu="0") == 0
    assert sample(fams, catalog.GPU_TEMPERATURE.name, gpu="0") > 40
    assert sample(fams, catalog.COLLECTOR_LAST_SUCCESS.name, collector="failing") is None
    assert sample(fams, catalog.COLLECTOR_LAST_SUCCESS.name, collector="steady") > 1.7e9
    assert sample(fams, catalog.BUILD_INFO.name) == 1
    assert steady.closed


async def test_crashing_collector_is_isolated():
    class Crashing(Steady):
        def collect(self):
            raise ZeroDivisionError("bug")

    crashing = Crashing(name="crashing")
    loop = CollectorLoop([crashing], build_labels)
    await loop.run_once(crashing)
    assert loop.states["crashing"].up is False
    assert "ZeroDivisionError" in loop.states["crashing"].error


async def test_metrics_serves_the_snapshot_in_each_format(aiohttp_client):
    steady = Steady()
    loop = CollectorLoop([steady], build_labels)
    client = await aiohttp_client(make_app(loop))
    await asyncio.wait_for(loop.first_round.wait(), 5)

    plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    body = await plain.read()
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "Content-Encoding" not in plain.headers
    assert sample(parse(body), catalog.GPU_TEMPERATURE.name, uuid="GPU-a") > 40

    zipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"},
                              auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await zipped.read()).startswith(b"# HELP")

    om = await client.get("/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
    text = await om.text()
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    assert "# UNIT inferwatch_gpu_temperature_celsius celsius" in text


async def test_scrapes_do_not_wait_on_a_hanging_collector(aiohttp_client):
    hanging = Hanging(timeout=5)
    loop = CollectorLoop([hanging], build_labels)
    client = await aiohttp_client(make_app(loop))
    resp = await asyncio.wait_for(client.get("/metrics"), 1)
    assert resp.status == 200
    assert (await client.get("/readyz")).status == 503
    assert (await client.get("/healthz")).status == 200
    hanging.release.set()


async def test_ready_after_first_round_and_landing_page(aiohttp_client):
    loop = CollectorLoop([Steady()], build_labels)
    client = await aiohttp_client(make_app(loop))
    await asyncio.wait_for(loop.first_round.wait(), 5)
    assert (await client.get("/readyz")).status == 200
    page = await (await client.get("/")).text()
    assert 'href="metrics"' in page and 'href="healthz"' in page


def test_accept_encoding_parsing():
    assert wants_gzip("gzip")
    assert wants_gzip("br, GZIP;q=0.5")
    assert not wants_gzip("gzip;q=0")
    assert not wants_gzip("identity")
    assert not wants_gzip("")


async def test_only_the_forms_scrapers_asked_for_are_prerendered(aiohttp_client):
    steady = Steady(interval=0.02)
    loop = CollectorLoop([steady], build_labels)
    client = await aiohttp_client(make_app(loop))
    await asyncio.wait_for(loop.first_round.wait(), 5)
    assert loop.snapshot.rendered() == set()
    await client.get("/metrics", headers={"Accept": "application/openmetrics-text",
                                          "Accept-Encoding": "gzip"})
    first = loop.snapshot
    for _ in range(100):
        await asyncio.sleep(0.02)
        if loop.snapshot is not first:
            break
    assert loop.snapshot is not first
    # gzip is made from the plain form; plain text is never rendered
    assert loop.snapshot.rendered() == {(True, False), (True, True)}
