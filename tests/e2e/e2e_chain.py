"""Helpers for the end-to-end chain: processes with their logs, a recording webhook receiver,
an SMTP mailbox (aiosmtpd), bounded polling and the configuration files of every component."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from tests.support.procs import PYTHON, ROOT

TOKEN = "e2e-notifier-token"


# --- processes ------------------------------------------------------------------------------

@dataclass
class E2eProc:
    name: str
    proc: asyncio.subprocess.Process
    log: Path

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (rc={self.proc.returncode}) {self.log}\n{text[-chars:]}"


@dataclass
class E2eProcs:
    """Every process of the chain, each logging to its own file; stopped in reverse order."""

    logs: Path
    running: list[E2eProc] = field(default_factory=list)

    async def start(self, name: str, *argv: str) -> E2eProc:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=out, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, cwd=ROOT)
        p = E2eProc(name, proc, log)
        self.running.append(p)
        return p

    async def inferwatch(self, name: str, *args: str) -> E2eProc:
        return await self.start(name, PYTHON, "-m", "inferwatch.cli", *args)

    async def run_inferwatch(self, name: str, *args: str, timeout: float = 30) -> str:
        """Run a one-shot `inferwatch` command to completion; its output. Fails on rc != 0."""
        p = await self.inferwatch(name, *args)
        self.running.remove(p)
        try:
            rc = await asyncio.wait_for(p.proc.wait(), timeout)
        except TimeoutError:
            p.proc.kill()
            await p.proc.wait()
            raise AssertionError(f"{name} ran over {timeout}s\n{p.tail()}") from None
        assert rc == 0, p.tail()
        return p.log.read_text(encoding="utf-8", errors="replace")

    def check_alive(self) -> None:
        dead = [p for p in self.running if p.proc.returncode is not None]
        if dead:
            raise AssertionError("process(es) exited early:\n" + self.report(dead))

    def report(self, procs: list[E2eProc] | None = None) -> str:
        return "\n".join(p.tail() for p in (self.running if procs is None else procs))

    async def stop(self) -> None:
        for p in reversed(self.running):
            if p.proc.returncode is None:
                p.proc.terminate()
        for p in reversed(self.running):
            try:
                await asyncio.wait_for(p.proc.wait(), 5)
            except TimeoutError:
                p.proc.kill()
                await p.proc.wait()


async def e2e_until(predicate: Callable[[], bool], timeout: float, what: str,
                    procs: E2eProcs | None = None, interval: float = 0.05) -> float:
    """Poll until predicate() holds; the seconds it took. Fails naming `what`, with the logs."""
    start = time.monotonic()
    while not predicate():
        if procs is not None:
            procs.check_alive()
        if time.monotonic() - start > timeout:
            logs = "\n" + procs.report() if procs is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{logs}")
        await asyncio.sleep(interval)
    return time.monotonic() - start


async def e2e_get(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    """GET url → parsed JSON, or None when it does not answer 200 (yet)."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2), **kwargs) as resp:
            if resp.status != 200:
                return None
            return await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def e2e_samples(session: aiohttp.ClientSession, url: str) -> dict[str, float] | None:
    """The samples of a /metrics page as {'name{a="x",b="y"}': value} (labels sorted)."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
            if resp.status != 200:
                return None
            text = await resp.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


async def e2e_status(session: aiohttp.ClientSession, url: str) -> int | None:
    """The HTTP status of GET url, or None when nothing answers (yet)."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return resp.status
    except (aiohttp.ClientError, TimeoutError):
        return None


async def e2e_poll(fetch: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool],
                   timeout: float, what: str, procs: E2eProcs,
                   interval: float = 0.2) -> Any:
    """Call fetch() until accept(result); that result. Fails naming `what`, with the logs."""
    start = time.monotonic()
    last: Any = None
    while True:
        last = await fetch()
        if accept(last):
            return last
        procs.check_alive()
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(last: {last!r})\n{procs.report()}")
        await asyncio.sleep(interval)


# --- the receivers at the end of the chain --------------------------------------------------

@dataclass
class Mail:
    msg: email.message.EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    at: float


class E2eMailbox:
    """An aiosmtpd handler keeping every message, parsed, with its envelope."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append(Mail(msg, envelope.mail_from, list(envelope.rcpt_tos),
                               time.monotonic()))
        return "250 OK"


def mail_text(msg: email.message.EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def mail_html(msg: email.message.EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()


# --- configuration files --------------------------------------------------------------------

def derived_kv_rule_file(path: Path, window: str, for_: str, threshold: float) -> dict:
    """The default pack's KVCacheNearFull rule with its timings shortened for a compressed
    incident, in a group evaluated every second; written to `path`, returned."""
    pack = yaml.safe_load(DEFAULT_PACK.read_text(encoding="utf-8"))
    rule = next(r for g in pack["groups"] for r in g["rules"]
                if r.get("alert") == "KVCacheNearFull")
    rule = {**rule, "window": window, "for": for_, "threshold": threshold}
    rule.pop("keep_firing_for", None)
    doc = {"groups": [{"name": "e2e-kv-cache", "interval": "1s", "rules": [rule]}]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return rule


def write_yaml(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
