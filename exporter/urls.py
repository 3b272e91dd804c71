"""URLs as they may be shown: in a log line, an error message or a label value."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")
_QUERY = re.compile(r"(://[^?#\s'\"]*)[?#][^\s'\"]*")


def redact(text: str) -> str:
    """`text` (a URL, or a message holding URLs) with no user info (a basic-auth password),
    query or fragment (a token) left in its URLs."""
    return _QUERY.sub(r"\1", _USERINFO.sub("", text))
