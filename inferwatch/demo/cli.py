"""`inferwatch demo [--fast] [--speed X] [--duration D] [--out DIR] [--seed N]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from inferwatch.core.cliflags import add_log_flags
from inferwatch.core.durations import parse_duration
from inferwatch.core.logs import LEVELS, formatter
from inferwatch.demo.settings import FAST_SPEED, Timing

DEFAULT_OUT = "inferwatch-demo"


def positive_duration(text: str) -> float:
    """A duration such as 90s or 5m; a bare number is seconds."""
    try:
        value = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0s")
    return value


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `demo` to the `inferwatch` command."""
    p = subparsers.add_parser(
        "demo", help="run everything on this machine: simulated engines and GPUs, exporter, "
        "rules, notifier",
        description="Simulated vLLM, SGLang and TGI engines play an incident (a load spike at "
        "simulated 60s, recovery from 150s); the exporter scrapes them and simulates GPUs; the "
        "rules engine evaluates the default pack (its durations compressed) and the notifier "
        "delivers to the console and to a local webhook. Ctrl-C stops it.")
    p.add_argument("--fast", action="store_true",
                   help=f"run time {FAST_SPEED:g}x faster: the incident in about a minute")
    p.add_argument("--speed", type=positive, metavar="X",
                   help=f"simulated seconds per wall second (default 1; --fast is {FAST_SPEED:g})")
    p.add_argument("--duration", type=positive_duration, metavar="D",
                   help="stop after D (e.g. 90s, 5m; default: the incident and a minute after "
                   "it, 5m or 75s with --fast)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"where dashboards, compiled rules, webhook posts and the log go "
                   f"(default ./{DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the simulated load (default 0)")
    add_log_flags(p)  # of the components' log, written to OUT/demo.log
    p.set_defaults(func=cmd_demo)


def log_to_file(path: Path, level: str = "info", fmt: str = "logfmt") -> None:
    """Component logs go to a file, so that they never tear the live view."""
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def cmd_demo(args: argparse.Namespace) -> int:
    timing = Timing(args.speed or (FAST_SPEED if args.fast else 1.0))
    duration = args.duration or timing.default_duration
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_to_file(out / "demo.log", args.log_level, args.log_format)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the loop took over signals
        asyncio.run(run_demo(out, timing, duration, args.seed))
    return 0


async def run_demo(out: Path, timing: Timing, duration: float, seed: int) -> None:
    """Write the artefacts, then run the stack until `duration` has passed or a signal."""
    from inferwatch.demo.rules import write_artifacts
    from inferwatch.demo.stack import Stack
    from inferwatch.demo.view import make_view

    stop = asyncio.Event()
    stopped_by: list[str] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, stop, stopped_by, sig.name)
    view = make_view(sys.stdout, duration, timing.speed)
    written = await asyncio.to_thread(write_artifacts, out)
    print(f"wrote {len(written)} files: Grafana dashboards under {out / 'dashboards'}, compiled "
          f"rules under {out / 'rules'}", flush=True)
    stack = Stack(out, timing, seed, view.event)
    viewer: asyncio.Task[None] | None = None
    try:
        await stack.start()
        viewer = asyncio.create_task(view.run(stack, stop))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        stop.set()
        if viewer is not None:
            await viewer
        await stack.stop()
    reason = stopped_by[0] if stopped_by else f"--duration {duration:g}s elapsed"
    view.finish(stack, reason)


def _on_signal(stop: asyncio.Event, stopped_by: list[str], name: str) -> None:
    stopped_by.append(name)
    stop.set()
