"""The autoscaling queries on a real Prometheus over the simulated incident.

Two simulated vLLM pods of one Deployment (and one pod of another) are discovered by the
exporter through the loopback API server, as on a node; Prometheus scrapes the exporter. After
the incident, the KEDA triggers' queries and prometheus-adapter's per-pod queries (rendered as
the adapter renders its templates) are read back with query_range, and the HPA's formula
(hpa.py) turns each step into desired replicas: they rise during the spike and fall after.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from inferwatch.autoscale import manifests
from inferwatch.autoscale.queries import Workload, kv_cache_usage, requests_waiting
from tests.autoscale import hpa
from tests.support.kubeapi import TOKEN, pod
from tests.support.procs import ROOT, free_port, need_binary

pytestmark = [pytest.mark.ecosystem, pytest.mark.timeout(150)]
SPEED = 10.0  # simulated seconds per wall second: the 300 s incident in 30 s
NODE = "gpu-node-1"
PODS = ("vllm-llama-7c9d8f6b5-x2k4q", "vllm-llama-7c9d8f6b5-m8z2p")
OTHER = "vllm-llama-big-5f6d7c8b9-q7w3e"  # another Deployment's pod: never counted
CURRENT = len(PODS)


async def _spawn(*args: str, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdout=log.open("w"), stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def _json(session: aiohttp.ClientSession, url: str, **params) -> dict | None:
    try:
        async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=5)) as r:
            return await r.json() if r.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def _until(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout}s")


def _adapter_query(rule: dict, pods: tuple[str, ...]) -> str:
    """prometheus-adapter's metricsQuery for a Pods metric of these pods."""
    series = rule["seriesQuery"].split("{")[0]
    matchers = f'namespace="llm",pod=~"{"|".join(pods)}"'
    return (rule["metricsQuery"].replace("<<.Series>>", series)
            .replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", "pod"))


async def _range(session, base: str, query: str, start: float, end: float) -> dict:
    """{(pod or ""): {timestamp: value}} for a query_range at a 1 s step."""
    answer = await _json(session, f"{base}/api/v1/query_range", query=query, start=start,
                         end=end, step="1")
    assert answer and answer["status"] == "success", (query, answer)
    return {s["metric"].get("pod", ""): {float(t): float(v) for t, v in s["values"]}
            for s in answer["data"]["result"]}


async def test_desired_replicas_rise_in_the_spike_and_fall_after(fake_api, tmp_path,
                                                                 async_processes):
    prometheus = need_binary("prometheus")
    api, api_url = fake_api
    token = tmp_path / "token"
    token.write_text(TOKEN)
    config = tmp_path / "inferwatch.yaml"
    config.write_text(f"exporter:\n  kubernetes:\n    token_file: {token}\n"
                      f"    ca_file: {tmp_path / 'absent-ca.crt'}\n")
    exporter_port, prom_port = free_port(), free_port()
    async_processes.append(await _spawn(
        sys.executable, "-m", "inferwatch.cli", "exporter", "--config.file", str(config),
        "--simulate-gpus", "1", "--kubernetes.discovery", "--kubernetes.node-name", NODE,
        "--kubernetes.api-url", api_url, "--collector.engines.interval", "1s",
        "--web.listen-address", f"127.0.0.1:{exporter_port}", log=tmp_path / "exporter.log"))
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: inferwatch, static_configs: "
        f"[{{targets: ['127.0.0.1:{exporter_port}']}}]}}]\n")
    async_processes.append(await _spawn(
        prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
        "--log.level=warn", log=tmp_path / "prometheus.log"))
    base = f"http://127.0.0.1:{prom_port}"
    workload = Workload("vllm-llama", "llm")
    async with aiohttp.ClientSession() as session:
        await _until(lambda: _json(session, f"{base}/api/v1/query", query="up == 1"),
                     "Prometheus scraping the exporter")
        engines = {name: free_port() for name in (*PODS, OTHER)}
        # the pods first: discovered (and scraped, down) before the incident starts, so that
        # discovery's delay does not eat into the steady phase the test reads
        for i, (name, port) in enumerate(engines.items()):
            await api.put(pod(name, f"uid-{i}", node=NODE, namespace="llm", ip="127.0.0.1",
                              annotations={"inferwatch.io/scrape": "true",
                                           "inferwatch.io/port": str(port)}))

        async def discovered():
            found = await _json(session, f"{base}/api/v1/query",
                                query='count(inferwatch_engine_up{namespace="llm"})')
            result = found["data"]["result"] if found else []
            return result and float(result[0]["value"][1]) >= len(engines)
        await _until(discovered, "the three pods discovered and scraped")
        for i, (name, port) in enumerate(engines.items()):
            async_processes.append(await _spawn(
                sys.executable, "-m", "inferwatch.cli", "simulate-engine", "--kind", "vllm",
                "--scenario", "incident", "--speed", str(SPEED), "--seed", str(i),
                "--web.listen-address", f"127.0.0.1:{port}",
                log=tmp_path / f"{name}.log"))
        states = [await _until(lambda p=p: _json(session, f"http://127.0.0.1:{p}/simulator/"
                                                 "state"), "a simulated engine")
                  for p in engines.values()]
        # Simulated time 0 in wall time, from the first engine's clock (they start together).
        origin = time.time() - states[0]["sim_time"] / SPEED
        # The incident ends at 240 simulated seconds; read up to 290.
        await asyncio.sleep(max(0.0, origin + 290 / SPEED - time.time()))
        start, end = origin + 10 / SPEED, origin + 290 / SPEED
        waiting = (await _range(session, base, requests_waiting(workload), start, end))[""]
        kv = (await _range(session, base, kv_cache_usage(workload), start, end))[""]
        rules = manifests.adapter_rules()["rules"]
        per_pod = [await _range(session, base, _adapter_query(r, PODS), start, end)
                   for r in rules]
        other = await _range(session, base, f'inferwatch_engine_up{{pod="{OTHER}"}}', start, end)

    assert other, "the other Deployment's pod was scraped (so leaving it out is tested)"
    assert all(set(series) == set(PODS) for series in per_pod), per_pod
    targets = manifests.Targets()
    keda, adapter = {}, {}
    for t in sorted(set(waiting) & set(kv)):
        keda[t] = hpa.desired([hpa.external_average(waiting[t], targets.waiting_per_replica,
                                                    CURRENT),
                               hpa.external_value(kv[t], targets.kv_cache_usage, CURRENT)],
                              targets.min_replicas, targets.max_replicas)
        if all(t in s for series in per_pod for s in series.values()):
            adapter[t] = hpa.desired(
                [hpa.pods_average([s[t] for s in per_pod[0].values()],
                                  targets.waiting_per_replica, CURRENT),
                 hpa.pods_average([s[t] for s in per_pod[1].values()],
                                  targets.kv_cache_usage, CURRENT)],
                targets.min_replicas, targets.max_replicas)

    def phase(desired: dict[float, int], lo: float, hi: float) -> list[int]:
        return [n for t, n in desired.items() if lo <= (t - origin) * SPEED < hi]

    for name, desired in (("KEDA", keda), ("prometheus-adapter", adapter)):
        before, spike, after = (phase(desired, 15, 55), phase(desired, 90, 150),
                                phase(desired, 260, 300))
        assert before and spike and after, (name, desired)
        assert max(before) <= CURRENT, (name, before)
        assert max(spike) > max(before) and max(spike) > CURRENT, (name, spike)
        assert max(after) < max(spike) and max(after) <= CURRENT, (name, after)
