"""The notifier's web page: alerts by group, silences (list, create, edit, expire) and the
notification log, server-rendered HTML behind the API's authentication.

`register(app, key)` is the one call notifier/api.py makes: it adds the routes under `/` and
`/ui/` and the page's guard (bearer token sign-in, CSRF, headers; notifier/ui/security.py).
"""

from __future__ import annotations

from aiohttp import web

from inferwatch.notifier.service import Notifier
from inferwatch.notifier.ui import forms, security, views
from inferwatch.notifier.ui.data import NOTIFIER
from inferwatch.notifier.ui.fragments import FRAGMENTS, Fragments


def register(app: web.Application, key: web.AppKey[Notifier]) -> None:
    notifier = app[key]
    app[NOTIFIER] = notifier
    app[FRAGMENTS] = Fragments()
    guard = security.Guard(notifier.loaded.bearer_token)
    app[security.GUARD] = guard
    app.middlewares.append(security.middleware(guard))
    app.router.add_get("/", views.root)
    app.router.add_get("/ui", views.root)
    app.router.add_get("/ui/", views.root)
    app.router.add_get("/ui/alerts", views.alerts_page)
    app.router.add_get("/ui/silences", views.silences_page)
    app.router.add_post("/ui/silences", forms.save_silence)
    app.router.add_get("/ui/silences/new", forms.new_silence)
    app.router.add_get("/ui/silences/{id}/edit", forms.edit_silence)
    app.router.add_post("/ui/silences/{id}/expire", forms.expire_silence)
    app.router.add_get("/ui/notifications", views.notifications_page)
    app.router.add_route("*", "/ui/login", security.login)
    app.router.add_post("/ui/logout", security.logout)
