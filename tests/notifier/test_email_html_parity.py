"""Differential: the email `html` body, rendered by Debian's Alertmanager 0.25 (Go's html/template)
and by the notifier, each sending to its own aiosmtpd server, compared byte for byte.

The same alertmanager.yml (the notifier's copy adds `global.external_url`, which Alertmanager
sets with --web.external-url) has two receivers: Alertmanager's default email.default.html, and
a template of our own with an action in every context we escape (text, RCDATA, comments,
quoted and unquoted attributes, URLs whole, in their path and in their query, `html`, `urlquery`,
`safeHtml`, template calls inside attributes). Label values, annotations and generator URLs
carry `<script>`, `&`, quotes, `+`, a `javascript:` URL and non-ASCII text. The one difference
left is at the end: apprise, which sends our email, strips trailing white space from a body.
"""

from __future__ import annotations

import aiohttp
import pytest
import yaml
from aiosmtpd.controller import Controller

from inferwatch.notifier.gotemplate import AlertmanagerTemplates, sample_data
from inferwatch.notifier.gotemplate.htmlcontext import HTMLEscapeError
from tests.notifier.test_am_receivers import Mailbox
from tests.notifier.test_ecosystem import process, wait_ready
from tests.support.procs import free_port, need_binary
from tests.support.webhook import until

pytestmark = pytest.mark.ecosystem
EXTERNAL = "http://am.example:9093/am"
CUSTOM = r"""<html><head><title>{{ .CommonLabels.alertname }} & {{ .Receiver }}</title></head>
<body><!-- dropped by html/template: {{ .Receiver }} -->
<p class="{{ .Status }}" data-name='{{ .CommonLabels.alertname }}' id={{ .CommonLabels.team }}>
{{ range .Alerts }}<a href="{{ .GeneratorURL }}">{{ .Labels.alertname }}</a>
<a href="{{ $.ExternalURL }}/#/silences/new?filter={{ .Labels.alertname | urlquery }}\
&amp;t={{ .Labels.team }}">s</a>
<a href='/team/{{ .Labels.team }}/x'>{{ .Labels.team | html }}</a>
{{ range .Annotations.SortedPairs }}{{ .Name }}: {{ .Value }}<br>{{ end }}{{ end }}
{{ "<i>ok</i>" | safeHtml }} 1 < 2 {{ template "__subject" . }}
<img alt="{{ template "__subject" . }}" src="{{ template "__alertmanagerURL" . }}">
</p></body></html>"""
CUSTOM = CUSTOM.replace("\\\n", "")  # the one long line, joined
LABELS = {"team": "a&b c+d", "detail": "<script>alert('x')</script>", "site": "Zürich \"HQ\""}


def _config(port: int, external: str = "") -> str:
    glob = {"smtp_smarthost": f"127.0.0.1:{port}", "smtp_from": "am@example.com",
            "smtp_require_tls": False, **({"external_url": external} if external else {})}
    every = {"matchers": ['alertname=~".+"'], "continue": True}
    return yaml.safe_dump({
        "global": glob,
        "route": {"receiver": "mail <ops>&co", "group_by": ["alertname"], "group_wait": "1s",
                  "routes": [{**every, "receiver": "mail <ops>&co"},
                             {**every, "receiver": "custom"}]},
        "receivers": [{"name": "mail <ops>&co", "email_configs": [{"to": "default@example.com"}]},
                      {"name": "custom", "email_configs": [{"to": "custom@example.com",
                                                            "html": CUSTOM}]}]},
        allow_unicode=True)


def _alerts() -> list[dict]:
    name = "Disk<Full>&\"Soon\"'+"
    return [{"labels": {"alertname": name, "pod": "p-1", **LABELS},
             "annotations": {"summary": "<b>98%</b> & rising", "runbook": "http://r/?a=1&b=2"},
             "generatorURL": 'http://prom:9090/graph?g0.expr=up{a="b c"}&g0.tab=1#x y'},
            {"labels": {"alertname": name, "pod": "p-2", **LABELS},
             "annotations": {"summary": "é ü \u2603"},
             "generatorURL": "javascript:alert(document.cookie)"}]


async def test_email_html_is_escaped_as_alertmanager_escapes_it(tmp_path, start_notifier) -> None:
    binary = need_binary("prometheus-alertmanager")
    boxes = {"am": Mailbox(), "ours": Mailbox()}
    ports = {side: free_port() for side in boxes}
    servers = [Controller(boxes[s], hostname="127.0.0.1", port=ports[s]) for s in boxes]
    for server in servers:
        server.start()
    (tmp_path / "am.yml").write_text(_config(ports["am"]))
    am_port = free_port()
    try:
        async with process(binary, f"--config.file={tmp_path / 'am.yml'}",
                           f"--storage.path={tmp_path / 'am'}", f"--web.external-url={EXTERNAL}",
                           f"--web.listen-address=127.0.0.1:{am_port}",
                           "--cluster.listen-address=") as proc:
            await wait_ready(f"http://127.0.0.1:{am_port}/am/-/ready", proc)
            _, client = await start_notifier(_config(ports["ours"], EXTERNAL))
            async with aiohttp.ClientSession() as session:
                async with session.post(f"http://127.0.0.1:{am_port}/am/api/v2/alerts",
                                        json=_alerts()) as resp:
                    assert resp.status == 200, await resp.text()
                resp = await client.post("/api/v2/alerts", json=_alerts())
                assert resp.status == 200, await resp.text()
                for side, box in boxes.items():
                    await until(lambda box=box: len(box.messages) == 2, 20,
                                what=f"two emails from {side}")
    finally:
        for server in servers:
            server.stop()
    bodies = {side: {m["To"]: m.get_body(("html",)).get_content() for m in box.messages}
              for side, box in boxes.items()}
    for to in ("default@example.com", "custom@example.com"):  # apprise rstrips every body
        assert bodies["ours"][to] == bodies["am"][to].rstrip(), to
    default, custom = bodies["am"]["default@example.com"], bodies["am"]["custom@example.com"]
    assert "<script>" not in default and "&lt;script&gt;alert(&#39;x&#39;)" in default
    assert "Mailgun" not in default  # the licence comment is dropped, as html/template drops it
    assert "#ZgotmplZ" in custom and "dropped by" not in custom and "<i>ok</i>" in custom


@pytest.mark.parametrize("text", [
    '<a href="{{ if .Status }}x?{{ end }}{{ .Receiver }}">',  # ambiguous URL part
    '<a {{ if .Status }}href="{{ else }}title="{{ end }}x">',  # branches end apart
    "<script>var x = {{ .Receiver }}</script>",  # JavaScript: Go escapes it, we refuse it
    '<p style="color: {{ .Status }}">',  # CSS: likewise
    "<p title='{{ .Status }}",  # ends inside an attribute
    '{{ .Receiver | html | printf "%s" }}',  # a predefined escaper not last
])
def test_what_html_template_or_we_cannot_escape_is_refused(text: str) -> None:
    with pytest.raises(HTMLEscapeError):
        AlertmanagerTemplates().execute_html(text, sample_data())


def test_recursion_and_ranges_settle() -> None:
    tmpl = AlertmanagerTemplates()
    text = ('{{ define "t" }}<b>{{ .Receiver }}</b>{{ end }}{{ range .Alerts }}<a title="'
            '{{ .Status }}">{{ template "t" $ }}</a>{{ end }}')
    out = tmpl.execute_html(text, sample_data())
    assert out.count('<a title="') == len(sample_data().Alerts) > 0
