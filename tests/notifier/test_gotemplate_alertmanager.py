"""Differential: Debian's Alertmanager 0.25 renders Slack titles and texts, we render the same
templates on the same alerts with notifier.gotemplate, and the strings must be equal.

One Alertmanager runs every case: a route per case (label `case`), a receiver per case whose
slack_configs posts to a loopback Sink, a `templates:` glob of two files with defines.
"""

# ruff: noqa: E501 (the templates under test are kept one action sequence a line, as written)
from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.notifier.alerts import StoredAlert, fingerprint
from inferwatch.notifier.gotemplate import AlertmanagerTemplates, notification_data
from inferwatch.notifier.templates import MessageData
from tests.support.procs import free_port, need_binary, wait_http
from tests.support.webhook import Sink, until

pytestmark = pytest.mark.ecosystem

START = "2024-03-01T12:34:56.789Z"  # a resolved alert's, last in its group (see _posted_alerts)
ENDED = "2024-03-01T13:00:00.5Z"

FILE_A = r"""
{{ define "my.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}{{ end }}
{{ define "my.text" }}{{ range .Alerts }}{{ template "my.alert" . }}{{ end }}{{ template "nodot" }}{{ end }}
{{ define "my.alert" -}}
* {{ .Labels.alertname }} {{ .Annotations.summary }}
  started {{ .StartsAt }} ends {{ .EndsAt }}
  {{ .StartsAt.Format "2006-01-02T15:04:05.000Z07:00 Mon Jan _2 3:04PM .999" }} {{ .StartsAt.Unix }} {{ .EndsAt.IsZero }} {{ .StartsAt.UTC.Year }}
{{ end }}
{{ define "nodot" }}{{ . }}|{{ .Anything }}{{ end }}
{{ define "__alertmanager" }}InferwatchAM{{ end }}
"""
FILE_B = 'top of b.tmpl: {{ .Status }}{{ define "b.inner" }}inner {{ len .Alerts }}{{ end }}'

PRINTF = r"""{{ printf "%s has %d alerts" .Status (len .Alerts) }}
{{ printf "%v|%q|%.2f|%5s|%-5s|%05d|%x|%X|%t|%T|%T" .GroupLabels "quo\"te\n" 3.14159 "ab" "cd" 42 "hi" 255 true .Alerts .CommonLabels }}
{{ printf "%d %s" "str" 5 }} {{ printf "%s" }} {{ printf "x" 1 "y" }} {{ printf "%v %v %v" 1e6 0.5 123456.0 }}
{{ printf "%6.2f|%+d|%e|%g|%8.3e" 3.14159 5 123456.789 0.000012 1234.5 }}
{{ printf "%s" .Alerts.Firing }}
{{ printf "%+v" (index .CommonLabels.SortedPairs 0) }} {{ printf "%c|%U|%o|%b|%#x" 65 9731 8 5 255 }}
{{ print 1 2 "a" "b" 3 true }} {{ println "x" 1 }}{{ printf "%v" .CommonLabels }} {{ printf "%x" -255 }}"""

FUNCS = r"""{{ .CommonLabels.Values | join "," | toUpper }}
{{ reReplaceAll "(\\w+):(\\d+)" "$2@${1}x" .CommonLabels.instance }} {{ reReplaceAll "x*" "-" "abxd" }}
{{ reReplaceAll "a(?P<n>b)" "[$n][$1x][$$][${n}]" "zabab" }} {{ reReplaceAll "^" ">" "a\nb" }}
{{ title "hello wORLD it's a.b_c 1st-place über" }} {{ toLower "ÀB" }} {{ toUpper "straße ǆ" }}
{{ match "^ap" .CommonLabels.job }} {{ match "z" "abc" }} {{ match "(?i)API" .CommonLabels.job }}
{{ stringSlice "a" "b" "c" | join "+" }} {{ safeHtml "<b>" }} {{ html "<a href='x'>&\"" }}
{{ js "it's <b> \"q\" = \\ é\t" }} {{ urlquery "a b&c=d/é~" }} {{ html 1 "x" 2 }}
{{ .CommonLabels.Remove (stringSlice "job" "case") }} {{ (.CommonLabels.Remove .GroupLabels.Names).SortedPairs.Values | join " " }}
{{ index .CommonLabels "job" }}|{{ index .CommonLabels "nope" }}|{{ (index .Alerts 0).Labels.alertname }}
{{ len "héllo" }} {{ slice "abcdef" 1 3 }} {{ index "abc" 1 }} {{ slice .CommonLabels.Names 1 }} {{ len .CommonLabels }}"""

