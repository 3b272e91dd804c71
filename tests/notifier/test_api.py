"""The HTTP API: malformed bodies, size cap, bearer token, silences, webhook v4, health."""

from __future__ import annotations

import pytest

from tests.notifier.helpers import alert_body
from tests.support.webhook import until

CONFIG = """
route: {receiver: hook, group_by: [alertname], group_wait: 50ms, group_interval: 200ms}
receivers:
  - name: hook
    urls: ["SINK"]
web: {max_body_bytes: 4096, bearer_token: "${TOKEN}"}
"""
AUTH = {"Authorization": "Bearer tok-123"}


async def error_text(resp) -> str:
    """The reason in an API v2 error body, as Alertmanager writes it: a JSON string, or
    {code, message} for a 422."""
    body = await resp.json()
    return body["message"] if isinstance(body, dict) else body


@pytest.fixture
async def api(sink, start_notifier, monkeypatch):
    monkeypatch.setenv("TOKEN", "tok-123")
    return await start_notifier(CONFIG.replace("SINK", sink.url()))


@pytest.mark.parametrize(("body", "reason"), [
    (b"{nope", "body is not JSON"),
    (b"[" * 2000 + b"]" * 2000, "nested too deeply"),
    (b'{"labels": {}}', "body: Input should be a valid list"),
    (b'[{"labels": {}}]', "0.labels: Dictionary should have at least 1 item"),
    (b'[{"annotations": {}}]', "0.labels: Field required"),  # 422, as Alertmanager
    (b'[{"labels": {"a": 1}}]', "0.labels.a: Input should be a valid string"),
    (b'[{"labels": {"a": "b"}, "startsAt": "yesterday"}]', "0.startsAt: Input should be"),
    (b'[{"labels": {"a": "b"}, "startsAt": "2024-01-01T00:00:00"}]', "timezone"),
    (b'[{"labels": {"a": "b"}, "startsAt": "9999-12-31T23:59:59-12:00"}]', "out of range"),
    (b'[{"labels": {"a": "b"}, "startsAt": "2024-01-02T00:00:00Z", '
     b'"endsAt": "2024-01-01T00:00:00Z"}]', "endsAt is before startsAt"),
])
async def test_malformed_alerts_get_400_with_the_reason(api, body, reason) -> None:
    notifier, client = api
    resp = await client.post("/api/v2/alerts", data=body, headers=AUTH)
    assert resp.status == (422 if body == b'[{"annotations": {}}]' else 400)
    assert reason in await error_text(resp)
    assert notifier.active == {}


async def test_oversized_body_is_refused(api) -> None:
    notifier, client = api
    big = [alert_body("A", {"i": str(i)}) for i in range(200)]
    resp = await client.post("/api/v2/alerts", json=big, headers=AUTH)
    assert resp.status == 413
    assert notifier.active == {}


@pytest.mark.parametrize("path", ["/api/v2/silences", "/webhook"])
async def test_deeply_nested_body_gets_400(api, path) -> None:
    _, client = api
    resp = await client.post(path, data=b"[" * 2000 + b"]" * 2000, headers=AUTH)
    assert resp.status == 400
    body = await resp.json()
    assert "nested too deeply" in (body["error"] if path == "/webhook" else body)


@pytest.mark.parametrize("header", [None, "Bearer wrong", "tok-123", "Basic dG9rLTEyMw=="])
async def test_bearer_token_is_required(api, header) -> None:
    _, client = api
    headers = {"Authorization": header} if header else {}
    resp = await client.post("/api/v2/alerts", json=[alert_body("A")], headers=headers)
    assert resp.status == 401
    assert "tok-123" not in await resp.text()
    assert (await client.get("/-/healthy")).status == 200  # health stays open


async def test_alerts_listed_with_status(api) -> None:
    notifier, client = api
    assert (await client.post("/api/v2/alerts", json=[alert_body("A", {"x": "1"})],
                              headers=AUTH)).status == 200
    listed = await (await client.get("/api/v2/alerts", headers=AUTH)).json()
    assert [a["labels"] for a in listed] == [{"alertname": "A", "x": "1"}]
    assert listed[0]["status"]["state"] == "active"
    assert (await client.get("/-/ready")).status == 200


