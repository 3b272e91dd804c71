"""Keep secrets out of log lines, error texts and labels: the one redactor.

`redact(text)` strips user info and queries from the URLs in a text (engine targets, API
servers, OTLP endpoints). For the notifier, whose channels hold secrets (apprise logs full URLs
and header values at DEBUG), a filter on the loggers that could carry a URL replaces every
known secret (whole URLs and the parts that are secret on their own: passwords, tokens, header
values) by `<secret>`, and on apprise's and urllib3's records any URL at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "<secret>"
MIN_LENGTH = 4
# Schemes whose host and path segments are credentials (Slack's three tokens and the like).
TOKEN_SCHEMES = {"slack", "discord", "msteams", "tgram", "pover", "mmost", "rocket", "gotify",
                 "gotifys", "ntfy", "ntfys", "pagerduty", "opsgenie", "zulip", "matrix", "matrixs",
                 "https", "http"}
_SECRET_KEY = re.compile(r"pass|secret|token|key|auth|sig|webhook|apikey|cred", re.I)
_ANY_URL = re.compile(r"\b([a-z][a-z0-9+.-]{1,15}://)[^\s'\"<>]+", re.I)
_URL_LOGGERS = ("apprise", "urllib3")
_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")
_QUERY = re.compile(r"(://[^?#\s'\"]*)[?#][^\s'\"]*")
LOGGERS = ("inferwatch.notifier", "apprise", "urllib3.connectionpool", "urllib3.util.retry",
           "requests", "aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.client",
           "asyncio")


def redact(text: str) -> str:
    """`text` (a URL, or a message holding URLs) with no user info (a basic-auth password),
    query or fragment (a token) left in its URLs."""
    return _QUERY.sub(r"\1", _USERINFO.sub("", text))


def secret_parts(url: str) -> set[str]:
    """The URL and each piece of it that is a secret on its own."""
    parts = {url}
    split = urlsplit(url)
    if split.password:
        parts.add(split.password)
    host = split.netloc.rpartition("@")[2].split(":")[0]  # as written: tokens are case-sensitive
    tokenish = split.scheme.lower() in TOKEN_SCHEMES
    if tokenish and host and "." not in host and host != "localhost":
        parts.add(host)
    for segment in split.path.split("/"):
        if (tokenish and len(segment) >= 8) or len(segment) >= 20:
            parts.add(segment)
    for key, value in parse_qsl(split.query, keep_blank_values=False):
        if key.startswith("+") or _SECRET_KEY.search(key):
            parts.add(value)
            parts.update(value.split()[1:])  # "Bearer TOKEN": the token alone
    return {p for piece in parts for p in (piece, unquote(piece)) if len(p) >= MIN_LENGTH}


class Redactor(logging.Filter):
    """A logging filter (never drops a record) that rewrites secrets out of it."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= MIN_LENGTH)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact(self, text: str, urls: bool = False) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _ANY_URL.sub(r"\1" + MASK, text) if urls else text

    def filter(self, record: logging.LogRecord) -> bool:
        urls = record.name.startswith(_URL_LOGGERS)
        message = record.getMessage()
        clean = self.redact(message, urls)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text, urls)
        return True


REDACTOR = Redactor()


def install(secrets: Iterable[str]) -> Redactor:
    """Add secrets to the process-wide filter and attach it where secrets could pass."""
    REDACTOR.add(p for s in secrets for p in secret_parts(s))
    names = [*LOGGERS, *(n for n in logging.root.manager.loggerDict
                         if n.startswith("inferwatch.notifier."))]
    for name in names:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)
    for handler in logging.getLogger().handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
    return REDACTOR
