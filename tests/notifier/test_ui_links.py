"""The alert view's links on the web page: the source, the runbook, the dashboard with the
packs' relative range pinned around the alert (every other parameter as written), and the
silence form prefilled with the alert's labels; and the pinned range of a resolved alert."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from inferwatch.notifier import alertlinks
from tests.notifier.helpers import alert_body
from tests.notifier.test_ui import CONFIG, Tags, page

RUNBOOK = "https://runbooks.example/KVCacheNearFull.md"
DASHBOARD = ("http://grafana.example/d/inferwatch-engines?viewPanel=18&from=now-1h&to=now"
             "&var-model=llama%203&var-target=t%26u")
SOURCE = "http://prometheus.example/graph?g0.expr=up"
LABELS = {"alertname": "KVCacheNearFull", "model": 'llama 3 "q"', "target": "t&u"}


@pytest.fixture
async def ui(sink, start_notifier):
    return await start_notifier(CONFIG.replace("SINK", sink.url()))


async def test_the_alert_view_links_runbook_dashboard_source_and_silence_form(ui) -> None:
    notifier, client = ui
    body = alert_body("KVCacheNearFull", {k: v for k, v in LABELS.items() if k != "alertname"},
                      runbook_url=RUNBOOK, dashboard_url=DASHBOARD)
    body["generatorURL"] = SOURCE
    assert (await client.post("/api/v2/alerts", json=[body])).status == 200
    [alert] = notifier.active.values()
    text = await page(client, "/ui/alerts")
    block = text.split(f'id="a-{alert.fingerprint}"')[1].split("</div>")[0]
    links = {a.get("class", "source" if a.get("href") == SOURCE else ""): a["href"]
             for a in Tags(block).having("href") if not a["href"].startswith("/ui/alerts")}
    assert set(links) == {"source", "runbook", "dashboard", "silence"}, links
    assert links["runbook"] == RUNBOOK
    start_ms = int((alert.starts_at - 3600) * 1000)
    assert links["dashboard"] == DASHBOARD.replace("from=now-1h", f"from={start_ms}")
    form = urlsplit(links["silence"])
    assert form.path == "/ui/silences/new"
    [prefill] = parse_qs(form.query)["matchers"]
    assert prefill.splitlines() == ['alertname="KVCacheNearFull"', 'model="llama 3 \\"q\\""',
                                    'target="t&u"']
    opened = await page(client, links["silence"])
    area = re.search(r'<textarea name="matchers"[^>]*>([^<]*)</textarea>', opened)
    assert area and html.unescape(area.group(1)) == prefill


def test_a_resolved_alerts_range_ends_after_it_and_a_written_range_stays() -> None:
    got = parse_qs(urlsplit(alertlinks.dashboard_url(DASHBOARD, 1000.0, 5000.0)).query)
    assert got["from"] == [str((1000 - 3600) * 1000)] and got["to"] == [str((5000 + 900) * 1000)]
    assert got["var-model"] == ["llama 3"] and got["viewPanel"] == ["18"]
    fixed = DASHBOARD.replace("from=now-1h&to=now", "from=now-6h&to=now")
    assert alertlinks.dashboard_url(fixed, 1000.0, None) == fixed
