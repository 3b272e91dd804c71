"""Builders for the notifier tests: configs and alert bodies (the webhook is tests/support)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferwatch.notifier.config import Loaded, load_notifier_config

KEY_HEADER = "X-Inferwatch-Notification-Key"


def write_config(tmp_path: Path, text: str, name: str = "notifier.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Loaded:
    return load_notifier_config(write_config(tmp_path, text))


def alert_body(name: str, labels: dict[str, str] | None = None, ends: str | None = None,
               **annotations: str) -> dict[str, Any]:
    body: dict[str, Any] = {"labels": {"alertname": name, **(labels or {})},
                            "annotations": annotations}
    if ends:
        body["endsAt"] = ends
    return body
