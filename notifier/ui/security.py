"""The web page's guard: the API's bearer token, a CSRF token on every POST, strict headers.

It runs inside the API's middlewares, so the exporter-toolkit web config (TLS, client
certificates, basic auth, headers) applies first, as for the API. With `web.bearer_token` set,
a page needs `Authorization: Bearer <token>` or the session cookie that signing in with the
token sets (a browser cannot add the header by itself); the cookie holds an HMAC of the token,
never the token, and is HttpOnly and SameSite=Strict.

CSRF: a random cookie, and in every form a hidden `csrf_token` that is an HMAC of it under a
per-process key; a POST whose token does not match, or whose Origin is another site, is
refused with 403 before its handler runs. Every page gets a CSP nonce for its inline style and
script, `default-src 'none'`, `frame-ancestors 'none'` and no caching.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from inferwatch.notifier.ui import render
from inferwatch.notifier.ui.render import el, hidden

CSRF_COOKIE = "inferwatch_csrf"
SESSION_COOKIE = "inferwatch_session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Guard:
    token: str | None  # the API's bearer token; None: no sign-in
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def csrf_for(self, seed: str) -> str:
        return hmac.new(self.key, seed.encode(), hashlib.sha256).hexdigest()

    def session(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), b"inferwatch-ui-session", hashlib.sha256).hexdigest()

    def signed_in(self, request: web.Request) -> tuple[bool, bool]:
        """(allowed, by the session cookie)."""
        if self.token is None:
            return True, False
        header = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(header, f"Bearer {self.token}".encode()):
            return True, False
        cookie = request.cookies.get(SESSION_COOKIE, "").encode()
        ok = hmac.compare_digest(cookie, self.session().encode())
        return ok, ok


GUARD = web.AppKey("inferwatch_ui_guard", Guard)


def is_ui(path: str) -> bool:
    return path == "/" or path == "/ui" or path.startswith("/ui/")


def csrf(request: web.Request) -> str:
    return request["ui_csrf"]


def nonce(request: web.Request) -> str:
    return request["ui_nonce"]


def respond(request: web.Request, title: str, current: str, body: render.Safe,
            status: int = 200) -> web.Response:
    """A whole page, with the request's nonce and CSRF token."""
    text = render.page(title, current, body, nonce(request), csrf(request),
                       request.get("ui_session", False))
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _same_origin(request: web.Request) -> bool:
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.host


async def _csrf_ok(request: web.Request, guard: Guard, seed: str) -> bool:
    if not _same_origin(request):
        return False
    form = await request.post()  # kept on the request for the handler
    given = str(form.get("csrf_token", ""))
    return hmac.compare_digest(given.encode(), guard.csrf_for(seed).encode())


def _headers(response: web.StreamResponse, request: web.Request) -> None:
    n = request["ui_nonce"]
    response.headers.update({
        "Content-Security-Policy": f"default-src 'none'; style-src 'nonce-{n}'; "
        f"script-src 'nonce-{n}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})


def middleware(guard: Guard) -> Callable:
    @web.middleware
    async def ui_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_ui(request.path):
            return await handler(request)
        seed = request.cookies.get(CSRF_COOKIE)
        fresh = not seed or len(seed) > 100
        if fresh:
            seed = request["ui_seed"] = secrets.token_urlsafe(32)
        request["ui_nonce"] = secrets.token_urlsafe(16)
        request["ui_csrf"] = guard.csrf_for(seed)
        allowed, by_cookie = guard.signed_in(request)
        request["ui_session"] = by_cookie
        try:
            if request.method == "POST" and (fresh or not await _csrf_ok(request, guard, seed)):
                response: web.StreamResponse = refused(request)
            elif not allowed and request.path != "/ui/login":
                response = login_page(request, status=401)
            else:
                response = await handler(request)
        except web.HTTPException as err:  # aiohttp's own 404 and 405 get the headers too
            _finish(err, request, fresh)
            raise
        _finish(response, request, fresh)
        return response
    return ui_guard


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST, the browser GETs the result."""
    return web.Response(status=303, headers={"Location": location})


def _finish(response: web.StreamResponse, request: web.Request, fresh: bool) -> None:
    _headers(response, request)
    if fresh:
        response.set_cookie(CSRF_COOKIE, request["ui_seed"], httponly=True, samesite="Strict",
                            secure=request.secure, path="/")


def refused(request: web.Request) -> web.Response:
    body = el("p", {"class": "msg error"}, "This form is stale or came from another site "
              "(missing or wrong CSRF token). Reload the page and submit it again.")
    return respond(request, "Refused", "", body, status=403)


def login_page(request: web.Request, status: int = 200, error: str = "") -> web.Response:
    target = _local(request.query.get("next") or request.path_qs)
    body = el("form", {"method": "post", "action": "/ui/login"},
              el("p", {"class": "msg error"}, error) if error else "",
              el("p", {}, "This notifier needs its API bearer token."),
              el("label", {"class": "f", "for": "token"}, "Bearer token"),
              el("input", {"type": "password", "name": "token", "id": "token",
                           "autocomplete": "current-password", "required": True}),
              hidden("next", target), hidden("csrf_token", csrf(request)), " ",
              el("button", {"type": "submit"}, "Sign in"))
    return respond(request, "Sign in", "", body, status=status)


_LOCAL = re.compile(r"/(?![/\\])[\x21-\x7e]*")  # no //host, no /\host, no blanks or controls


def _local(target: str) -> str:
    """A path on this server to go back to; anything else (//host, a scheme, a tab that a
    browser would drop to make //host) is /ui/alerts."""
    if not _LOCAL.fullmatch(target) or "\\" in target or target.startswith("/ui/log"):
        return "/ui/alerts"
    return target


async def login(request: web.Request) -> web.StreamResponse:
    guard = request.app[GUARD]
    if guard.token is None:
        return redirect("/ui/alerts")
    if request.method == "GET":
        return login_page(request)
    form = await request.post()
    given = str(form.get("token", "")).strip().encode()
    if not hmac.compare_digest(given, guard.token.encode()):
        return login_page(request, 401, "Wrong token.")
    response = redirect(_local(str(form.get("next", ""))))
    response.set_cookie(SESSION_COOKIE, guard.session(), httponly=True, samesite="Strict",
                        secure=request.secure, path="/")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = redirect("/ui/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


