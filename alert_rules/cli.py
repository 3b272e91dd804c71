"""`inferwatch rules check|compile|run`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from inferwatch.alert_rules.compile import compile_group, write_outputs
from inferwatch.alert_rules.rulefile import load_files
from inferwatch.alert_rules.runconfig import load_run_config
from inferwatch.alert_rules.runner import run


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
    runp.add_argument("--config", required=True, metavar="FILE", help="run configuration")
    runp.add_argument("--once", action="store_true",
                      help="evaluate once and print the alert states as a table")
    runp.set_defaults(func=cmd_run)
