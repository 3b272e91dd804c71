"""What the demo shows: a live terminal view (plain ANSI redraw) or, when stdout is not a
terminal, one log line per event and a metrics line every few seconds.

Both take the stack's events as they happen (`event`), refresh from the stack until told to
stop (`run`), and end with the same summary (`finish`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections import Counter, deque
from typing import TextIO

from inferwatch.demo.readings import Readings
from inferwatch.demo.stack import Event, Stack, describe

COLORS = {"firing": "31;1", "pending": "33", "resolved": "32", "cleared": "2",
          "delivered": "36", "phase": "1"}


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def joules(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}J"


def dollars(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def metrics_line(r: Readings) -> str:
    parts = [f"{kind} kv={ratio(e.kv_cache)} queue={count(e.waiting)} "
             f"ttft_p95={seconds(e.ttft_p95)} energy={joules(e.joules_per_token)}/token "
             f"cost={dollars(e.cost_per_million)}/Mtok" for kind, e in r.engines.items()]
    return " | ".join([*parts, f"gpu util={ratio(r.gpu_utilization)}"])


def event_line(e: Event) -> str:
    return f"[{e.at:6.1f}s] {e.kind:<9} {e.text}"


class Tally:
    """Counts of alert transitions and deliveries, for the summary."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()

    def add(self, e: Event) -> None:
        self.kinds[e.kind] += 1
        if e.delivery is not None:
            self.channels[e.delivery.channel] += 1

    def summary(self, stack: Stack) -> list[str]:
        k, ch = self.kinds, self.channels
        by_channel = ", ".join(f"{c} {n}" for c, n in sorted(ch.items())) or "none"
        lines = [f"summary: {k['pending']} alerts went pending, {k['firing']} fired, "
                 f"{k['resolved']} resolved; {sum(ch.values())} notifications delivered "
                 f"({by_channel})"]
        firing = [describe(labels) for state, labels in stack.alert_states()
                  if state == "firing"]
        if firing:
            lines.append(f"still firing: {'; '.join(firing)} (SLO burn-rate alerts read windows "
                         "of hours, compressed to minutes, that outlast the demo)")
        out = stack.out
        lines.append(f"output: {out / 'dashboards'} (Grafana), {out / 'rules'} (Prometheus "
                     f"rules), {out / 'webhook.jsonl'}, {out / 'notifier.yml'}, "
                     f"{out / 'demo.log'}")
        return lines


def startup_lines(stack: Stack) -> list[str]:
    lines = [f"engine {e.kind:<7} {e.model:<36} {e.url}" for e in stack.engines]
    return lines + [f"exporter       {stack.exporter_url}/metrics",
                    f"webhook        {stack.webhook_url}",
                    f"notifier       {stack.notifier_url}/ui (alerts, silences, notifications)"]


class LogView:
    """Non-TTY output: every event as a line, a metrics line every `every` seconds."""

    def __init__(self, stream: TextIO, every: float):
        self.stream, self.every, self.tally = stream, every, Tally()

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def event(self, e: Event) -> None:
        self.tally.add(e)
        self.write(event_line(e))
        if e.delivery is not None and e.delivery.channel == "console":
            for line in e.delivery.body.strip().splitlines():
                self.write(f"{'':10}│ {line}")

    async def run(self, stack: Stack, stop: asyncio.Event) -> None:
        for line in startup_lines(stack):
            self.write(line)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)
            self.write(f"[{stack.elapsed():6.1f}s] metrics   {metrics_line(stack.readings())}")

    def finish(self, stack: Stack, reason: str) -> None:
        self.write(f"stopped ({reason}): every component shut down")
        for line in self.tally.summary(stack):
            self.write(line)


class LiveView:
    """A terminal redrawn in place twice a second: metrics, alert states, deliveries."""

    def __init__(self, stream: TextIO, duration: float, speed: float):
        self.stream, self.duration, self.speed = stream, duration, speed
        self.tally = Tally()
        self.deliveries: deque[Event] = deque(maxlen=8)

    def event(self, e: Event) -> None:
        self.tally.add(e)
        if e.delivery is not None:
            self.deliveries.append(e)

    async def run(self, stack: Stack, stop: asyncio.Event) -> None:
        self.stream.write("\x1b[?25l\x1b[2J")
        while not stop.is_set():
            self.draw(stack)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    def draw(self, stack: Stack) -> None:
        size = shutil.get_terminal_size()
        top = [*self.header(stack), "", *self.metrics(stack.readings()), ""]
        alerts = self.alerts(stack)
        deliveries = [f"  {e.at:6.1f}s  {e.text}" for e in self.deliveries]
        room = max(6, size.lines - 1 - len(top) - 2)  # two headings
        shown = deliveries[-max(2, room - len(alerts)):]
        lines = [*top, "alerts", *fit(alerts, room - len(shown)),
                 "deliveries (console:// and the local webhook)", *shown]
        frame = "".join(f"{clip(line, size.columns)}\x1b[K\n" for line in lines)
        self.stream.write(f"\x1b[H{frame}\x1b[J")
        self.stream.flush()

    def header(self, stack: Stack) -> list[str]:
        phase, sim_t = stack.phase()
        wall = stack.elapsed()
        return [f"inferwatch demo  {self.speed:g}x  phase {phase.upper()} (simulated "
                f"{sim_t:.0f}s)  {wall:.0f}s of {self.duration:.0f}s  Ctrl-C stops",
                f"exporter {stack.exporter_url}/metrics   output {stack.out}"]

    def metrics(self, r: Readings) -> list[str]:
        rows = [f"{'engine':<8}{'KV cache':>10}{'queue':>8}{'TTFT p95':>10}{'J/token':>10}"
                f"{'$/M tokens':>12}"]
        rows += [f"{kind:<8}{ratio(e.kv_cache):>10}{count(e.waiting):>8}"
                 f"{seconds(e.ttft_p95):>10}{joules(e.joules_per_token):>10}"
                 f"{dollars(e.cost_per_million):>12}" for kind, e in r.engines.items()]
        return [*rows, f"GPUs (simulated) utilization {ratio(r.gpu_utilization)}"]

    def alerts(self, stack: Stack) -> list[str]:
        rows = [f"  {paint(shown, f'{shown:<9}')} {describe(labels)}"
                for state, labels in stack.alert_states()
                for shown in ["resolved" if state == "inactive" else state]]
        return rows or ["  none yet"]

    def finish(self, stack: Stack, reason: str) -> None:
        self.draw(stack)
        self.stream.write("\x1b[?25h")
        print(f"stopped ({reason}): every component shut down", file=self.stream)
        for line in self.tally.summary(stack):
            print(line, file=self.stream)
        self.stream.flush()


def fit(rows: list[str], room: int) -> list[str]:
    """At most `room` rows (at least one), the last saying how many were left out."""
    room = max(1, room)
    if len(rows) <= room:
        return rows
    return [*rows[:room - 1], f"  ... {len(rows) - room + 1} more"]


def clip(line: str, width: int) -> str:
    """Cut a plain line to the terminal's width (coloured lines are short already)."""
    return line if "\x1b[" in line or len(line) < width else line[:width - 1]


def paint(kind: str, text: str) -> str:
    code = COLORS.get(kind)
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def make_view(stream: TextIO, duration: float, speed: float) -> LogView | LiveView:
    """The live view on a terminal, log lines otherwise (a metrics line every 20 simulated
    seconds)."""
    if stream.isatty():
        return LiveView(stream, duration, speed)
    return LogView(stream, max(1.0, 20.0 / speed))

