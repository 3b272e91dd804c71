"""A small in-cluster Kubernetes API client: list and watch pods, over one aiohttp session.

Credentials are the pod's service account (a bearer token re-read as kubelet rotates it, and
the cluster CA); the API server is KUBERNETES_SERVICE_HOST/PORT. Every path is overridable
so tests can point it at a local server. Bodies and single watch events are size-capped.
Every failure surfaces as a KubeError (`Gone` for 410), never as an aiohttp exception.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PODS_PATH = "/api/v1/pods"
TOKEN_REREAD_S = 60.0  # projected tokens rotate hourly; kubelet rewrites the file early
MAX_BODY = 64 << 20
MAX_EVENT = 4 << 20


class KubeError(Exception):
    """A request to the API server failed (network, HTTP status, body, decoding)."""


class ApiError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Gone(ApiError):
    """410: the resourceVersion (or continue token) is too old; list again."""


@dataclass(frozen=True)
class KubeConfig:
    """Where the API server is and which credentials to present."""

    api_url: str
    token_path: str | None = None
    ca_path: str | None = None

    @classmethod
    def in_cluster(cls, environ: Mapping[str, str] = os.environ,
                   service_account: Path = SERVICE_ACCOUNT) -> KubeConfig:
        """The config a pod gets from its environment and mounted service account."""
        host = environ.get("KUBERNETES_SERVICE_HOST", "")
        port = environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise KubeError("not in a cluster: KUBERNETES_SERVICE_HOST is not set")
        if ":" in host:  # an IPv6 service address
            host = f"[{host}]"
        return cls(f"https://{host}:{port}", str(service_account / "token"),
                   str(service_account / "ca.crt"))


class KubeClient:
    """Lists and watches pods; `close()` when done. One session, created on first use."""

    def __init__(self, config: KubeConfig, *, timeout: float = 10.0,
                 max_body: int = MAX_BODY, max_event: int = MAX_EVENT):
        self.config = config
        self.timeout = timeout
        self.max_body, self.max_event = max_body, max_event
        self._ssl = _ssl_context(config)
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[float, str] | None = None  # (read at, token)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def list_pods(self, field_selector: str, limit: int = 500) -> tuple[list[dict], str]:
        """Every pod matching the selector (following `continue`) and the list's version."""
        items: list[dict] = []
        params = {"fieldSelector": field_selector, "limit": str(limit)}
        while True:
            body = await self._get_json(params)
            page = body.get("items") or []
            if not isinstance(page, list) or not all(isinstance(i, dict) for i in page):
                raise KubeError("list: items is not a list of objects")
            items += page
            meta = body.get("metadata") or {}
            if not meta.get("continue"):
                return items, str(meta.get("resourceVersion", ""))
            params["continue"] = meta["continue"]

    async def watch_pods(self, field_selector: str, resource_version: str,
                         timeout_seconds: int = 300) -> AsyncIterator[tuple[str, dict]]:
        """(type, object) events after `resource_version` until the server ends the watch."""
        params = {"fieldSelector": field_selector, "watch": "1", "allowWatchBookmarks": "true",
                  "resourceVersion": resource_version, "timeoutSeconds": str(timeout_seconds)}
        timeout = aiohttp.ClientTimeout(connect=self.timeout,
                                        sock_read=timeout_seconds + self.timeout)
        try:
            async with self._session_().get(self._url(), params=params, headers=self._headers(),
                                            timeout=timeout) as resp:
                await _check(resp)
                async for line in _lines(resp, self.max_event):
                    yield _event(line)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise KubeError(f"watch: {type(err).__name__}: {err}") from err

    async def _get_json(self, params: dict[str, str]) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self._session_().get(self._url(), params=params, headers=self._headers(),
                                            timeout=timeout) as resp:
                await _check(resp)
                body = await _read_capped(resp, self.max_body)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise KubeError(f"list: {type(err).__name__}: {err}") from err
        try:
            data = json.loads(body)
        except ValueError as err:
            raise KubeError(f"list: body is not JSON: {err}") from err
        if not isinstance(data, dict):
            raise KubeError("list: body is not a JSON object")
        return data

    def _session_(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl else True, limit=4)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _url(self) -> str:
        return self.config.api_url.rstrip("/") + PODS_PATH

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self._bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _bearer(self) -> str:
        """The service-account token, re-read every TOKEN_REREAD_S (kubelet rotates it)."""
        path = self.config.token_path
        if not path:
            return ""
        now = time.monotonic()
        if self._token is None or now - self._token[0] > TOKEN_REREAD_S:
            try:
                self._token = (now, Path(path).read_text(encoding="utf-8").strip())
            except OSError as err:
                raise KubeError(f"cannot read the service-account token {path}: "
                                f"{err.strerror or err}") from err
        return self._token[1]


def _ssl_context(config: KubeConfig) -> ssl.SSLContext | None:
    if not config.api_url.startswith("https:") or not config.ca_path:
        return None
    try:
        return ssl.create_default_context(cafile=config.ca_path)
    except (OSError, ssl.SSLError) as err:
        raise KubeError(f"cannot load the cluster CA {config.ca_path}: {err}") from err


async def _check(resp: aiohttp.ClientResponse) -> None:
    """Raise ApiError (Gone for 410) unless the status is 200, with the Status message."""
    if resp.status == 200:
        return
    raw = await resp.content.read(64 << 10)
    try:
        message = str(json.loads(raw).get("message", ""))
    except (ValueError, AttributeError):
        message = raw.decode(errors="replace")[:200]
    cls = Gone if resp.status == 410 else ApiError
    raise cls(resp.status, message or resp.reason or "")


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    chunks, size = [], 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise KubeError(f"list: body over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _lines(resp: aiohttp.ClientResponse, cap: int) -> AsyncIterator[bytes]:
    """Newline-delimited watch events, none longer than `cap` bytes."""
    buffer = b""
    async for chunk in resp.content.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > cap or any(len(line) > cap for line in lines):
            raise KubeError(f"watch: an event over {cap} bytes")
        for line in lines:
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


def _event(line: bytes) -> tuple[str, dict]:
    """(type, object) of one watch line; an ERROR event raises (Gone for code 410)."""
    try:
        event = json.loads(line)
        kind, obj = str(event["type"]), event["object"]
    except (ValueError, KeyError, TypeError) as err:
        raise KubeError(f"watch: malformed event: {err}") from err
    if not isinstance(obj, dict):
        raise KubeError("watch: event object is not a JSON object")
    if kind == "ERROR":
        code = obj.get("code")
        code = code if isinstance(code, int) else 500
        cls = Gone if code == 410 else ApiError
        raise cls(code, str(obj.get("message") or obj.get("reason") or "watch error"))
    return kind, obj