async def test_silence_lifecycle_mutes_and_unmutes(api, sink) -> None:
    notifier, client = api
    silence = {"matchers": [{"name": "alertname", "value": "A", "isRegex": False}],
               "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
               "createdBy": "test", "comment": "maintenance"}
    resp = await client.post("/api/v2/silences", json=silence, headers=AUTH)
    sid = (await resp.json())["silenceID"]
    got = await (await client.get(f"/api/v2/silence/{sid}", headers=AUTH)).json()
    assert got["status"]["state"] == "active" and got["matchers"][0]["isEqual"] is True
    await client.post("/api/v2/alerts", json=[alert_body("A"), alert_body("B")], headers=AUTH)
    await until(lambda: len(sink.posts) == 1, what="B's notification")
    assert sink.posts[0].body["title"] == "[FIRING:1] B"
    listed = await (await client.get("/api/v2/alerts", headers=AUTH)).json()
    muted = [a for a in listed if a["labels"]["alertname"] == "A"][0]
    # Alertmanager 0.25's alertStatus (api/v2/openapi.yaml at v0.25.0) has no mutedBy
    assert muted["status"] == {"state": "suppressed", "silencedBy": [sid], "inhibitedBy": []}
    assert (await client.delete(f"/api/v2/silence/{sid}", headers=AUTH)).status == 200
    await until(lambda: len(sink.posts) == 2, what="A after the silence expired")
    assert sink.posts[1].body["title"] == "[FIRING:1] A"
    states = [s["status"]["state"] for s in
              await (await client.get("/api/v2/silences", headers=AUTH)).json()]
    assert states == ["expired"]
    assert (await client.delete(f"/api/v2/silence/{sid}", headers=AUTH)).status == 400
    assert (await client.get("/api/v2/silence/nope", headers=AUTH)).status == 422  # not a UUID


@pytest.mark.parametrize(("change", "reason"), [
    ({"matchers": []}, "matchers: List should have at least 1 item"),
    ({"matchers": [{"name": "a", "value": ".*", "isRegex": True}]},
     "at least one matcher must not match the empty string"),
    ({"matchers": [{"name": "a", "value": "(", "isRegex": True}]}, "invalid regular expression"),
    ({"endsAt": "2019-01-01T00:00:00Z"}, "endsAt must be after startsAt"),
    ({"endsAt": "9999-12-31T23:59:59-12:00"}, "endsAt: Value error, time out of range"),
    ({"startsAt": "0001-01-01T00:00:00+12:00"}, "startsAt: Value error, time out of range"),
    ({"id": "unknown"}, "silence unknown not found"),
])
async def test_bad_silences_are_refused(api, change, reason) -> None:
    _, client = api
    silence = {"matchers": [{"name": "alertname", "value": "A", "isRegex": False}],
               "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
               "createdBy": "test", "comment": "c", **change}
    resp = await client.post("/api/v2/silences", json=silence, headers=AUTH)
    assert resp.status == {"[]": 422, "unknown": 404}.get(str(next(iter(change.values()))), 400)
    assert reason in await error_text(resp)
    assert (await client.get("/api/v2/silences", headers=AUTH)).status == 200


async def test_webhook_v4_relays_firing_then_resolved(api, sink) -> None:
    notifier, client = api
    alert = {"status": "firing", "labels": {"alertname": "Relayed", "pod": "p1"},
             "annotations": {"summary": "from upstream"}, "startsAt": "2024-05-01T10:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph",
             "fingerprint": "abc", "someNewField": 1}
    message = {"version": "4", "status": "firing", "receiver": "x", "groupKey": "{}:{}",
               "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {},
               "commonAnnotations": {}, "externalURL": "http://am", "alerts": [alert]}
    assert (await client.post("/api/v1/webhook", json=message, headers=AUTH)).status == 200
    await until(lambda: len(sink.posts) == 1)
    assert "from upstream" in sink.posts[0].body["message"]
    resolved = {**alert, "status": "resolved", "endsAt": "2024-05-01T10:05:00Z"}
    body = {**message, "status": "resolved", "alerts": [resolved]}
    assert (await client.post("/webhook", json=body, headers=AUTH)).status == 200
    await until(lambda: len(sink.posts) == 2)
    assert sink.posts[1].body["title"] == "[RESOLVED] Relayed (p1)"
    bad = await client.post("/webhook", json={**message, "version": "3"}, headers=AUTH)
    assert bad.status == 400 and "version" in (await bad.json())["error"]


async def test_metrics_count_received_and_invalid(api) -> None:
    _, client = api
    await client.post("/api/v2/alerts", json=[alert_body("A"), alert_body("B")], headers=AUTH)
    await client.post("/api/v2/alerts", data=b"[", headers=AUTH)
    text = await (await client.get("/metrics")).text()
    assert 'inferwatch_notifier_alerts_received_total{source="api"} 2.0' in text
    assert 'inferwatch_notifier_alerts_invalid_total{endpoint="/api/v2/alerts"} 1.0' in text
    assert 'inferwatch_notifier_alerts{state="firing"} 2.0' in text
