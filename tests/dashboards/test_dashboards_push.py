"""`inferwatch dashboards push` against a loopback server answering as Grafana's HTTP API does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from inferwatch.cli import main
from inferwatch.dashboards.build import build_all
from tests.support.procs import free_port

TOKEN = "glsa_s3cr3t-token-value"


@dataclass
class FakeGrafana:
    """The parts of Grafana's folder and dashboard API that push uses, with its checks."""

    folders: dict[str, str] = field(default_factory=dict)
    dashboards: dict[str, dict] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_dashboards: int | None = None

    @web.middleware
    async def auth(self, request: web.Request, handler):
        self.calls.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Invalid API key"}, status=401)
        if request.method == "POST" and request.content_type != "application/json":
            return web.json_response({"message": "bad content type"}, status=415)
        return await handler(request)

    async def get_folder(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        if uid not in self.folders:
            return web.json_response({"message": "folder not found"}, status=404)
        return web.json_response({"uid": uid, "title": self.folders[uid]})

    async def post_folder(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["uid"] in self.folders:
            return web.json_response({"message": "folder with same uid exists"}, status=409)
        self.folders[body["uid"]] = body["title"]
        return web.json_response({"uid": body["uid"], "title": body["title"], "id": 1})

    async def post_dashboard(self, request: web.Request) -> web.Response:
        if self.fail_dashboards:
            return web.json_response({"message": "database is locked"},
                                     status=self.fail_dashboards)
        body = await request.json()
        dash = body.get("dashboard")
        if not isinstance(dash, dict) or not dash.get("title") or not dash.get("uid"):
            return web.json_response({"message": "Dashboard title cannot be empty"}, status=400)
        if dash.get("id") is not None or not isinstance(dash.get("panels"), list):
            return web.json_response({"message": "bad dashboard"}, status=400)
        if body.get("folderUid") not in self.folders:
            return web.json_response({"message": "folder not found"}, status=400)
        uid = dash["uid"]
        if uid in self.dashboards and body.get("overwrite") is not True:
            return web.json_response({"status": "version-mismatch", "message": "The dashboard "
                                      "has been changed by someone else"}, status=412)
        version = self.dashboards.get(uid, {}).get("version", 0) + 1
        self.dashboards[uid] = {"body": body, "version": version}
        return web.json_response({"id": 7, "uid": uid, "url": f"/d/{uid}/x", "status": "success",
                                  "version": version})

    def app(self) -> web.Application:
        api = web.Application(middlewares=[self.auth])
        api.router.add_get("/api/folders/{uid}", self.get_folder)
        api.router.add_post("/api/folders", self.post_folder)
        api.router.add_post("/api/dashboards/db", self.post_dashboard)
        return api


async def push(*args: str) -> int:
    """Run the real command in a worker thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, ["dashboards", "push", *args])


@pytest.fixture
async def grafana(aiohttp_server):
    fake = FakeGrafana()
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url("/"))


def no_secret(capsys, caplog) -> str:
    out, err = capsys.readouterr()
    for text in (out, err, caplog.text):
        assert TOKEN not in text
    return out + err


async def test_push_creates_the_folder_and_every_dashboard(grafana, monkeypatch, capsys, caplog):
    fake, url = grafana
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    assert await push("--grafana-url", url) == 0
    assert fake.folders == {"inferwatch": "inferwatch"}
    assert set(fake.dashboards) == {d["uid"] for d in build_all().values()}
    for stored in fake.dashboards.values():
        assert stored["body"]["folderUid"] == "inferwatch" and stored["body"]["overwrite"]
    assert "version 1" in no_secret(capsys, caplog)

    assert await push("--grafana-url", url) == 0  # again: folder found, dashboards overwritten
    assert fake.calls.count(("POST", "/api/folders")) == 1
    assert {d["version"] for d in fake.dashboards.values()} == {2}


async def test_push_with_a_token_file_into_a_named_folder(grafana, tmp_path: Path, capsys,
                                                          caplog):
    fake, url = grafana
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert await push("--grafana-url", url, "--token-file", str(token_file),
                      "--folder", "LLM Serving") == 0
    assert fake.folders == {"llm-serving": "LLM Serving"}
    no_secret(capsys, caplog)


async def test_wrong_token_is_a_clear_error_without_the_token(grafana, tmp_path, capsys, caplog):
    fake, url = grafana
    token_file = tmp_path / "token"
    token_file.write_text("glsa_wrong")
    assert await push("--grafana-url", url, "--token-file", str(token_file)) == 1
    text = no_secret(capsys, caplog)
    assert "HTTP 401: Invalid API key (is the token valid?)" in text
    assert "glsa_wrong" not in text
    assert fake.dashboards == {}


async def test_server_error_names_the_call(grafana, monkeypatch, capsys, caplog):
    fake, url = grafana
    fake.fail_dashboards = 500
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    assert await push("--grafana-url", url) == 1
    assert "POST /api/dashboards/db: HTTP 500: database is locked" in no_secret(capsys, caplog)


async def test_missing_token_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    assert await push("--grafana-url", "http://127.0.0.1:9") == 2
    assert "no Grafana API token" in capsys.readouterr().err


async def test_unreachable_grafana(monkeypatch, capsys, caplog):
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    url = f"http://127.0.0.1:{free_port()}/"
    assert await push("--grafana-url", url, "--timeout", "2") == 1
    assert "cannot reach Grafana" in no_secret(capsys, caplog)


async def test_grafana_under_a_sub_path(aiohttp_server, monkeypatch, capsys, caplog):
    fake = FakeGrafana()
    root = web.Application()
    root.add_subapp("/grafana/", fake.app())
    server = await aiohttp_server(root)
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    assert await push("--grafana-url", str(server.make_url("/grafana"))) == 0
    assert len(fake.dashboards) == len(build_all())
    no_secret(capsys, caplog)
