"""`inferwatch rules check|compile|run`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from inferwatch.alert_rules.compile import compile_group, write_outputs
from inferwatch.alert_rules.rulefile import load_files
from inferwatch.alert_rules.runconfig import load_run_config
from inferwatch.alert_rules.runner import run
from inferwatch.core.cliflags import add_log_flags
from inferwatch.core.logs import setup_logging


def cmd_check(args: argparse.Namespace) -> int:
    groups = load_files(args.files)
    count = sum(len(g.rules) for g in groups)
    print(f"ok: {len(args.files)} file(s), {len(groups)} group(s), {count} rule(s)")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    for path in write_outputs(load_files(args.files), Path(args.out)):
        print(path)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    config, groups = load_run_config(args.config)
    return asyncio.run(run(config, [compile_group(g) for g in groups], args.once))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rules` and its subcommands to the `inferwatch` command."""
    rules = subparsers.add_parser("rules", help="check, compile and run alert rules")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    check = sub.add_parser("check", help="validate rule files against the metric catalogue")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_check)
    comp = sub.add_parser("compile", help="write Prometheus rule files and PrometheusRule "
                          "manifests")
    comp.add_argument("files", nargs="+", metavar="FILE")
    comp.add_argument("--out", required=True, metavar="DIR", help="output directory")
    comp.set_defaults(func=cmd_compile)
    runp = sub.add_parser("run", help="evaluate rules and send alerts")
    runp.add_argument("--config.file", "--config", dest="config", required=True, metavar="FILE",
                      help="run configuration (--config is an alias)")
    runp.add_argument("--once", action="store_true",
                      help="evaluate once and print the alert states as a table")
    add_log_flags(runp)
    runp.set_defaults(func=cmd_run)
