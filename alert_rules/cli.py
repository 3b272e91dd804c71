"""`inferwatch rules check|compile|run`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from inferwatch.alert_rules.compile import CompiledGroup, compile_group, write_outputs
from inferwatch.alert_rules.links import (
    DEFAULT_GRAFANA_URL,
    DEFAULT_RUNBOOK_BASE,
    Bases,
    base_url,
    rebase,
)
from inferwatch.alert_rules.prices import apply_prices, read_prices
from inferwatch.alert_rules.rulefile import LoadedGroup, load_files
from inferwatch.alert_rules.ruletest import run_files
from inferwatch.alert_rules.runconfig import WebSettings, load_rules, load_run_config
from inferwatch.alert_rules.runner import run
from inferwatch.alert_rules.state import state_url
from inferwatch.alert_rules.web import DEFAULT_PORT
from inferwatch.core.cliflags import add_log_flags
from inferwatch.core.logs import setup_logging

RUN_HELP = """Evaluate the rules with Prometheus 2.x semantics, exactly those of Prometheus
2.42 (the version Debian ships and CI tests against with promtool): instant selectors look
back 5 minutes and still take a sample exactly 5 minutes old, rate/increase extrapolate as
extrapolatedRate does, avg and histogram_quantile compute as Prometheus's engine, regex
matchers are RE2. The source is a Prometheus-compatible API or the embedded scraper.
Rule files are our rule language, plain Prometheus rule files or PrometheusRule resources;
on the embedded source any PromQL the evaluator supports, refused at load otherwise.
A query that fails raises InferwatchRuleQueryFailed (severity warning, labels rule and
group, the error as an annotation), never the rule's own alert."""

TEST_HELP = """Run the unit-test files of `promtool test rules` (rule_files, evaluation_interval,
input_series, alert_rule_test, promql_expr_test, external_labels) on the embedded evaluator,
with Prometheus 2.42's semantics and promtool's output: SUCCESS, or FAILED: and each failure;
exit 1 when a test failed. Rule files may be Prometheus rule files or our rule language."""


def _base_flag(text: str) -> str:
    try:
        return base_url(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def cmd_check(args: argparse.Namespace) -> int:
    groups = load_rules(args.files, embedded=True)
    count = sum(len(g.rules) if isinstance(g, LoadedGroup) else len(g.steps) for g in groups)
    print(f"ok: {len(args.files)} file(s), {len(groups)} group(s), {count} rule(s)")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    bases = Bases(args.runbook_base, args.grafana_url)
    groups = load_files(args.files)
    if args.prices:
        groups = apply_prices(groups, read_prices(args.prices), f"{args.prices}: ")
    for path in write_outputs(groups, Path(args.out), bases):
        print(path)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    # --once reports its errors itself; its logs stay at error unless asked for
    setup_logging(args.log_level or ("error" if args.once else "info"), args.log_format)
    config, groups = load_run_config(args.config)
    web = {"listen_address": args.listen_address or config.web.listen_address,
           "config_file": args.web_config_file or config.web.config_file}
    config = config.model_copy(update={"web": WebSettings.model_validate(web)})
    bases = Bases(config.runbook_base, config.grafana_url)
    compiled = [rebase(g if isinstance(g, CompiledGroup) else compile_group(g), bases)
                for g in groups]
    url = state_url(args.storage_url, args.storage_url_file)
    return asyncio.run(run(config, compiled, args.once, state_url=url))


def cmd_test(args: argparse.Namespace) -> int:
    return run_files(args.files)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rules` and its subcommands to the `inferwatch` command."""
    rules = subparsers.add_parser("rules", help="check, compile and run alert rules")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    check = sub.add_parser("check", help="validate rule files (ours against the metric "
                           "catalogue; Prometheus rule files for the embedded evaluator)")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_check)
    comp = sub.add_parser("compile", help="write Prometheus rule files and PrometheusRule "
                          "manifests")
    comp.add_argument("files", nargs="+", metavar="FILE")
    comp.add_argument("--out", required=True, metavar="DIR", help="output directory")
    comp.add_argument("--runbook-base", default=DEFAULT_RUNBOOK_BASE, metavar="URL",
                      type=_base_flag,
                      help="where the runbooks are: runbook_url annotations written with the "
                      "default base point there instead (default: %(default)s)")
    comp.add_argument("--grafana-url", default=DEFAULT_GRAFANA_URL, metavar="URL",
                      type=_base_flag,
                      help="Grafana's base URL for the dashboard_url annotations (default: "
                      "%(default)s)")
    comp.add_argument("--prices", metavar="FILE", help="the cost rules' prices (USD per GPU-hour "
                      "by GPU name, per kWh) in place of the pack's (alert_rules/prices.py)")
    comp.set_defaults(func=cmd_compile)
    runp = sub.add_parser("run", help="evaluate rules and send alerts", description=RUN_HELP)
    runp.add_argument("--config.file", "--config", dest="config", required=True, metavar="FILE",
                      help="run configuration (--config is an alias)")
    runp.add_argument("--once", action="store_true",
                      help="evaluate once, print the alert states as a table; exit 1 (the "
                      "errors on stderr) when a query or a scrape failed")
    runp.add_argument("--web.listen-address", dest="listen_address", metavar="HOST:PORT",
                      help=f"serve /metrics (inferwatch_rules_*), /-/healthy and /-/ready "
                      f"there, e.g. :{DEFAULT_PORT} (default: the config's web.listen_address; "
                      "none: no HTTP server)")
    runp.add_argument("--web.config.file", dest="web_config_file", metavar="FILE",
                      help="exporter-toolkit web config: TLS and basic auth for that server")
    runp.add_argument("--storage.url", dest="storage_url", metavar="URL",
                      help="keep the alert state in this PostgreSQL database (postgresql://..., "
                      "the notifier's will do) instead of the config's state_file, so that a "
                      "replacement replica neither pages again nor loses a resolve")
    runp.add_argument("--storage.url-file", dest="storage_url_file", metavar="FILE",
                      help="read --storage.url from a file (a Secret)")
    add_log_flags(runp)
    runp.set_defaults(func=cmd_run, log_level=None)
    test = sub.add_parser("test", help="run promtool's rule unit-test files on the embedded "
                          "evaluator", description=TEST_HELP)
    test.add_argument("files", nargs="+", metavar="FILE", help="promtool unit-test files")
    test.set_defaults(func=cmd_test)
