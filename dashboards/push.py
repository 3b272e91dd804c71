"""Push dashboards to Grafana's HTTP API: make sure the folder exists, then import each one.

Uses `GET/POST /api/folders` and `POST /api/dashboards/db` with `overwrite: true`, authorised by
a bearer token (a service-account token). The token goes into the Authorization header only:
never into a log line, an exception or an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiohttp

MESSAGE = "inferwatch dashboards push"


class GrafanaError(Exception):
    """Grafana refused a request or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class Pushed:
    """One imported dashboard as Grafana reported it."""

    uid: str
    url: str
    version: int


def folder_uid(name: str) -> str:
    """A stable folder uid from its name (Grafana allows up to 40 of [a-zA-Z0-9_-])."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:40] or "inferwatch"


async def _call(session: aiohttp.ClientSession, method: str, path: str,
                body: dict | None = None, ok: tuple[int, ...] = (200,)) -> tuple[int, dict]:
    """One API call; any status outside `ok` becomes a GrafanaError naming the call."""
    try:
        async with session.request(method, path.lstrip("/"), json=body) as resp:
            status = resp.status
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            data = data if isinstance(data, dict) else {}
    except (aiohttp.ClientError, TimeoutError) as err:
        raise GrafanaError(f"{method} {path}: cannot reach Grafana: "
                           f"{type(err).__name__}: {err}") from None
    if status not in ok:
        reason = data.get("message") or data.get("status") or "no message"
        hint = {401: " (is the token valid?)", 403: " (does the token's role allow this?)"}
        raise GrafanaError(f"{method} {path}: HTTP {status}: {reason}{hint.get(status, '')}")
    return status, data


async def ensure_folder(session: aiohttp.ClientSession, name: str) -> str:
    """The uid of the folder titled `name`, created when missing."""
    uid = folder_uid(name)
    status, _ = await _call(session, "GET", f"/api/folders/{uid}", ok=(200, 404))
    if status == 404:
        await _call(session, "POST", "/api/folders", {"uid": uid, "title": name})
    return uid


async def push(grafana_url: str, token: str, dashboards: dict[str, dict], folder: str,
               timeout: float = 10.0) -> list[Pushed]:
    """Import every dashboard into `folder`, overwriting earlier versions."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    base = grafana_url.rstrip("/") + "/"
    async with aiohttp.ClientSession(base_url=base, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        uid = await ensure_folder(session, folder)
        pushed = []
        for dashboard in dashboards.values():
            body = {"dashboard": {**dashboard, "id": None}, "folderUid": uid,
                    "overwrite": True, "message": MESSAGE}
            _, data = await _call(session, "POST", "/api/dashboards/db", body)
            pushed.append(Pushed(str(data.get("uid", dashboard["uid"])), str(data.get("url", "")),
                                 int(data.get("version", 0))))
        return pushed
