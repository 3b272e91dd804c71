"""The `inferwatch` command: one entry point, a subcommand per job; each part registers its own.

Only the module of the command being run is imported, so the exporter process never loads
grafanalib, apprise or the rules engine.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from inferwatch.core.cliflags import add_version_everywhere
from inferwatch.core.config import ConfigError
from inferwatch.core.errors import UserError

# name -> (module with `register(subparsers)`, help). `check-config` is the exporter's alias.
SUBCOMMAND_MODULES: dict[str, tuple[str, str]] = {
    "exporter": ("inferwatch.exporter.cli", "run the per-node exporter"),
    "check-config": ("inferwatch.exporter.cli", "validate an exporter configuration file"),
    "dashboards": ("inferwatch.dashboards.cli", "build or push the Grafana dashboards"),
    "rules": ("inferwatch.alert_rules.cli", "check, compile, test and run alert rules"),
    "simulate-engine": ("inferwatch.simulate.engines.cli",
                        "serve an inference engine's simulated /metrics"),
    "notifier": ("inferwatch.notifier.cli", "route, group and deliver alerts"),
    "autoscale": ("inferwatch.autoscale.cli",
                  "write a KEDA ScaledObject or an HPA that scales a model server"),
    "demo": ("inferwatch.demo.cli", "run everything on this machine: simulated engines and GPUs, "
             "exporter, rules, notifier"),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; of the package subcommands only the one named in `argv` is loaded."""
    parser = argparse.ArgumentParser(prog="inferwatch", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    command = next((a for a in (sys.argv[1:] if argv is None else argv)
                    if not a.startswith("-")), None)
    module = SUBCOMMAND_MODULES.get(command or "", ("", ""))[0]
    if module:
        importlib.import_module(module).register(sub)
    for name, (_module, help_text) in SUBCOMMAND_MODULES.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text)
    add_version_everywhere(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 2
    except UserError as err:
        print(f"inferwatch {args.command}: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # an unwritable --out, a taken port: the environment, not the input
        where = f": {err.filename}" if err.filename else ""
        print(f"inferwatch {args.command}: {err.strerror or err}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