LOGIC = r"""{{ if eq .Status "firing" }}F{{ else if eq .Status "resolved" }}R{{ else }}?{{ end }}
{{ if and .CommonLabels.severity (eq .CommonLabels.severity "page") }}page{{ else }}nopage{{ end }}
{{ or .CommonLabels.missing "fallback" }} {{ and 1 0 "x" }} {{ or 0 "" }} {{ not 0 }} {{ not .Alerts }}
{{ eq 1 2 3 1 }} {{ ne "a" "b" }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }} {{ eq .CommonLabels.missing "" }}
{{ with .CommonLabels.severity }}sev={{ . }}{{ else }}nosev{{ end }} {{ with .CommonLabels.missing }}x{{ else }}empty{{ end }}
{{ $x := "one" }}{{ $x = "two" }}{{ $x }} {{ with $y := .Status }}{{ $y }}{{ $.Receiver }}{{ end }}
{{- /* a comment */ -}}
   trimmed   {{- " left" }} {{ "right" -}}

end {{ 0x1F }} {{ 1_000 }} {{ 'a' }} {{ -3 }} {{ 1.5e3 }} {{ true }} {{ "\u00e9\x41" }} {{ `raw\n` }}
{{ if .Alerts.Resolved }}has resolved{{ end }}{{ range .Alerts.Resolved }}{{ .Status }}{{ end }}
{{ template "b.tmpl" . }} {{ template "b.inner" . }} {{ block "inline.block" . }}block:{{ .Receiver }}{{ end }}
{{ (.CommonLabels.SortedPairs).Names }} {{ .CommonLabels.SortedPairs.Names | len }}"""

RANGES = r"""{{ range .Alerts.Firing }}* {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
{{ end }}{{ range $i, $a := .Alerts }}{{ $i }}:{{ $a.Status }}:{{ $a.Fingerprint }} {{ end }}
{{ range $k, $v := .CommonLabels }}{{ $k }}->{{ $v }},{{ end }}
{{ range .Alerts.Resolved }}{{ .Labels.alertname }}{{ else }}none resolved{{ end }}
{{ range $p := .GroupLabels.SortedPairs }}{{ $p.Name }}{{ end }} {{ .CommonLabels.Names }} {{ .CommonLabels.Values }} {{ .CommonAnnotations.SortedPairs }}
{{ range .Alerts }}{{ if eq .Labels.severity "warn" }}{{ break }}{{ end }}{{ .Labels.instance }};{{ end }}
{{ range .Alerts }}{{ if not .Labels.instance }}{{ continue }}{{ end }}{{ .Labels.instance }};{{ end }}
{{ range .Alerts }}{{ .Labels }} {{ .Annotations }}
{{ end }}"""


def _alert(name: str, status: str, start: str, **labels: str) -> dict[str, Any]:
    a: dict[str, Any] = {"labels": {"alertname": name, **labels},
                         "annotations": {"summary": f"{name} on {labels.get('instance', '?')}",
                                         "runbook": "http://runbook/x"},
                         "startsAt": start, "generatorURL": f"http://prom/graph?g={name}"}
    if status == "resolved":
        a["startsAt"], a["endsAt"] = START, ENDED
    return a


THREE = [("HighLatency", "firing", {"severity": "page", "job": "api", "instance": "b:9090"}),
         ("HighLatency", "firing", {"severity": "warn", "job": "api", "instance": "a:9090"}),
         ("HighLatency", "resolved", {"severity": "page", "job": "web"})]
FIRING = [("QueueFull", "firing", {"severity": "page", "job": "api", "instance": "a:1"}),
          ("QueueFull", "firing", {"severity": "warn", "job": "api"}),
          ("QueueFull", "firing", {"severity": "page", "job": "api", "instance": "c:3"})]
DEFAULTS = ('{{ template "slack.default.text" . }}|{{ template "opsgenie.default.description" . }}'
            '|{{ template "wechat.default.message" . }}|{{ template "pushover.default.message" . }}')
