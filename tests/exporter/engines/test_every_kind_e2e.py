"""The real exporter over HTTP on loopback against a simulated engine of every kind, all given
as `auto`: each target is detected as its engine, is up, and reports its queue."""

from __future__ import annotations

import asyncio
import sys

from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import catalog as c
from inferwatch.simulate.engines.app import make_app
from inferwatch.simulate.engines.kinds import KINDS
from inferwatch.simulate.engines.sim import Simulation
from tests.support.procs import ROOT, free_port

# simulator kind -> the `engine` label the exporter must give it
ENGINE = {"vllm": "vllm", "vllm-v0": "vllm", "ray-vllm": "vllm", "sglang": "sglang",
          "tgi": "tgi", "triton": "triton", "triton-trtllm": "triton",
          "trtllm-serve": "trtllm", "llamacpp": "llamacpp", "lmdeploy": "lmdeploy", "nim": "nim",
          "dynamo": "dynamo", "sglang-prefill": "sglang", "sglang-decode": "sglang",
          "vllm-nixl-decode": "vllm", "vllm-lora-spec": "vllm", "sglang-spec": "sglang"}


async def scrape_until_all_up(url: str, targets: dict[str, str], deadline: float) -> list:
    loop = asyncio.get_running_loop()
    async with ClientSession() as session:
        while loop.time() < deadline:
            try:
                async with session.get(url) as resp:
                    text = await resp.text()
            except OSError:
                await asyncio.sleep(0.2)
                continue
            series = [s for f in text_string_to_metric_families(text) for s in f.samples]
            up = {s.labels["target"] for s in series if s.name == c.ENGINE_UP.name
                  and s.value == 1}
            waiting = {s.labels["target"] for s in series
                       if s.name == c.ENGINE_REQUESTS_WAITING.name}
            if set(targets.values()) <= up & waiting:
                return series
            await asyncio.sleep(0.3)
    raise AssertionError(f"not every target up with a queue: up={sorted(up)}")


async def test_every_simulated_kind_through_the_real_exporter(aiohttp_server) -> None:
    assert set(ENGINE) == set(KINDS)
    targets = {}
    for kind in sorted(KINDS):
        server = await aiohttp_server(make_app(Simulation(kind), speed=10))
        path = "/prometheus/metrics" if kind == "trtllm-serve" else "/metrics"
        targets[kind] = f"http://127.0.0.1:{server.port}{path}"
    port = free_port()
    flags = [arg for url in targets.values() for arg in ("--engine", f"auto={url}")]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "inferwatch.cli", "exporter", "--no-collector.gpu",
        "--no-collector.host", "--collector.engines.interval", "1s",
        "--web.listen-address", f"127.0.0.1:{port}", *flags, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = asyncio.get_running_loop().time() + 40
        series = await scrape_until_all_up(f"http://127.0.0.1:{port}/metrics", targets, deadline)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)
    engines = {s.labels["target"]: s.labels["engine"] for s in series
               if s.name == c.ENGINE_UP.name}
    assert engines == {url: ENGINE[kind] for kind, url in targets.items()}
