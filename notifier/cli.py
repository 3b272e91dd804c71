"""`inferwatch notifier`: run the notifier, check its config, and manage silences over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import logging
import signal
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from inferwatch.core.cliflags import add_log_flags
from inferwatch.core.durations import parse_duration
from inferwatch.core.logs import setup_logging
from inferwatch.core.webconfig import WebConfig, load_web_config, middleware
from inferwatch.notifier.config import Loaded, load_notifier_config
from inferwatch.notifier.matchers import MatcherError, parse_matchers
from inferwatch.notifier.payloads import rfc3339

DEFAULT_LISTEN = ":9478"
DEFAULT_URL = "http://127.0.0.1:9478"
log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("notifier", help="route, group and deliver alerts")
    parser.add_argument("--config.file", dest="config_file", metavar="FILE",
                        help="notifier YAML configuration (Alertmanager's shape)")
    parser.add_argument("--web.listen-address", dest="listen", default=DEFAULT_LISTEN,
                        metavar="HOST:PORT", help=f"address to serve on (default {DEFAULT_LISTEN})")
    _storage_flags(parser, "data/notifier", None)
    parser.add_argument("--cluster.replica-name", dest="replica", default=None,
                        metavar="NAME", help="this replica's name in the leases and logs "
                        "(PostgreSQL; default: the host name, a pod's name on Kubernetes)")
    parser.add_argument("--cluster.lease-duration", dest="lease", default="10s",
                        metavar="DURATION", help="a dead replica's groups and notifications "
                        "are taken over this long after its last renewal (default 10s)")
    parser.add_argument("--web.config.file", dest="web_config", metavar="FILE",
                        help="exporter-toolkit web config: TLS, client certificates, basic auth, "
                        "headers (the same file the exporter and Prometheus read)")
    add_log_flags(parser)
    parser.set_defaults(func=cmd_run)
    sub = parser.add_subparsers(dest="notifier_command")
    check = sub.add_parser("check-config", help="validate a notifier configuration")
    check.add_argument("file")
    check.set_defaults(func=cmd_check)
    migrate = sub.add_parser("migrate", help="create or upgrade the storage's schema, then exit "
                             "(every start does it too)")
    _storage_flags(migrate)
    migrate.set_defaults(func=cmd_migrate)
    _register_silence(sub)


def _storage_flags(parser: argparse.ArgumentParser, path: object = argparse.SUPPRESS,
                   url: object = argparse.SUPPRESS) -> None:
    """--storage.path (SQLite), --storage.url and --storage.url-file (PostgreSQL), on the
    notifier and after `migrate`."""
    parser.add_argument("--storage.path", dest="storage", default=path, metavar="DIR",
                        help="directory of the SQLite database (one replica; the default)")
    parser.add_argument("--storage.url", dest="storage_url", default=url, metavar="URL",
                        help="postgresql://user:password@host/db: state shared by several "
                        "replicas (its password is never logged)")
    parser.add_argument("--storage.url-file", dest="storage_url_file", default=url,
                        metavar="FILE", help="read --storage.url from a file (a Secret)")


def storage_spec(args: argparse.Namespace) -> str:
    """The PostgreSQL URL when one is given (flag or file), else the SQLite directory."""
    if getattr(args, "storage_url_file", None):
        try:
            with open(args.storage_url_file, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as err:
            raise SystemExit(f"notifier: --storage.url-file {args.storage_url_file}: "
                             f"{err.strerror}") from None
    return getattr(args, "storage_url", None) or args.storage


def cmd_migrate(args: argparse.Namespace) -> int:
    from inferwatch.notifier.storage import StorageError, open_storage

    async def run() -> str:
        storage = open_storage(storage_spec(args))
        await storage.open()
        await storage.close()
        return storage.label

    try:
        label = asyncio.run(run())
    except StorageError as err:
        print(f"notifier migrate: {err}", file=sys.stderr)
        return 1
    print(f"{label}: schema up to date")
    return 0


def _register_silence(sub: argparse._SubParsersAction) -> None:
    silence = sub.add_parser("silence", help="add, query and expire silences")
    _connection_flags(silence, DEFAULT_URL, None)
    actions = silence.add_subparsers(dest="silence_command", required=True)
    add = actions.add_parser("add", help="silence alerts matching all the matchers")
    add.add_argument("matchers", nargs="+", help='e.g. alertname="HighTTFT" model=~"llama.*"')
    add.add_argument("--duration", default="1h", help="how long (default 1h)")
    add.add_argument("--author", default=None, help="created by (default: the user name)")
    add.add_argument("--comment", required=True)
    add.set_defaults(func=cmd_silence_add)
    _connection_flags(add)
    query = actions.add_parser("query", help="list silences")
    query.add_argument("matchers", nargs="*", help="only silences pinning these labels")
    query.add_argument("--expired", action="store_true", help="include expired silences")
    query.add_argument("-q", "--quiet", action="store_true", help="print only the ids")
    query.set_defaults(func=cmd_silence_query)
    _connection_flags(query)
    expire = actions.add_parser("expire", help="expire silences by id")
    expire.add_argument("ids", nargs="+")
    expire.set_defaults(func=cmd_silence_expire)
    _connection_flags(expire)


def _connection_flags(parser: argparse.ArgumentParser, url: object = argparse.SUPPRESS,
                      token: object = argparse.SUPPRESS) -> None:
    """--notifier.url and --bearer-token-file, accepted before or after the action (as amtool
    takes --alertmanager.url anywhere); on an action they leave the group's value alone unless
    given."""
    parser.add_argument("--notifier.url", dest="url", default=url,
                        help=f"the notifier's base URL (default {DEFAULT_URL})")
    parser.add_argument("--bearer-token-file", dest="token_file", metavar="FILE", default=token)


def _validated(path: str) -> Loaded:
    """The config, with every receiver URL checked by apprise; ConfigError otherwise."""
    from inferwatch.core.redact import install
    from inferwatch.notifier.service import build_channels

    loaded = load_notifier_config(path)
    install(loaded.secrets)
    build_channels(loaded)
    return loaded


def cmd_check(args: argparse.Namespace) -> int:
    _validated(args.file)
    print(f"{args.file}: ok")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if not args.config_file:
        print("notifier: --config.file is required", file=sys.stderr)
        return 2
    loaded = _validated(args.config_file)
    web_config = load_web_config(args.web_config)
    setup_logging(args.log_level, args.log_format)
    from inferwatch.core.redact import install

    install(loaded.secrets)  # again: the filter onto the handlers setup_logging just made
    if args.log_level != "debug":
        logging.getLogger("apprise").setLevel(logging.WARNING)
    from inferwatch.notifier.storage import Cluster

    cluster = Cluster(replica=args.replica or "", lease=parse_duration(args.lease))
    return asyncio.run(serve(loaded, args.listen, storage_spec(args), web_config, cluster))


async def serve(loaded: Loaded, listen: str, storage: str,
                web_config: WebConfig | None = None, cluster: Any = None) -> int:
    """Run until SIGTERM or SIGINT; pending notifications stay in the outbox."""
    from aiohttp import web

    from inferwatch.notifier.api import make_app
    from inferwatch.notifier.service import Notifier
    from inferwatch.notifier.storage import StorageError

    try:
        notifier = Notifier(loaded, storage, cluster=cluster)
        await notifier.start()
    except StorageError as err:
        print(f"notifier: {err}", file=sys.stderr)
        return 1
    gc.freeze()  # the startup heap (apprise, aiohttp, pydantic) out of every full collection
    app = make_app(notifier)
    web_config = web_config or WebConfig()
    app.middlewares.insert(0, middleware(web_config))  # TLS client, basic auth, headers first
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    site = web.TCPSite(runner, host or None, int(port), ssl_context=web_config.ssl_context)
    await site.start()
    log.info("listening on %s, storage in %s", listen, notifier.storage.label)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await notifier.stop()
    return 0


def _request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    """Call the notifier's API; OSError or HTTPError on failure."""
    headers = {"Content-Type": "application/json"}
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            headers["Authorization"] = f"Bearer {f.read().strip()}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(args.url.rstrip("/") + path, data, headers, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    try:
        return _request(args, method, path, body)
    except urllib.error.HTTPError as err:
        raise SystemExit(f"notifier: {method} {path}: HTTP {err.code}: "
                         f"{err.read().decode(errors='replace')[:300]}") from None
    except OSError as err:
        raise SystemExit(f"notifier: cannot reach {args.url}: {err}") from None


