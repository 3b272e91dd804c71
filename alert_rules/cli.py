"""`inferwatch rules check|compile|run`."""

from __future__ import annotations

import argparse

from alert_rules.spec import load_files


def cmd_check(args: argparse.Namespace) -> int:
    groups = load_files(args.files)
    count = sum(len(g.rules) for g in groups)
    print(f"ok: {len(args.files)} file(s), {len(groups)} group(s), {count} rule(s)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rules` and its subcommands to the `inferwatch` command."""
    rules = subparsers.add_parser("rules", help="check, compile and run alert rules")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    check = sub.add_parser("check", help="validate rule files against the metric catalogue")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_check)
