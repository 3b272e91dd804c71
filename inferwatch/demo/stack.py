"""Start and stop the whole chain in one asyncio loop, on 127.0.0.1 with ports the OS picks.

simulated engines (vLLM, SGLang, TGI; incident scenario), each a pod on its own simulated GPUs
  ─▶ exporter (+ simulated GPUs that follow their engine's load, pod attribution)
  ─▶ rules engine (embedded source, default pack, compressed) ─▶ notifier
  ─▶ console:// and the local webhook receiver

Everything the demo sees happen (simulated phase changes, alert transitions, deliveries)
becomes an `Event` handed to one callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from inferwatch.alert_rules.evaluate import FIRING, INACTIVE, PENDING
from inferwatch.alert_rules.manager import RuleManager
from inferwatch.alert_rules.sender import InProcessSink, Payload, as_unix
from inferwatch.alert_rules.sources.embedded import EmbeddedSource, Target
from inferwatch.demo import pods
from inferwatch.demo.channels import WEBHOOK_PATH, Delivery, WebhookReceiver, console_to
from inferwatch.demo.readings import Readings, queries, read
from inferwatch.demo.rules import demo_groups, longest_range
from inferwatch.demo.settings import ENGINES, GPUS, Timing, notifier_yaml
from inferwatch.exporter.app import make_app as exporter_app
from inferwatch.exporter.config import load_config
from inferwatch.exporter.main import build_loop
from inferwatch.notifier.alerts import Alert
from inferwatch.notifier.api import make_app as notifier_app
from inferwatch.notifier.config import load_notifier_config
from inferwatch.notifier.service import Notifier
from inferwatch.simulate.engines.app import SIM_KEY, Clocked
from inferwatch.simulate.engines.app import make_app as engine_app
from inferwatch.simulate.engines.sim import Simulation

AlertKey = tuple[str, tuple[tuple[str, str], ...]]
TICK = 0.05  # wall seconds between steps of the simulated engines and GPUs (Stack._tick)


@dataclass(frozen=True)
class Event:
    """Something that happened, `at` seconds after the start."""

    at: float
    kind: str  # phase, pending, firing, resolved, cleared, delivered
    text: str
    delivery: Delivery | None = None


@dataclass(frozen=True)
class EngineInfo:
    kind: str
    model: str
    url: str
    clocked: Clocked


def describe(labels: dict[str, str]) -> str:
    """`AlertName engine=vllm severity=warning`: the labels a reader needs first."""
    shown = [f"{k}={labels[k]}" for k in ("engine", "gpu", "slo_alert", "severity")
             if k in labels]
    return " ".join([labels.get("alertname", "?"), *shown])


class Stack:
    """The demo's components; `start()` brings them up, `stop()` takes them down in reverse."""

    def __init__(self, out: Path, timing: Timing, seed: int, on_event: Callable[[Event], None]):
        self.out, self.timing, self.seed, self.on_event = out, timing, seed, on_event
        self.started = time.monotonic()
        self.engines: list[EngineInfo] = []
        self.exporter_url = ""
        self.webhook_url = ""
        self.notifier_url = ""  # its API and web page (/ui), where its silence links lead
        self.source: EmbeddedSource | None = None
        self.nvml: Any = None  # the exporter's fake NVML (its simulated GPUs)
        self.rule_manager: RuleManager | None = None
        self._exit = contextlib.AsyncExitStack()
        self._stop = asyncio.Event()
        self._seen: dict[AlertKey, str] = {}
        self._phase = ""
        self._queries = queries(max(4 * timing.scrape_interval, timing.scaled(300.0)))

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def emit(self, kind: str, text: str, delivery: Delivery | None = None) -> None:
        self.on_event(Event(self.elapsed(), kind, text, delivery))

    def _delivered(self, delivery: Delivery) -> None:
        self.emit("delivered", f"{delivery.channel}: {delivery.title}", delivery)

    async def _serve(self, app: web.Application) -> str:
        """Serve `app` on 127.0.0.1 (a free port); its base URL. Cleaned up on stop."""
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._exit.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def start(self) -> None:
        """Receiver, engines, exporter, notifier, rules: each ready before the next."""
        receiver = WebhookReceiver(self.out / "webhook.jsonl", self._delivered)
        self.webhook_url = await self._serve(receiver.app()) + WEBHOOK_PATH
        console_to(self._delivered)
        self._exit.callback(console_to, None)
        await self._start_engines()
        await self._start_exporter()
        notifier = await self._start_notifier(self.webhook_url)
        await self._start_rules(notifier)

    async def _start_engines(self) -> None:
        for i, (kind, model) in enumerate(ENGINES):
            sim = Simulation(kind, model, self.seed + i, "incident")
            app = engine_app(sim, speed=self.timing.speed)
            url = await self._serve(app) + sim.kind.metrics_path
            self.engines.append(EngineInfo(kind, sim.model_name, url, app[SIM_KEY]))

    async def _start_exporter(self) -> None:
        """Engines and simulated GPUs, each engine a pod on its GPUs (demo.pods); host metrics
        off, as on a laptop without procfs or PSI its collector would fail and fire
        ExporterCollectorFailing."""
        interval = self.timing.collect_interval
        kinds = [e.kind for e in self.engines]
        proc = tempfile.TemporaryDirectory(prefix="inferwatch-demo-proc-")
        self._exit.callback(proc.cleanup)
        flags = {"exporter.engines": [
                     {"kind": e.kind, "url": e.url, "namespace": pods.NAMESPACE,
                      "pod": pods.pod_name(e.kind)} for e in self.engines],
                 "exporter.simulate_gpus": GPUS, "exporter.simulate_scenario": "load",
                 "exporter.collectors.host.enabled": False,
                 "exporter.collectors.pods.enabled": True,
                 "exporter.collectors.pods.interval": interval,
                 "exporter.paths.procfs": str(pods.procfs(Path(proc.name), kinds)),
                 "exporter.collectors.gpu.interval": interval,
                 "exporter.collectors.engines.interval": interval}
        config = load_config(None, {k: ("demo", v) for k, v in flags.items()})
        loop = build_loop(config.exporter)
        by_name = {c.name: c for c in loop.collectors}
        by_name["pods"].directory = pods.directory(kinds)
        self.nvml = by_name["gpu"].lib
        pods.place(self.nvml, [e.clocked for e in self.engines])
        self.exporter_url = await self._serve(exporter_app(loop))
        ticking = asyncio.Event()
        task = asyncio.create_task(self._tick(ticking))
        self._exit.push_async_callback(self._stop_task, ticking, task)

    async def _tick(self, stop: asyncio.Event) -> None:
        """Every TICK wall seconds, each engine's load model steps to now and its GPUs read
        their load (pods.tick), so that GPU energy follows the engines closely at any speed."""
        while not stop.is_set():
            async with contextlib.AsyncExitStack() as locks:
                for engine in self.engines:
                    await locks.enter_async_context(engine.clocked.lock)
                await asyncio.to_thread(pods.tick, [e.clocked for e in self.engines], self.nvml)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK)

    @staticmethod
    async def _stop_task(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
        stop.set()
        await task

    async def _start_notifier(self, webhook_url: str) -> Notifier:
        """The notifier with its API and web page on a port bound first, so that its
        config's external_url (the notifications' silence links) is that page."""
        state = tempfile.TemporaryDirectory(prefix="inferwatch-demo-")
        self._exit.callback(state.cleanup)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._exit.callback(sock.close)
        self.notifier_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        path = self.out / "notifier.yml"
        path.write_text(notifier_yaml(self.timing, webhook_url, self.notifier_url), "utf-8")
        notifier = Notifier(load_notifier_config(path), storage=state.name)
        await notifier.start()
        self._exit.push_async_callback(notifier.stop)
        runner = web.AppRunner(notifier_app(notifier), access_log=None)
        await runner.setup()
        self._exit.push_async_callback(runner.cleanup)
        await web.SockSite(runner, sock).start()
        return notifier

    async def _start_rules(self, notifier: Notifier) -> None:
        timing = self.timing
        groups = demo_groups(timing.rule_factor, timing.speed)
        longest = longest_range(groups)
        self.source = EmbeddedSource([Target(self.exporter_url + "/metrics")],
                                     retention=longest, timeout=timing.scrape_interval)
        await self._exit.enter_async_context(self.source)

        async def receive(payloads: list[Payload]) -> None:
            await notifier.receive([Alert(**as_unix(p)) for p in payloads], source="rules")

        self.rule_manager = RuleManager(groups, self.source, [InProcessSink(receive)],
                             resend_delay=timing.resend_delay, external_url=self.exporter_url)
        task = asyncio.create_task(self.rule_manager.run(self.source, timing.scrape_interval,
                                                   sleep=self._after_tick, stop=self._stop))
        self._exit.push_async_callback(self._stop_rules, task)

    async def _stop_rules(self, task: asyncio.Task[None]) -> None:
        self._stop.set()
        await task

    async def _after_tick(self, seconds: float) -> None:
        """The engine's sleep: report what changed in this cycle, then wait."""
        self._report_phase()
        self._report_alerts()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _report_phase(self) -> None:
        clocked = self.engines[0].clocked
        phase = clocked.sim.scenario.phase_at(clocked.now())
        if phase != self._phase:
            self._phase = phase
            self.emit("phase", f"{phase} (simulated t={clocked.now():.0f}s)")

    def _report_alerts(self) -> None:
        if self.rule_manager is None:
            return
        now: dict[AlertKey, str] = {}
        for rule_id, st in self.rule_manager.states.items():
            for key, alert in st.active.items():
                now[(rule_id, key)] = alert.state
                if self._seen.get((rule_id, key)) != alert.state:
                    kind = "resolved" if alert.state == INACTIVE else alert.state
                    self.emit(kind, describe(alert.labels))
        for gone in self._seen.keys() - now.keys():
            if self._seen[gone] == PENDING:
                self.emit("cleared", describe(dict(gone[1])))
        self._seen = now

    def phase(self) -> tuple[str, float]:
        """The incident phase and the simulated time of the first engine."""
        clocked = self.engines[0].clocked
        return clocked.sim.scenario.phase_at(clocked.now()), clocked.now()

    def alert_states(self) -> list[tuple[str, dict[str, str]]]:
        """(state, labels) of every alert the rules engine holds, firing first."""
        if self.rule_manager is None:
            return []
        order = {FIRING: 0, PENDING: 1, INACTIVE: 2}
        found = [(a.state, a.labels) for st in self.rule_manager.states.values()
                 for a in st.active.values()]
        return sorted(found, key=lambda f: (order.get(f[0], 3), describe(f[1])))

    def readings(self) -> Readings:
        """KV cache, queue and TTFT p95 per engine and GPU utilization, as the rules see them."""
        if self.source is None:
            return Readings()
        return read(self.source, self._queries, time.time())

    async def stop(self) -> None:
        """Everything down, in reverse order of start; safe to call more than once."""
        await self._exit.aclose()
