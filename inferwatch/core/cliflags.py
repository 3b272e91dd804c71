"""Flags every subcommand shares, as Prometheus tools spell them."""

from __future__ import annotations

import argparse

from inferwatch.core.logs import FORMATS, LEVELS
from inferwatch.core.version import __version__


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"inferwatch {__version__}")


def add_version_everywhere(parser: argparse.ArgumentParser) -> None:
    """`--version` on `parser` and on every subcommand below it that lacks one."""
    if "--version" not in parser._option_string_actions:
        add_version(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                add_version_everywhere(child)


def add_log_flags(parser: argparse.ArgumentParser) -> None:
    """`--log.level` and `--log.format` for a long-running command."""
    parser.add_argument("--log.level", dest="log_level", default="info", choices=list(LEVELS),
                        help="log level (default info)")
    parser.add_argument("--log.format", dest="log_format", default="logfmt",
                        choices=list(FORMATS), help="log line format (default logfmt)")
