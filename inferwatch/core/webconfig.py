"""TLS and basic auth from an exporter-toolkit web config file (`--web.config.file`).

The same file node_exporter and dcgm-exporter read: `tls_server_config`,
`http_server_config.headers` and `basic_auth_users` (bcrypt hashes).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import bcrypt
from aiohttp import web
from pydantic import ValidationError

from inferwatch.core.config import ConfigError, Strict, describe, read_yaml

ClientAuth = Literal["NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                     "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"]
TLSVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]


class TLSServerConfig(Strict):
    cert_file: str
    key_file: str
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: str | None = None
    min_version: TLSVersion = "TLS12"
    max_version: TLSVersion = "TLS13"


class HTTPServerConfig(Strict):
    http2: bool = True
    headers: dict[str, str] = {}


class WebConfigFile(Strict):
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = HTTPServerConfig()
    basic_auth_users: dict[str, str] = {}


@dataclass
class WebConfig:
    """What the server needs: an SSL context (or none), users and extra headers."""

    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def load_web_config(path: str | None) -> WebConfig:
    if not path:
        return WebConfig()
    try:
        spec = WebConfigFile.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe(err, path, {})) from None
    base = Path(path).parent
    users = {u: h.encode() for u, h in spec.basic_auth_users.items()}
    for user, hashed in users.items():
        if not hashed.startswith((b"$2a$", b"$2b$", b"$2y$")):
            raise ConfigError([f"{path}: basic_auth_users.{user}: not a bcrypt hash"])
    tls = spec.tls_server_config
    context = _ssl_context(tls, base, path) if tls else None
    return WebConfig(context, users, dict(spec.http_server_config.headers))


_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
             "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_VERIFY = {"NoClientCert": ssl.CERT_NONE, "RequestClientCert": ssl.CERT_OPTIONAL,
           "RequireAnyClientCert": ssl.CERT_REQUIRED, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
           "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}


def _ssl_context(tls: TLSServerConfig, base: Path, source: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[tls.min_version]
    ctx.maximum_version = _VERSIONS[tls.max_version]
    try:
        ctx.load_cert_chain(base / tls.cert_file, base / tls.key_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError([f"{source}: tls_server_config.cert_file: cannot load certificate "
                           f"and key: {err}"]) from None
    ctx.verify_mode = _VERIFY[tls.client_auth_type]
    if tls.client_auth_type == "NoClientCert" and tls.client_ca_file:  # exporter-toolkit too
        raise ConfigError([f"{source}: tls_server_config.client_ca_file: a client CA without "
                           "a client_auth_type (NoClientCert) checks nothing"])
    if tls.client_auth_type != "NoClientCert":
        if not tls.client_ca_file:
            raise ConfigError([f"{source}: tls_server_config.client_ca_file: required when "
                               f"client_auth_type is {tls.client_auth_type}"])
        try:
            ctx.load_verify_locations(base / tls.client_ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError([f"{source}: tls_server_config.client_ca_file: {err}"]) from None
    return ctx


BCRYPT_MAX_PASSWORD = 72  # bytes


class BasicAuth:
    """Checks `Authorization: Basic`. bcrypt runs off the event loop; a pass is cached."""

    def __init__(self, users: dict[str, bytes]):
        self._users = users
        self._passed: set[bytes] = set()
        # an unknown user is checked against this hash of the same cost, so the answer's
        # timing does not tell which user names exist (as exporter-toolkit does)
        cost = int(next(iter(users.values()))[4:6]) if users else 4
        self._dummy = bcrypt.hashpw(b"inferwatch", bcrypt.gensalt(rounds=cost))

    async def allows(self, header: str | None) -> bool:
        credentials = _credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        if len(password) > BCRYPT_MAX_PASSWORD:  # bcrypt refuses (raises), so never a match
            return False
        if user not in self._users:
            await asyncio.to_thread(bcrypt.checkpw, password, self._dummy)
            return False
        hashed = self._users[user]
        key = hashlib.sha256(hashed + b"\0" + password).digest()
        if key in self._passed:
            return True
        if await asyncio.to_thread(bcrypt.checkpw, password, hashed):
            self._passed.add(key)
            return True
        return False


def _credentials(header: str | None) -> tuple[str, bytes] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:], validate=True).partition(b":")
        return (user.decode(), password) if sep else None
    except (binascii.Error, UnicodeDecodeError):
        return None


def middleware(config: WebConfig):
    """An aiohttp middleware adding the configured headers and, if set, basic auth."""
    auth = BasicAuth(config.users) if config.users else None

    @web.middleware
    async def guard(request: web.Request, handler):
        if auth and not await auth.allows(request.headers.get("Authorization")):
            response = web.Response(status=401, text="Unauthorized\n",
                                    headers={"WWW-Authenticate": 'Basic realm="inferwatch"'})
        else:
            try:
                response = await handler(request)
            except web.HTTPException as err:  # aiohttp's own answers (404, 405) get them too
                err.headers.update(config.headers)
                raise
        response.headers.update(config.headers)
        return response

    return guard
