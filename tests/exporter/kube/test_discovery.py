"""Discovery against a loopback API server: list, watch events, 410 Gone, drops, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inferwatch.exporter.collectors.engines.targets import Target
from inferwatch.exporter.kube.client import KubeClient, KubeConfig, KubeError
from inferwatch.exporter.kube.discovery import Backoff, PodWatcher
from tests.support.kubeapi import NODE, TOKEN, FakeApi, pod, until

pytestmark = pytest.mark.timeout(20)
SCRAPE = {"inferwatch.io/scrape": "true", "inferwatch.io/port": "8000",
          "inferwatch.io/kind": "vllm"}
UID_A, UID_B, UID_C = (f"0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f{i}" for i in range(3))
CID = "containerd://" + "ab" * 32


def _client(tmp_path: Path, url: str, **kwargs) -> KubeClient:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    return KubeClient(KubeConfig(url, token_path=str(token)), timeout=2.0, **kwargs)


@pytest.fixture
async def running(fake_api, tmp_path) -> AsyncIterator[tuple[FakeApi, PodWatcher]]:
    """A PodWatcher running against the fake API, with three pods (one on another node)."""
    api, url = fake_api
    await api.put(pod("vllm-0", UID_A, annotations=SCRAPE, containers={"vllm": CID}))
    await api.put(pod("sidecar", UID_B, ip="10.1.2.4"))
    await api.put(pod("elsewhere", UID_C, node="gpu-node-2", annotations=SCRAPE))
    watcher = PodWatcher(_client(tmp_path, url), NODE, watch_timeout_s=30,
                         backoff=Backoff(0.01, 0.05))
    task = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.synced.wait(), 5)
    yield api, watcher
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await watcher.client.close()


def _watches(api: FakeApi) -> list[dict[str, str]]:
    return [q for q, _ in api.requests if q.get("watch") == "1"]


def _lists(api: FakeApi) -> list[dict[str, str]]:
    return [q for q, _ in api.requests if "watch" not in q]


async def test_list_gives_targets_directory_and_sends_token_and_selector(running):
    api, watcher = running
    assert watcher.targets() == (Target("vllm", "http://10.1.2.3:8000/metrics", "llm",
                                        "vllm-0"),)
    assert set(watcher.pods) == {UID_A, UID_B}
    ref = watcher.directory.lookup(UID_A)
    assert (ref.namespace, ref.pod, ref.container("ab" * 32)) == ("llm", "vllm-0", "vllm")
    await until(lambda: bool(api.watches))
    for query, headers in api.requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert query["fieldSelector"] == f"spec.nodeName={NODE}"
    watch = _watches(api)[0]
    assert watch["resourceVersion"] == "1003"  # the list's version
    assert watch["allowWatchBookmarks"] == "true"


async def test_watch_events_update_targets(running):
    api, watcher = running
    await until(lambda: bool(api.watches))
    sglang = {"inferwatch.io/scrape": "true", "inferwatch.io/port": "30000",
              "inferwatch.io/kind": "sglang", "inferwatch.io/path": "/stats"}
    await api.put(pod("sidecar", UID_B, ip="10.1.2.4", annotations=sglang))  # MODIFIED
    await api.put(pod("new", "11111111-2222-4333-8444-555555555555", phase="Pending", ip=""))
    await api.delete(UID_A)
    await until(lambda: watcher.resource_version == str(api.rv))
    assert watcher.targets() == (Target("sglang", "http://10.1.2.4:30000/stats", "llm",
                                        "sidecar"),)
    assert watcher.directory.lookup(UID_A) is None
    assert len(watcher.pods) == 2
    await api.bookmark()
    await until(lambda: watcher.resource_version == str(api.rv))
    assert len(_lists(api)) == 1  # events never needed a new list


async def test_410_error_event_lists_again(running):
    api, watcher = running
    await until(lambda: bool(api.watches))
    del api.pods[UID_A]  # deleted while history is lost: only a new list can tell
    api.rv += 5
    api.compact()
    await api.drop_watches()
    await until(lambda: watcher.restarts["expired"] >= 1 and len(_lists(api)) == 2)
    await until(lambda: watcher.targets() == () and UID_A not in watcher.pods)
    await until(lambda: _watches(api)[-1]["resourceVersion"] == str(api.rv))


async def test_410_status_on_watch_start_lists_again(running):
    api, watcher = running
    await until(lambda: bool(api.watches))
    api.gone_as_status = True
    api.compact()
    await api.drop_watches()
    await until(lambda: watcher.restarts["expired"] >= 1 and len(_lists(api)) == 2)
    assert watcher.synced.is_set()


async def test_dropped_connection_resumes_from_last_version(running):
    api, watcher = running
    await until(lambda: bool(api.watches))
    api.drop_after = 1
    await api.put(pod("vllm-1", "22222222-2222-4333-8444-555555555555", annotations=SCRAPE,
                      ip="10.1.2.9"))
    seen = str(api.rv)
    await api.put(pod("vllm-2", "33333333-2222-4333-8444-555555555555", annotations=SCRAPE,
                      ip="10.1.2.10"))
    await until(lambda: len(watcher.targets()) == 3)
    assert watcher.restarts["error"] >= 1
    assert [w["resourceVersion"] for w in _watches(api)][1] == seen
    assert len(_lists(api)) == 1


async def test_server_ending_the_watch_rewatches(fake_api, tmp_path):
    api, url = fake_api
    watcher = PodWatcher(_client(tmp_path, url), NODE, watch_timeout_s=1,
                         backoff=Backoff(0.01, 0.05))
    task = asyncio.create_task(watcher.run())
    try:
        await until(lambda: watcher.restarts["closed"] >= 1 and len(_watches(api)) >= 2)
        assert len(_lists(api)) == 1
        assert watcher.families()[3].samples[0].value == 1.0  # synced
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await watcher.client.close()


async def test_errors_back_off_then_recover(fake_api, tmp_path, caplog):
    api, url = fake_api
    api.fail_next = [500, 403, 503]
    await api.put(pod("vllm-0", UID_A, annotations=SCRAPE))
    watcher = PodWatcher(_client(tmp_path, url), NODE, backoff=Backoff(0.01, 0.02))
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.synced.wait(), 5)
        assert watcher.restarts["error"] == 3
        assert len(watcher.targets()) == 1
        assert "HTTP 403: injected 403" in caplog.text
        assert TOKEN not in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await watcher.client.close()


async def test_wrong_token_is_an_api_error(fake_api, tmp_path):
    _api, url = fake_api
    (tmp_path / "token").write_text("wrong")
    client = KubeClient(KubeConfig(url, token_path=str(tmp_path / "token")))
    with pytest.raises(KubeError, match="HTTP 401"):
        await client.list_pods(f"spec.nodeName={NODE}")
    await client.close()


async def test_list_follows_continue_and_410_on_expired_token(fake_api, tmp_path):
    api, url = fake_api
    for i in range(5):
        await api.put(pod(f"p{i}", f"{i:08d}-2222-4333-8444-555555555555"))
    client = _client(tmp_path, url)
    items, version = await client.list_pods(f"spec.nodeName={NODE}", limit=2)
    assert [p["metadata"]["name"] for p in items] == [f"p{i}" for i in range(5)]
    assert version == str(api.rv)
    assert [q.get("continue", "") for q, _ in api.requests] == ["", "1005:2", "1005:4"]
    api.expire_continue = True
    with pytest.raises(KubeError, match="410"):
        await client.list_pods(f"spec.nodeName={NODE}", limit=2)
    await client.close()


async def test_an_oversized_event_or_body_is_refused(fake_api, tmp_path):
    api, url = fake_api
    await api.put(pod("big", UID_A, annotations={"x": "y" * 5000}))
    client = _client(tmp_path, url, max_body=2000, max_event=2000)
    with pytest.raises(KubeError, match="over 2000 bytes"):
        await client.list_pods(f"spec.nodeName={NODE}")
    with pytest.raises(KubeError, match="over 2000 bytes"):
        async for _event in client.watch_pods(f"spec.nodeName={NODE}", "1000", 5):
            pass
    await client.close()


def test_in_cluster_config(tmp_path):
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = KubeConfig.in_cluster(env, tmp_path)
    assert config == KubeConfig("https://10.96.0.1:443", str(tmp_path / "token"),
                                str(tmp_path / "ca.crt"))
    v6 = KubeConfig.in_cluster({"KUBERNETES_SERVICE_HOST": "fd00::1"}, tmp_path)
    assert v6.api_url == "https://[fd00::1]:443"
    with pytest.raises(KubeError, match="KUBERNETES_SERVICE_HOST"):
        KubeConfig.in_cluster({}, tmp_path)
    with pytest.raises(KubeError, match="cluster CA"):
        KubeClient(config)  # no ca.crt in tmp_path


def test_backoff_doubles_to_its_bound_and_resets():
    backoff = Backoff(0.5, 4.0, jitter=lambda: 1.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5
    assert Backoff(1.0, 8.0, jitter=lambda: 0.0).next() == 0.5  # jitter halves at most


async def test_lifespan_and_collector_through_the_loop(fake_api, tmp_path):
    from aiohttp import web

    from inferwatch.exporter.kube.discovery import DiscoveryCollector
    from inferwatch.exporter.loop import CollectorLoop

    api, url = fake_api
    await api.put(pod("vllm-0", UID_A, annotations=SCRAPE))
    watcher = PodWatcher(_client(tmp_path, url), NODE, backoff=Backoff(0.01, 0.05))
    lifespan = watcher.lifespan(web.Application())
    await anext(lifespan)
    await asyncio.wait_for(watcher.synced.wait(), 5)
    loop = CollectorLoop([DiscoveryCollector(watcher)], dict)
    await loop.run_once(loop.collectors[0])
    names = {f.name: f.samples[0].value for f in loop.states["kubernetes"].families}
    assert names["inferwatch_kubernetes_discovered_targets"] == 1
    assert names["inferwatch_kubernetes_pods"] == 1
    with pytest.raises(StopAsyncIteration):
        await anext(lifespan)
    assert watcher.client._session is None


async def test_an_unreadable_answer_backs_off_and_lists_again(aiohttp_server, tmp_path, caplog):
    from aiohttp import web

    answers = [{"items": ["not-a-pod"], "metadata": {"resourceVersion": "1"}},
               {"items": [{"metadata": "not-an-object"}], "metadata": {"resourceVersion": "2"}},
               {"items": [pod("vllm-0", UID_A, annotations=SCRAPE)],
                "metadata": {"resourceVersion": "3"}}]

    async def pods(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") == "1":
            await asyncio.sleep(30)
        return web.json_response(answers.pop(0) if len(answers) > 1 else answers[0])

    app = web.Application()
    app.router.add_get("/api/v1/pods", pods)
    server = await aiohttp_server(app, host="127.0.0.1")
    watcher = PodWatcher(_client(tmp_path, str(server.make_url(""))), NODE,
                         backoff=Backoff(0.01, 0.02))
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.synced.wait(), 5)
        assert not task.done()
        assert watcher.restarts["error"] == 2
        assert len(watcher.targets()) == 1
        assert "items is not a list of objects" in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await watcher.client.close()
