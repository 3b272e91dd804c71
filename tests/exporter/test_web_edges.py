"""The exporter's web server at its edges: /readyz with several collectors (one failing, one
slow, one timing out; on the real command, the enabled collectors only, an engine target
hanging), and basic auth's cost for an unknown user (one bcrypt check against a
hash of the users' cost, as exporter-toolkit's dummy check, so timing does not tell which
users exist). mTLS beside node_exporter is in test_web_mtls.py."""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import urllib.request

import bcrypt
import pytest

from inferwatch import catalog
from inferwatch.core.webconfig import BasicAuth, WebConfig
from inferwatch.exporter.app import make_app
from inferwatch.exporter.collectors.base import CollectorFailed
from inferwatch.exporter.loop import CollectorLoop, build_labels
from tests.support.procs import PYTHON, free_port, wait_http


class Quick:
    """Answers at once with one sample."""

    def __init__(self, name: str, interval: float = 0.05):
        self.name, self.interval, self.timeout = name, interval, 1.0

    async def collect(self):
        fam = catalog.GPU_TEMPERATURE.family()
        fam.add_metric(["0", "GPU-a"], 40)
        return [fam]

    def close(self):
        pass


class Broken(Quick):
    """Fails every run."""

    async def collect(self):
        raise CollectorFailed("device gone")


class Gated(Quick):
    """Each run waits until the test opens the gate (then closes it again)."""

    def __init__(self, name: str, timeout: float = 30.0):
        super().__init__(name)
        self.timeout = timeout
        self.gate = asyncio.Event()

    async def collect(self):
        await self.gate.wait()
        self.gate.clear()
        return []


async def until(condition, what: str) -> None:
    for _ in range(200):  # bounded: 10 s
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def collector_up(text: str) -> dict[str, str]:
    prefix = catalog.COLLECTOR_UP.name + '{collector="'
    return dict(line[len(prefix):].split('"} ') for line in text.splitlines()
                if line.startswith(prefix))


async def test_ready_only_once_every_collector_has_run_once_a_failing_one_included(
        aiohttp_client) -> None:
    quick, broken, gated = Quick("quick"), Broken("broken"), Gated("gated")
    loop = CollectorLoop([quick, broken, gated], build_labels)
    client = await aiohttp_client(make_app(loop))
    await until(lambda: loop.states["quick"].runs and loop.states["broken"].runs,
                "the quick and the broken collector ran")
    resp = await client.get("/readyz")
    assert (resp.status, await resp.text()) == \
        (503, "collectors have not finished their first run\n")
    await until(lambda: "broken" in collector_up(loop.snapshot.body(False, False).decode()),
                "a snapshot with the finished collectors")
    assert collector_up(loop.snapshot.body(False, False).decode()) == \
        {"quick": "1.0", "broken": "0.0"}  # the one still in its first run is not reported
    gated.gate.set()
    await asyncio.wait_for(loop.first_round.wait(), 10)
    resp = await client.get("/readyz")
    assert (resp.status, await resp.text()) == (200, "ready\n")  # though `broken` failed
    text = await (await client.get("/metrics")).text()
    assert collector_up(text) == {"quick": "1.0", "broken": "0.0", "gated": "1.0"}
    runs = loop.states["gated"].runs  # its next run waits again: ready is not taken back
    await until(lambda: loop.states["quick"].runs > 3, "more rounds of the others")
    assert loop.states["gated"].runs == runs
    assert (await client.get("/readyz")).status == 200


async def test_a_collector_timing_out_in_its_first_run_counts_as_finished(aiohttp_client) -> None:
    hanging = Gated("hanging", timeout=0.3)  # never opened: its first run times out
    loop = CollectorLoop([Quick("quick"), hanging], build_labels)
    client = await aiohttp_client(make_app(loop))
    assert (await client.get("/readyz")).status == 503
    await asyncio.wait_for(loop.first_round.wait(), 10)
    assert (await client.get("/readyz")).status == 200
    assert collector_up(await (await client.get("/metrics")).text()) == \
        {"quick": "1.0", "hanging": "0.0"}
    assert loop.states["hanging"].error == "timed out after 0.3s"


def test_the_real_command_is_ready_with_its_enabled_collectors_an_engine_hanging() -> None:
    with socket.socket() as hang:  # accepts connections (backlog), never answers
        hang.bind(("127.0.0.1", 0))
        hang.listen(8)
        engine = f"http://127.0.0.1:{hang.getsockname()[1]}/metrics"
        port = free_port()
        proc = subprocess.Popen(
            [PYTHON, "-m", "inferwatch.cli", "exporter", "--simulate-gpus", "1",
             "--no-collector.host", "--no-collector.diskstats", "--no-collector.mdadm",
             "--engine", f"vllm={engine}", "--web.listen-address", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_http(f"http://127.0.0.1:{port}/readyz", timeout=20) == b"ready\n"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert collector_up(text) == {"gpu": "1.0", "engines": "1.0"}  # disabled ones not awaited
    assert (f'inferwatch_engine_up{{engine="vllm",model="",role="both",target="{engine}"}} 0.0'
            in text.splitlines())  # timed out within the engines collector's first run


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def checks(monkeypatch) -> list[bytes]:
    """Every bcrypt.checkpw the code makes, by the hash it checks against."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counted(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counted)
    return calls


async def test_an_unknown_user_costs_one_bcrypt_check_of_the_users_cost(checks) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=5))
    auth = BasicAuth({"alice": hashed})
    assert not await auth.allows(basic("mallory", "pw"))
    assert len(checks) == 1
    assert checks[0] != hashed and checks[0][:7] == hashed[:7] == b"$2b$05$"
    assert not await auth.allows(basic("alice", "wrong"))  # a known user: the same one check
    assert checks[1:] == [hashed]
    assert await auth.allows(basic("alice", "pw"))
    assert await auth.allows(basic("alice", "pw"))  # a pass is cached
    assert checks[2:] == [hashed]
    assert not await auth.allows(basic("mallory", "pw"))  # a refusal is not
    assert len(checks) == 4
    for user in ("alice", "mallory"):  # over bcrypt's 72 bytes: no check for anyone
        assert not await auth.allows(basic(user, "p" * 73))
    assert len(checks) == 4


async def test_an_unknown_user_over_http_is_refused_after_one_check(aiohttp_client,
                                                                    checks) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))
    loop = CollectorLoop([], build_labels)
    client = await aiohttp_client(make_app(loop, WebConfig(users={"alice": hashed})))
    resp = await client.get("/metrics", headers={"Authorization": basic("mallory", "pw")})
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == 'Basic realm="inferwatch"'
    assert len(checks) == 1 and checks[0] != hashed
    resp = await client.get("/metrics", headers={"Authorization": basic("alice", "pw")})
    assert resp.status == 200 and checks[1:] == [hashed]
