"""The web page's silence states and counts come from the notifier's own silence index: they
equal what the API answers and what trying every silence gives."""

from __future__ import annotations

import html
import re

import pytest

from inferwatch.notifier.ui.render import query
from tests.notifier.helpers import alert_body
from tests.notifier.test_ui import CONFIG, page


@pytest.fixture
async def ui(sink, start_notifier):
    return await start_notifier(CONFIG.replace("SINK", sink.url()))


async def test_silences_page_counts_what_the_api_says_each_silence_mutes(ui) -> None:
    notifier, client = ui
    alerts = [alert_body("HighTTFT", {"model": m, "node": f"n{i % 3}"})
              for i, m in enumerate(("llama-3", "mistral", "llama-2", "qwen", "Llama-x"))]
    assert (await client.post("/api/v2/alerts", json=alerts)).status == 200

    async def silence(*matchers: tuple[str, str, bool, bool], starts: str = "2000") -> str:
        body = {"matchers": [{"name": n, "value": v, "isRegex": r, "isEqual": e}
                             for n, v, r, e in matchers],
                "startsAt": f"{starts}-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
                "createdBy": "ops", "comment": "c"}
        resp = await client.post("/api/v2/silences", json=body)
        assert resp.status == 200, await resp.text()
        return (await resp.json())["silenceID"]

    ids = [await silence(("model", "(?i)llama.*", True, True)),
           await silence(("model", "llama-3", False, True), ("node", "n0", False, True)),
           await silence(("node", "n1|n2", True, True), ("model", "qwen", False, False)),
           await silence(("model", "mistral", False, True), starts="2998")]  # pending
    api = await (await client.get("/api/v2/alerts")).json()
    expected = {sid: sum(sid in a["status"]["silencedBy"] for a in api) for sid in ids}
    now = notifier.clock()
    brute = {s.id: sum(s.mutes(a.labels, now) for a in notifier.active.values())
             for s in notifier.silences.all()}
    assert expected == brute and expected[ids[0]] == 3 and expected[ids[3]] == 0
    text = await page(client, "/ui/silences")
    shown = {sid: text.split(f'id="s-{sid}"')[1].split('class="muting">')[1].split("<")[0]
             for sid in ids}
    assert shown == {**{sid: str(c) for sid, c in expected.items()}, ids[3]: "—"}
    keys = re.findall(r'data-group="([^"]+)"', await page(client, "/ui/alerts"))
    text = "".join([await page(client, query("/ui/alerts", [("group", html.unescape(k))]))
                    for k in keys])
    for a in api:
        block = text.split(f'id="a-{a["fingerprint"]}"')[1].split('class="alert"')[0]
        assert sorted(re.findall(r'class="silenced-by" data-silence="([^"]+)"', block)) == \
            sorted(a["status"]["silencedBy"]), a["labels"]