CASES: dict[str, dict[str, Any]] = {  # receiver name: title, text, alerts
    "unset.receiver+1": {"alerts": THREE},
    "defaults": {"title": '{{ template "slack.default.title" . }}', "text": DEFAULTS,
                 "alerts": THREE},
    "ranges": {"title": "{{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }}",
               "text": RANGES, "alerts": FIRING},
    "printf": {"title": '{{ printf "%s:%d" .Status (len .Alerts) }}', "text": PRINTF,
               "alerts": THREE},
    "funcs": {"title": '{{ .CommonLabels.job | toUpper }}', "text": FUNCS, "alerts": FIRING},
    "logic": {"title": '{{ if eq .Status "firing" }}on{{ else }}off{{ end }}', "text": LOGIC,
              "alerts": THREE},
    "defines": {"title": '{{ template "my.title" . }}',
                "text": '{{ template "my.text" . }}{{ template "slack.default.username" . }}',
                "alerts": THREE},
}
DEFAULT_FIELDS = {"title": '{{ template "slack.default.title" . }}',
                  "text": '{{ template "slack.default.text" . }}',
                  "fallback": '{{ template "slack.default.fallback" . }}',
                  "title_link": '{{ template "slack.default.titlelink" . }}',
                  "color": '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'}


def _config(tmp: Path, sink: Sink) -> dict[str, Any]:
    routes, receivers = [], [{"name": "nobody"}]
    for i, (name, case) in enumerate(CASES.items()):
        routes.append({"receiver": name, "matchers": [f'case="c{i}"']})
        slack = {"api_url": f"http://127.0.0.1:{sink.port}/c{i}", "send_resolved": True,
                 "channel": "#alerts"}
        slack.update({k: case[k] for k in ("title", "text") if k in case})
        receivers.append({"name": name, "slack_configs": [slack]})
    return {"route": {"receiver": "nobody", "group_by": ["case"], "group_wait": "1s",
                      "group_interval": "1h", "repeat_interval": "1h", "routes": routes},
            "receivers": receivers, "templates": [str(tmp / "templates" / "*.tmpl")]}


def _posted_alerts() -> list[dict[str, Any]]:
    """Firing alerts start in a second: an alert older than group_wait flushes its group at
    once, maybe before the others of one POST are in; the old resolved one comes last."""
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1)) + ".789Z"
    out = []
    for i, case in enumerate(CASES.values()):
        for name, status, labels in case["alerts"]:
            out.append(_alert(name, status, start, case=f"c{i}", **labels))
    return out


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _stored(alerts: list[dict[str, Any]]) -> list[StoredAlert]:
    return [StoredAlert(fingerprint(a["labels"]), a["labels"], a["annotations"],
                        _ts(a["startsAt"]), _ts(a["endsAt"]) if "endsAt" in a else None,
                        a["generatorURL"], 0.0) for a in alerts]


@pytest.fixture
def alertmanager_bin() -> str:
    return need_binary("prometheus-alertmanager")


async def test_alertmanager_renders_slack_templates_as_we_do(
        tmp_path: Path, sink: Sink, alertmanager_bin: str) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.tmpl").write_text(FILE_A)
    (tmp_path / "templates" / "b.tmpl").write_text(FILE_B)
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(_config(tmp_path, sink), allow_unicode=True))
    check = subprocess.run(["amtool", "check-config", str(config)], capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    log = (tmp_path / "am.log").open("w")
    proc = subprocess.Popen([alertmanager_bin, f"--config.file={config}",
                             f"--storage.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}",
                             "--web.external-url=http://am.example:9093/am",
                             "--cluster.listen-address="], stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/am/-/ready")
        posted = _posted_alerts()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/am/api/v2/alerts",
                                     data=json.dumps(posted).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
        await until(lambda: {p.path for p in sink.posts} >= {f"/c{i}" for i in range(len(CASES))},
                    timeout=30, what="a Slack post from every receiver")
        now = time.time()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    ours = AlertmanagerTemplates([str(tmp_path / "templates" / "*.tmpl")])
    by_path = {p.path: p.body for p in sink.posts}
    compared = 0
    for i, (name, case) in enumerate(CASES.items()):
        body = by_path[f"/c{i}"]
        att = body["attachments"][0]
        alerts = [a for a in posted if a["labels"]["case"] == f"c{i}"]
        message = MessageData(name, "{}:{}", {"case": f"c{i}"}, _stored(alerts),
                              "http://am.example:9093/am")
        data = notification_data(message, now)
        fields = dict(DEFAULT_FIELDS) if "title" not in case else {
            "title": case["title"], "text": case["text"]}
        for field, template in fields.items():
            assert ours.execute_text(template, data) == att.get(field, ""), (name, field)
            compared += 1
        if "title" not in case:
            username = ours.execute_text('{{ template "slack.default.username" . }}', data)
            assert username == body["username"] == "InferwatchAM"
    assert compared == 5 + 2 * (len(CASES) - 1)
