"""Keep secrets out of log lines, error texts and labels: the one redactor.

`redact(text)` strips user info and queries from the URLs in a text (engine targets, API
servers, OTLP endpoints). For the notifier, whose channels hold secrets (apprise logs full URLs
and header values at DEBUG), a filter on the loggers that could carry a URL replaces every
known secret (whole URLs and the parts that are secret on their own: passwords, tokens, header
values) by `<secret>`, and on apprise's and urllib3's records any URL at all. A secret is
masked as written, decoded, percent-encoded (either hex case) and form-encoded, and a URL's
user and password also as the base64 of an `Authorization: Basic` header; whatever follows
`Bearer`, and a base64 `user:password` after `Basic`, is masked even when unknown. Records'
messages, tracebacks (`exc_text`) and stack info are all rewritten.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "<secret>"
MIN_LENGTH = 4
# Schemes whose host and path segments are credentials (Slack's three tokens and the like).
TOKEN_SCHEMES = {"slack", "discord", "msteams", "tgram", "pover", "mmost", "rocket", "gotify",
                 "gotifys", "ntfy", "ntfys", "pagerduty", "opsgenie", "zulip", "matrix", "matrixs",
                 "https", "http"}
_SECRET_KEY = re.compile(r"pass|secret|token|key|auth|sig|webhook|apikey|cred", re.I)
_ANY_URL = re.compile(r"\b([a-z][a-z0-9+.-]{1,15}://)(?:[^\s'\"<>]|<secret>)+", re.I)
_URL_LOGGERS = ("apprise", "urllib3")
_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")
_QUERY = re.compile(r"(://[^?#\s'\"]*)[?#][^\s'\"]*")
LOGGERS = ("inferwatch.notifier", "apprise", "urllib3.connectionpool", "urllib3.util.retry",
           "requests", "aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.client",
           "asyncio")


# the same, in a percent-encoded URL (a URL inside another one's query, say)
_ENC_USERINFO = re.compile(r"(?i)(?<=%3A%2F%2F)(?:(?!%2F)[^/?#\s&'\"])*%40")
_ENC_QUERY = re.compile(r"(?i)(%3A%2F%2F(?:(?!%3F|%23)[^\s&'\"?#])*)(?:%3F|%23)[^\s&'\"]*")
# credentials after an auth scheme, wherever they appear (headers, dict reprs, bodies)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[^\s'\",;&)}\]]+")
_BASIC = re.compile(r"(?i)\b(basic)(\s+|%20|\+)([A-Za-z0-9+/]{4,}={0,2})")
_HEX = re.compile(r"%[0-9A-F]{2}")


def _basic(match: re.Match[str]) -> str:
    """Mask `Basic X` when X is base64 of `user:password` (not "Basic setup complete")."""
    try:
        decoded = base64.b64decode(match.group(3), validate=True)
    except ValueError:
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{MASK}" if b":" in decoded else match.group(0)


def mask_credentials(text: str) -> str:
    """`text` with what follows `Bearer` and a base64 `Basic` masked."""
    return _BASIC.sub(_basic, _BEARER.sub(r"\1\2" + MASK, text))


def redact(text: str) -> str:
    """`text` (a URL, or a message holding URLs) with no user info (a basic-auth password),
    query or fragment (a token) left in its URLs, percent-encoded ones included, and no
    Bearer or Basic credentials."""
    text = _QUERY.sub(r"\1", _USERINFO.sub("", text))
    text = _ENC_QUERY.sub(r"\1", _ENC_USERINFO.sub("", text))
    return mask_credentials(text)


def _encodings(piece: str) -> set[str]:
    """A secret as it may be written: as is, decoded, percent-encoded (either hex case), and
    form-encoded."""
    forms = {piece, unquote(piece)}
    for plain in list(forms):
        for encoded in (quote(plain, safe=""), quote_plus(plain, safe="")):
            forms |= {encoded, _HEX.sub(lambda m: m.group().lower(), encoded)}
    return forms


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
    if split.username and split.password is None and len(split.username) >= 8:
        parts.add(split.username)  # https://TOKEN@host
    for key, value in parse_qsl(split.query, keep_blank_values=False):
        if key.startswith("+") or _SECRET_KEY.search(key):
            parts.add(value)
            parts.update(value.split()[1:])  # "Bearer TOKEN": the token alone
    found = {p for piece in parts for p in _encodings(piece) if len(p) >= MIN_LENGTH}
    if split.username is not None:  # the Authorization: Basic header sent with it
        for user, password in {(split.username, split.password or ""),
                               (unquote(split.username), unquote(split.password or ""))}:
            found.add(base64.b64encode(f"{user}:{password}".encode()).decode())
    return found


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
        text = mask_credentials(text)
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
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info, urls)
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