def cmd_silence_add(args: argparse.Namespace) -> int:
    try:
        matchers = [m for text in args.matchers for m in parse_matchers(text)]
        duration = parse_duration(args.duration)
    except (MatcherError, ValueError) as err:
        print(f"notifier silence add: {err}", file=sys.stderr)
        return 2
    now = time.time()
    body = {"matchers": [{"name": m.name, "value": m.value, "isRegex": "~" in m.op,
                          "isEqual": not m.op.startswith("!")} for m in matchers],
            "startsAt": rfc3339(now), "endsAt": rfc3339(now + duration),
            "createdBy": args.author or getpass.getuser(), "comment": args.comment}
    print(_call(args, "POST", "/api/v2/silences", body)["silenceID"])
    return 0


def cmd_silence_query(args: argparse.Namespace) -> int:
    query = "&".join("filter=" + urllib.request.quote(m) for m in args.matchers)
    silences = _call(args, "GET", "/api/v2/silences" + (f"?{query}" if query else ""))
    shown = [s for s in silences if args.expired or s["status"]["state"] != "expired"]
    for s in shown:
        if args.quiet:
            print(s["id"])
            continue
        matchers = " ".join(f'{m["name"]}{_op(m)}"{m["value"]}"' for m in s["matchers"])
        print(f'{s["id"]}  {matchers}  until {s["endsAt"]}  {s["status"]["state"]}  '
              f'{s["createdBy"]}  {s["comment"]}')
    return 0


def _op(m: dict[str, Any]) -> str:
    return ("!" if not m.get("isEqual", True) else "=") + ("~" if m["isRegex"] else "") \
        if m["isRegex"] or not m.get("isEqual", True) else "="


def cmd_silence_expire(args: argparse.Namespace) -> int:
    for silence_id in args.ids:
        _call(args, "DELETE", f"/api/v2/silence/{silence_id}")
    return 0
