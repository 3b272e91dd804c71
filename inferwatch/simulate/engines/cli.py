"""`inferwatch simulate-engine`: serve one simulated inference engine over HTTP."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from inferwatch.core.cliflags import add_log_flags
from inferwatch.core.logs import setup_logging
from inferwatch.simulate.engines.app import make_app
from inferwatch.simulate.engines.kinds import KINDS
from inferwatch.simulate.engines.scenarios import SCENARIOS
from inferwatch.simulate.engines.sim import Simulation

log = logging.getLogger(__name__)


def split_address(address: str) -> tuple[str, int]:
    """HOST:PORT (HOST may be empty, meaning all interfaces) into (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{address!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulate-engine",
                              help="serve the /metrics of a simulated inference engine")
    p.add_argument("--kind", required=True, choices=sorted(KINDS), help="engine kind")
    p.add_argument("--web.listen-address", dest="listen", required=True, type=split_address,
                   metavar="HOST:PORT", help="address to serve on")
    p.add_argument("--model", default=None, help="served model name")
    p.add_argument("--seed", type=int, default=0, help="load-model seed (default 0)")
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="steady",
                   help="steady, or incident (spike at 60 s, recovered by 240 s)")
    p.add_argument("--speed", type=positive, default=1.0,
                   help="simulated seconds per wall second (default 1)")
    p.add_argument("--data-parallel", type=at_least_one, default=1, metavar="N",
                   help="engine ranks, for kinds with an engine/dp_rank label (default 1)")
    add_log_flags(p)
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    sim = Simulation(args.kind, args.model, args.seed, args.scenario, args.data_parallel)
    host, port = args.listen
    log.info("simulating kind=%s model=%s scenario=%s speed=%s on %s:%d%s", args.kind,
             sim.model_name, args.scenario, args.speed, host, port, sim.kind.metrics_path)
    web.run_app(make_app(sim, args.speed), host=host, port=port, print=None,
                access_log=None)
    return 0
