"""The web page in a real browser: Debian's chromium, headless, driven by Playwright.

A silence made from an alert in the page (JavaScript off) mutes that group's next flushes while
another group keeps being notified; a failed notification's error reads in the log (JavaScript
on, no CSP violation, nothing fetched from anywhere but the notifier). Skipped when chromium
or the playwright package is absent; `playwright install` is never needed.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import AsyncIterator

import pytest

from inferwatch.notifier.ui import data
from tests.notifier.helpers import alert_body
from tests.support.webhook import Sink, until

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium not installed (Debian package `chromium`; scripts/test.sh "
                    "installs it)")
    api = pytest.importorskip("playwright.async_api",
                              reason="playwright not installed (pyproject's test extra)")
    async with api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


def base_of(client) -> str:
    return str(client.make_url("/")).rstrip("/")


MUTE = """
route:
  receiver: disk
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 250ms
  repeat_interval: 500ms
  routes: [{matchers: ['alertname="QueueDeep"'], receiver: queue}]
receivers:
  - {name: disk, urls: ["DISK"]}
  - {name: queue, urls: ["QUEUE"]}
"""


async def test_a_silence_made_from_an_alert_in_the_page_mutes_the_next_flush(
        browser, sink, start_notifier) -> None:
    notifier, client = await start_notifier(
        MUTE.replace("DISK", sink.url("/disk")).replace("QUEUE", sink.url("/queue")))
    await client.post("/api/v2/alerts", json=[
        alert_body("DiskFull", {"node": "n1", "severity": "page"}, summary="disk <full>"),
        alert_body("QueueDeep", {"model": "llama"})])

    def posts(path: str, after: float = 0.0) -> list:
        return [p for p in sink.posts if p.path == path and p.at > after]

    await until(lambda: posts("/disk") and posts("/queue"), what="both groups notified")
    [fp] = [a.fingerprint for a in notifier.active.values()
            if a.labels["alertname"] == "DiskFull"]
    base = base_of(client)
    context = await browser.new_context(java_script_enabled=False)  # reads without JS
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.goto(base + "/ui/alerts")
    alert = page.locator(f'div.alert[data-fingerprint="{fp}"]')
    assert "disk <full>" in await alert.inner_text()
    await alert.locator("a.silence").click()
    await page.wait_for_url("**/ui/silences/new?**")
    prefilled = await page.locator("textarea[name=matchers]").input_value()
    assert prefilled.splitlines() == ['alertname="DiskFull"', 'node="n1"', 'severity="page"']
    await page.fill("input[name=created_by]", "oncall")
    await page.fill("input[name=comment]", "swapping the disk")
    await page.click("form.silence-form button[type=submit]")
    await page.wait_for_url("**/ui/silences?saved=**")
    submitted = time.monotonic()
    sid = await page.locator("tr[data-state=active]").get_attribute("data-silence")
    silence = notifier.silences.get(sid)
    assert silence.comment == "swapping the disk" and silence.created_by == "oncall"
    assert "Silence " + sid + " saved." in await page.inner_text("main")

    # the other group goes on being notified: two of its flushes after the silence
    await until(lambda: len(posts("/queue", submitted)) >= 2, timeout=15,
                what="two more queue notifications")
    disk_rows = [s for s in data.notifications(notifier) if s.receiver == "disk"]
    assert disk_rows and all(s.created_at < silence.updated_at for s in disk_rows), \
        "a disk notification was decided after the silence"
    assert not posts("/disk", posts("/queue", submitted)[0].at), "the disk group got a post"
    assert len(posts("/disk")) == len(disk_rows)

    await page.goto(base + "/ui/alerts")
    muted = alert.locator(f'a.silenced-by[data-silence="{sid}"]')
    assert sid in await muted.inner_text() and "swapping the disk" in await muted.inner_text()
    assert "silenced" in await alert.locator(".state").first.inner_text()
    other = page.locator("div.alert", has_text="QueueDeep")
    assert await other.locator(".state").first.inner_text() == "active"
    await context.close()


FAIL = """
route:
  receiver: down
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 10m
  routes: [{matchers: ['alertname="Erroring"'], receiver: erroring}]
delivery: {timeout: 1s, initial_backoff: 50ms, max_backoff: 100ms, retry_deadline: 600ms}
receivers:
  - {name: down, urls: ["json://user:hunter2pw@127.0.0.1:PORT/hook-s3cr3t"]}
  - {name: erroring, urls: ["ERRORING"]}
"""


async def test_a_failed_notification_error_reads_in_the_page(browser, start_notifier) -> None:
    erroring = await Sink(fail=[500] * 1000).start()
    held = socket.socket()  # bound, never listening: refused, and no other server gets it
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    context = None
    try:
        notifier, client = await start_notifier(
            FAIL.replace("PORT", str(port)).replace("ERRORING", erroring.url("/err-s3cr3t")))
        await client.post("/api/v2/alerts", json=[alert_body("Down"), alert_body("Erroring")])
        await until(lambda: sorted(s.state for s in data.notifications(notifier))
                    == ["failed", "failed"], timeout=15, what="both notifications failed")
        base = base_of(client)
        context = await browser.new_context()
        page = await context.new_page()
        page.set_default_timeout(10_000)
        requests, problems = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(base + "/ui/notifications")
        await page.select_option("select[name=state]", "failed")
        await page.click("form.filter button[type=submit]")
        await page.wait_for_url("**/ui/notifications?state=failed**")
        rows = page.locator("tr[data-state=failed]")
        assert await rows.count() == 2
        down = page.locator('tr[data-receiver="down"]')
        assert "Connect call failed" in await down.locator("td.err").inner_text()
        assert await down.locator("td.channel").inner_text() == "#0 json"
        assert int(await down.locator("td.attempts").inner_text()) >= 2  # retried first
        bad = page.locator('tr[data-receiver="erroring"]')
        assert "HTTP error=500" in await bad.locator("td.err").inner_text()
        assert (await bad.locator(".state").inner_text()) == "failed"
        html = await page.content()
        for secret in ("hunter2pw", "hook-s3cr3t", "err-s3cr3t", f":{erroring.port}"):
            assert secret not in html, secret
        await page.check("#live")  # the refresh script runs under the page's CSP
        assert await page.evaluate("localStorage.getItem('iw-live')") == "1"
        assert not problems, problems
        assert requests and all(u.startswith(base + "/") for u in requests), requests
    finally:
        if context is not None:
            await context.close()
        held.close()
        await erroring.stop()
