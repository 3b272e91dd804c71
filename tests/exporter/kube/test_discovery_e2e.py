"""End to end: `inferwatch exporter --kubernetes.discovery` as a subprocess, against the
loopback API server (kubeapi.py) listing a pod on node n1 annotated for scraping, whose
`podIP:port` is a running `inferwatch simulate-engine`. The engine's series appear with the
pod's namespace and name; a DELETED watch event removes the target and its series."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog as c
from tests.support.kubeapi import TOKEN, FakeApi, pod
from tests.support.procs import free_port

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[3]
NODE = "n1"
UID = "5b1e0c2a-7d4f-4e8a-9c3b-2f6d8e1a0b9c"
OTHER_UID = "5b1e0c2a-7d4f-4e8a-9c3b-2f6d8e1a0b9d"


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "inferwatch.cli", *args, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def _get(session: aiohttp.ClientSession, url: str) -> str | None:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return await resp.text() if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


async def _until(session: aiohttp.ClientSession, url: str, check, what: str,
                 procs: list[asyncio.subprocess.Process], timeout: float = 25.0):
    """Poll url until check(body) is truthy; fail with the exporter's stderr otherwise.
    Never blocks the event loop, which also serves the fake API server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = await _get(session, url)
        if body is not None:
            found = check(body)
            if found:
                return found
        for p in procs:
            if p.returncode is not None:
                err = (await p.stderr.read()).decode(errors="replace")
                pytest.fail(f"a subprocess exited {p.returncode} while waiting for {what}:\n"
                            f"{err[-3000:]}")
        await asyncio.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout}s")


def _samples(body: str):
    return [s for f in text_string_to_metric_families(body) for s in f.samples]


def _engine_series(body: str):
    return [s for s in _samples(body) if s.name.startswith("inferwatch_engine_")]


def _gauge(body: str, name: str) -> float | None:
    return next((s.value for s in _samples(body) if s.name == name), None)


async def test_discovered_pod_is_scraped_then_removed(fake_api: tuple[FakeApi, str],
                                                      tmp_path: Path, async_processes) -> None:
    api, api_url = fake_api
    engine_port, port = free_port(), free_port()
    async_processes.append(await _spawn("simulate-engine", "--kind", "vllm", "--speed", "30",
                                  "--web.listen-address", f"127.0.0.1:{engine_port}"))
    scrape = {"inferwatch.io/scrape": "true", "inferwatch.io/port": str(engine_port)}
    await api.put(pod("vllm-0", UID, node=NODE, namespace="llm", ip="127.0.0.1",
                      annotations=scrape))
    # Annotated but on another node: the field selector must keep it out.
    await api.put(pod("vllm-9", OTHER_UID, node="n2", namespace="llm", ip="127.0.0.1",
                      annotations=scrape))
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    config = tmp_path / "inferwatch.yaml"
    config.write_text(f"exporter:\n  kubernetes:\n    token_file: {token}\n"
                      f"    ca_file: {tmp_path / 'absent-ca.crt'}\n"
                      "    watch_timeout: 30s\n")
    async_processes.append(await _spawn(
        "exporter", "--config.file", str(config), "--simulate-gpus", "1",
        "--kubernetes.discovery", "--kubernetes.node-name", NODE,
        "--kubernetes.api-url", api_url, "--collector.engines.interval", "1s",
        "--web.listen-address", f"127.0.0.1:{port}"))
    metrics = f"http://127.0.0.1:{port}/metrics"
    want_target = f"http://127.0.0.1:{engine_port}/metrics"

    def scraped(body: str):
        series = [s for s in _engine_series(body) if s.labels.get("target") == want_target]
        names = {s.name for s in series}
        return series if {c.ENGINE_UP.name, c.ENGINE_KV_CACHE_USAGE.name,
                          c.ENGINE_REQUESTS_RUNNING.name} <= names else None

    async with aiohttp.ClientSession() as session:
        series = await _until(session, metrics, scraped, "the discovered engine's series",
                              async_processes)
        for s in series:
            assert (s.labels.get("namespace"), s.labels.get("pod")) == ("llm", "vllm-0"), s
            assert s.labels["engine"] == "vllm", s  # kind auto, detected
        up = [s.value for s in series if s.name == c.ENGINE_UP.name]
        assert up == [1.0]
        body = await _get(session, metrics)
        assert body is not None
        assert _gauge(body, c.KUBERNETES_TARGETS.name) == 1.0
        assert _gauge(body, c.KUBERNETES_PODS.name) == 1.0  # n2's pod is not listed
        assert _gauge(body, c.KUBERNETES_SYNCED.name) == 1.0
        # The exporter listed with the node's field selector and the service-account token.
        lists = [(q, h) for q, h in api.requests if "watch" not in q]
        assert lists and lists[0][0]["fieldSelector"] == f"spec.nodeName={NODE}"
        assert all(h["Authorization"] == f"Bearer {TOKEN}" for _, h in api.requests)
        assert any(q.get("watch") == "1" for q, _ in api.requests)

        await api.delete(UID)

        def removed(body: str) -> bool:
            return (_gauge(body, c.KUBERNETES_TARGETS.name) == 0.0
                    and not [s for s in _engine_series(body) if s.labels.get("pod")])

        await _until(session, metrics, removed, "the target's removal after DELETED",
                     async_processes)
