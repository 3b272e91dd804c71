"""The loop's first round is set with a snapshot that holds every collector's first run: a
collector finishing while a snapshot is being rendered (in its worker thread) must not mark
the round done with a snapshot made before its families arrived. The OTLP pusher's first push
and /readyz take the snapshot at that moment."""

from __future__ import annotations

import asyncio
import time

from inferwatch import catalog
from inferwatch.exporter import loop as loop_module
from inferwatch.exporter.loop import CollectorLoop, build_labels
from tests.exporter.test_web_edges import Quick


class Late:
    """Returns once released: the test releases it while the first snapshot renders."""

    name, interval, timeout = "late", 60.0, 5.0

    def __init__(self):
        self.release = asyncio.Event()

    async def collect(self):
        await self.release.wait()
        fam = catalog.GPU_POWER_USAGE.family()
        fam.add_metric(["0", "GPU-a"], 300)
        return [fam]

    def close(self):
        pass


async def test_the_first_round_snapshot_holds_a_collector_done_during_a_render(monkeypatch):
    late = Late()
    loop = CollectorLoop([Quick("quick", interval=60.0), late], build_labels)
    aio = asyncio.get_running_loop()
    real, renders = loop_module.Snapshot, []

    def rendering(families, *args):
        """The first render (after Quick's run) lets Late finish before it returns."""
        renders.append([f.name for f in families])
        if len(renders) == 1:
            aio.call_soon_threadsafe(late.release.set)
            deadline = time.monotonic() + 5
            while not loop.states["late"].runs and time.monotonic() < deadline:
                time.sleep(0.005)
            assert loop.states["late"].runs, "Late did not finish during the render"
        return real(families, *args)

    class Seen(asyncio.Event):
        """The snapshot as it is when the round is marked done (a waiter wakes later)."""

        def set(self) -> None:
            if not self.is_set():
                seen.append({f.name for f in loop.snapshot.families})
            super().set()

    seen: list[set[str]] = []
    monkeypatch.setattr(loop_module, "Snapshot", rendering)
    loop.first_round = Seen()
    await loop.start()
    try:
        await asyncio.wait_for(loop.first_round.wait(), 10)
    finally:
        await loop.stop()
    [names] = seen
    assert catalog.GPU_POWER_USAGE.name not in renders[0]  # the race happened
    assert {catalog.GPU_TEMPERATURE.name, catalog.GPU_POWER_USAGE.name} <= names
