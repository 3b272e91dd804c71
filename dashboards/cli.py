"""`inferwatch dashboards build|push`: write the dashboards to disk or into a Grafana."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from inferwatch.core.redact import redact
from inferwatch.dashboards import build, push

TOKEN_ENV = "GRAFANA_TOKEN"


def grafana_url(text: str) -> str:
    """An http:// or https:// base URL with a host, or a usage error (exit 2)."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{redact(text)!r} is not an http:// or https:// URL")
    return text


def cmd_build(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.check:
        stale = build.stale(out)
        for rel in stale:
            print(f"{out / rel}: stale; run `inferwatch dashboards build --out {out}`",
                  file=sys.stderr)
        return 1 if stale else 0
    for path in build.write(out):
        print(path)
    return 0


def read_token(token_file: str | None) -> str:
    """The API token from --token-file or $GRAFANA_TOKEN; empty when neither gives one."""
    if token_file:
        return Path(token_file).read_text().strip()
    return os.environ.get(TOKEN_ENV, "").strip()


def cmd_push(args: argparse.Namespace) -> int:
    try:
        token = read_token(args.token_file)
    except OSError as err:
        print(f"cannot read --token-file: {err.strerror}: {args.token_file}", file=sys.stderr)
        return 2
    if not token:
        print(f"no Grafana API token: pass --token-file FILE or set {TOKEN_ENV}",
              file=sys.stderr)
        return 2
    try:
        pushed = asyncio.run(push.push(args.grafana_url, token, build.build_all(), args.folder,
                                       args.timeout))
    except push.GrafanaError as err:
        print(f"grafana: {err}", file=sys.stderr)
        return 1
    for item in pushed:
        print(f"{item.uid}: version {item.version} {item.url}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `dashboards build` and `dashboards push` to the `inferwatch` command."""
    parser = subparsers.add_parser("dashboards", help="build or push the Grafana dashboards")
    sub = parser.add_subparsers(dest="dashboards_command", required=True)

    b = sub.add_parser("build", help="write dashboard JSON and sidecar ConfigMaps")
    b.add_argument("--out", required=True, metavar="DIR", help="output folder")
    b.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when DIR differs from a fresh build")
    b.set_defaults(func=cmd_build)

    p = sub.add_parser("push", help="import the dashboards through Grafana's HTTP API")
    p.add_argument("--grafana-url", required=True, metavar="URL", type=grafana_url,
                   help="Grafana's base URL, e.g. http://grafana:3000")
    p.add_argument("--token-file", metavar="FILE",
                   help=f"file holding a service-account token (default: ${TOKEN_ENV})")
    p.add_argument("--folder", default="inferwatch", metavar="NAME",
                   help="folder to import into, created when missing (default inferwatch)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="per-run HTTP timeout (default 10)")
    p.set_defaults(func=cmd_push)
