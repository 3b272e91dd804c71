"""Logging as the Prometheus ecosystem writes it: logfmt (or JSON), `level=warn`, fields apart.

A call's `extra={...}` fields become their own `key=value` pairs (or JSON keys), after `msg`,
so a log pipeline can filter on them without parsing the message.
"""

from __future__ import annotations

import json
import logging
import time

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "error": logging.ERROR}
FORMATS = ("logfmt", "json")
_NAMES = {logging.WARNING: "warn", logging.CRITICAL: "error"}
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime",
                                                                       "taskName"}


def _level(record: logging.LogRecord) -> str:
    return _NAMES.get(record.levelno, record.levelname.lower())


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, object]:
    """ts, level, logger, msg, then the record's extra fields, then exc (the traceback)."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    fields: dict[str, object] = {"ts": f"{ts}.{int(record.msecs):03d}Z", "level": _level(record),
                                 "logger": record.name, "msg": record.getMessage()}
    fields.update((k, v) for k, v in vars(record).items()
                  if k not in _STANDARD and not k.startswith("_"))
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    if record.exc_text:
        fields["exc"] = record.exc_text
    return fields


def _logfmt_value(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\\\n\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    """`ts=… level=info logger=… msg="…" key=value …`, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record, self)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the same keys as logfmt."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record, self), default=str, ensure_ascii=False)


def formatter(fmt: str = "logfmt") -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else LogfmtFormatter()


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
