"""notifier.gotemplate, the language: each construct, trim markers, Go's values and errors.

The expected strings are what Go 1.19's text/template prints (the differential test against
Alertmanager, test_gotemplate_alertmanager.py, checks a large sample of them for real).
"""

from __future__ import annotations

from typing import Any

import pytest

from inferwatch.notifier.alerts import StoredAlert
from inferwatch.notifier.gotemplate import (
    AlertmanagerTemplates,
    TemplateExecError,
    Templates,
    TemplateSyntaxError,
    notification_data,
    sample_data,
)
from inferwatch.notifier.gotemplate.data import KV
from inferwatch.notifier.gotemplate.gotime import ZERO, GoTime
from inferwatch.notifier.templates import MessageData

DATA = sample_data()


def run(text: str, data: Any = DATA, *files: str) -> str:
    tmpl = Templates()
    for i, f in enumerate(files):
        tmpl.parse(f, f"file{i}")
    return tmpl.parse(text, "t").execute("t", data)


@pytest.mark.parametrize("text, want", [
    # text, trim markers, comments
    ("a  {{- 1 -}}  b", "a1b"),
    ("a \n {{- 1 }} \n", "a1 \n"),
    ("{{-3}}", "-3"),
    ("x {{- /* comment */ -}} \n y", "xy"),
    ("x{{/* a\nmulti-line comment */}}y", "xy"),
    ("{{ \"a\"\n }}", "a"),
    # literals
    ("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ 'a' }} {{ 1.5e3 }} {{ 1e6 }} {{ .5 }}",
     "31 15 15 1000 97 1500 1e+06 0.5"),
    ('{{ "\\u00e9\\x41\\t" }}{{ `raw\\n` }} {{ true }} {{ false }}', "éA\traw\\n true false"),
    # fields, methods, maps
    ("{{ .Status }} {{ .CommonLabels.alertname }} {{ .CommonLabels.missing }}|",
     "firing Sample |"),
    ("{{ .GroupLabels.SortedPairs }} {{ .CommonLabels.Names }} {{ .CommonLabels.Values }}",
     "[{alertname Sample}] [alertname severity] [Sample page]"),
    ("{{ (.CommonLabels.Remove .GroupLabels.Names).Values }} {{ len .Alerts.Firing }}"
     "{{ len .Alerts.Resolved }}", "[page] 10"),
    ("{{ range .Alerts }}{{ .Status }} {{ .StartsAt }} {{ .EndsAt }}{{ end }}",
     "firing 2023-11-14 22:13:20 +0000 UTC 0001-01-01 00:00:00 +0000 UTC"),
    ("{{ .x }}|{{ .x.y }}", "<no value>|<no value>"),  # a plain map: missing is nil
    # variables
    ('{{ $x := "a" }}{{ $x = "b" }}{{ $x }}{{ with $y := .Status }}{{ $y }}{{ $.Receiver }}'
     "{{ end }}", "bfiringr"),
    ("{{ range $i, $a := .Alerts }}{{ $i }}{{ $a.Status }}{{ end }}", "0firing"),
    ("{{ range $v := .CommonLabels }}{{ $v }},{{ end }}", "Sample,page,"),
    # control structures
    ('{{ if eq .Status "x" }}1{{ else if eq .Status "firing" }}2{{ else }}3{{ end }}', "2"),
    ("{{ with .CommonLabels.nope }}y{{ else }}n{{ end }}{{ with .Status }}{{ . }}{{ end }}",
     "nfiring"),
    ("{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v }};{{ end }}",
     "alertname=Sample;severity=page;"),
    ("{{ range .Alerts.Resolved }}x{{ else }}none{{ end }}", "none"),
    ("{{ range stringSlice \"a\" \"b\" \"c\" }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}"
     "{{ end }}", "a"),
    ("{{ range stringSlice \"a\" \"b\" \"c\" }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}"
     "{{ end }}", "ac"),
    ("{{ range .x }}x{{ else }}nil ranges as empty{{ end }}",
     "nil ranges as empty"),
    # functions
    ('{{ or .CommonLabels.x "fb" }} {{ and 1 0 "x" }} {{ or 0 "" }} {{ not 0 }} {{ not 1 }}',
     "fb 0  true false"),
    ('{{ or "x" (index nil 1) }}{{ and "" (index nil 1) }}|', "x|"),  # short circuit
    ('{{ eq 1 2 3 1 }} {{ ne "a" "b" }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }}'
     " {{ ge 1.5 2.5 }} {{ eq .CommonLabels.nope \"\" }}", "true true true true true false true"),
    ('{{ index .CommonLabels "severity" }} {{ index "abc" 1 }} {{ len "héllo" }}'
     ' {{ slice "abcdef" 1 3 }} {{ slice (stringSlice "a" "b" "c") 1 }}', "page 98 6 bc [b c]"),
    ('{{ print 1 2 "a" "b" 3 }} {{ println "x" 1 }}', "1 2ab3 x 1\n"),
    ('{{ html "<a href=\'x\'>&\\"" }} {{ js "it\'s <b>=\\\\" }} {{ urlquery "a b&c/é~" }}',
     "&lt;a href=&#39;x&#39;&gt;&amp;&#34; it\\'s \\u003Cb\\u003E\\u003D\\\\ a+b%26c%2F%C3%A9~"),
    ('{{ "a" | printf "%s-%s" "b" }}', "b-a"),
    ('{{ toUpper "straße" }} {{ toLower "ÀB" }} {{ title "hello wORLD it\'s 1st a.b_c" }}',
     "STRAßE àb Hello World It's 1St A.b_c"),
    ('{{ join "," (stringSlice "a" "b") }} {{ match "^S" .CommonLabels.alertname }}'
     ' {{ safeHtml "<b>" }}', "a,b true <b>"),
    ('{{ reReplaceAll "(\\\\w+)-(\\\\d+)" "$2:${1}x$1x$$" "web-01" }}'
     ' {{ reReplaceAll "x*" "-" "abxd" }}', "01:webx$ -a-b-d-"),
    # named templates
    ('{{ define "a" }}A{{ . }}{{ end }}{{ template "a" 1 }}{{ template "a" }}', "A1A<no value>"),
    ('{{ block "b" .Status }}[{{ . }}]{{ end }}', "[firing]"),
    ('{{ template "file0" . }}{{ template "inner" "x" }}', "top firing/x"),
])
def test_language(text: str, want: str) -> None:
    files = ['top {{ .Status }}{{ define "inner" }}/{{ . }}{{ end }}']
    data = {"x": None} if ".x" in text else DATA
    assert run(text, data, *files) == want


@pytest.mark.parametrize("fmt, args, want", [
    ("%s %d %v %q %.2f", ("a", 3, [1, 2], 'q"', 3.14159), 'a 3 [1 2] "q\\"" 3.14'),
    ("%5s|%-5s|%05d|%x|%X|%t|%T", ("ab", "cd", 42, "hi", 255, True, KV()),
     "   ab|cd   |00042|6869|FF|true|template.KV"),
    ("%d %s", ("str", 5), "%!d(string=str) %!s(int=5)"),
    ("%s|%d", (), "%!s(MISSING)|%!d(MISSING)"),
    ("x", (1, "y"), "x%!(EXTRA int=1, string=y)"),
    ("%v %v %v %v %v", (1e6, 0.5, 123456.0, 1e-5, 1e21), "1e+06 0.5 123456 1e-05 1e+21"),
    ("%6.2f|%+d|%e|%g|%8.3e|%%", (3.14159, 5, 123456.789, 0.000012, 1234.5),
     "  3.14|+5|1.234568e+05|1.2e-05|1.234e+03|%"),
    ("%c|%U|%o|%b|%#x|%x", (65, 9731, 8, 5, 255, -255), "A|U+2603|10|101|0xff|-ff"),
    ("%v|%+v", (KV(b="2", a="1"), DATA.Alerts[0].Labels.SortedPairs()[0]),
     "map[a:1 b:2]|{Name:alertname Value:Sample}"),
])
def test_printf(fmt: str, args: tuple, want: str) -> None:
    from inferwatch.notifier.gotemplate.fmtgo import sprintf
    assert sprintf(fmt, *args) == want


@pytest.mark.parametrize("text, message", [
    ("{{ nope }}", 'function "nope" not defined'),
    ("{{ $x }}", 'undefined variable "$x"'),
    ("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}", 'undefined variable "$x"'),
    ("{{ if true }}x", "unexpected EOF"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ("{{ .Status ", "unclosed action"),
    ("{{ (1 }}", "unclosed left paren"),
    ("{{ 1) }}", "unexpected right paren"),
    ("{{/* x }}", "unclosed comment"),
    ("{{/* x */ 1 }}", "comment ends before closing delimiter"),
    ("{{ break }}", "{{break}} outside {{range}}"),
    ('{{ "a" | "b" }}', "non executable command in pipeline stage 2"),
    ("{{ if }}{{ end }}", "missing value for if"),
    ('{{ define "a" }}1{{ end }}{{ define "a" }}2{{ end }}',
     'template: multiple definition of template "a"'),
    ("{{ template .Status }}", "unexpected"),
    ('{{ "unterminated }}', "unterminated quoted string"),
    ("{{ 0x }}", 'illegal number syntax: "0x"'),
    ("{{ 1.2.3 }}", 'unexpected ".3" in operand'),
    ("{{ $a, $b := 1 }}", "too many declarations in command"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        Templates().parse(text, "t")
    assert message in str(err.value)
    assert str(err.value).startswith("template: t:")


@pytest.mark.parametrize("text, message", [
    ('{{ template "nope" . }}', 'template "nope" not defined'),
    ("{{ .Foo }}", "can't evaluate field Foo in type *template.Data"),
    ("{{ .Alerts.Firing.Firing }}", "can't evaluate field Firing in type []template.Alert"),
    ('{{ .Status "x" }}', "Status has arguments but cannot be invoked as function"),
    ('{{ .CommonLabels.foo "x" }}', "foo is not a method but has arguments"),
    ("{{ toUpper 3 }}", "expected string; found 3"),
    ("{{ 3 | toUpper }}", "wrong type for value; expected string; got int"),
    ('{{ safeHtml "x" | toUpper }}', "wrong type for value; expected string; got template.HTML"),
    ('{{ toUpper "a" "b" }}', "wrong number of args for toUpper: want 1 got 2"),
    ('{{ eq 1 "a" }}', "error calling eq: incompatible types for comparison"),
    ("{{ eq .Alerts .Alerts }}", "error calling eq: invalid type for comparison"),
    ("{{ lt true false }}", "error calling lt: invalid type for comparison"),
    ("{{ index .Alerts 5 }}", "error calling index: index out of range: 5"),
    ("{{ len 3 }}", "error calling len: len of type int"),
    ('{{ reReplaceAll "(" "" "x" }}', "error calling reReplaceAll: regexp: Compile(`(`): "),
    ('{{ match "(" "x" }}', "error calling match: error parsing regexp"),
    ("{{ range 3 }}{{ end }}", "range can't iterate over 3"),
    ('{{ "x" 1 }}', "can't give argument to non-function"),
    ('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}',
     "exceeded maximum template depth"),
])
def test_exec_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateExecError) as err:
        run(text)
    assert message in str(err.value)


def test_later_definitions_replace_earlier_ones_unless_empty() -> None:
    tmpl = Templates().parse('{{ define "a" }}one{{ end }}{{ define "b" }}B{{ end }}')
    tmpl.parse('{{ define "a" }}two{{ end }}{{ define "b" }}  {{ end }}')
    assert tmpl.parse('{{ template "a" }}{{ template "b" }}', "t").execute("t", None) == "twoB"


def test_alertmanager_defaults_and_user_files(tmp_path) -> None:
    tmpl = AlertmanagerTemplates()
    for name in ("__subject", "__text_alert_list", "slack.default.title", "slack.default.text",
                 "email.default.subject", "email.default.html", "pagerduty.default.instances"):
        assert name in tmpl.base.trees, name
    assert tmpl.execute_text('{{ template "email.default.subject" . }}', DATA) == \
        "[FIRING:1] Sample (page)"
    html = tmpl.execute_text('{{ template "email.default.html" . }}', DATA)
    assert "1 alert for alertname=Sample" in " ".join(html.split())
    assert "alertname = Sample<br" in html
    assert tmpl.execute_text("", DATA) == ""
    (tmp_path / "mine.tmpl").write_text('{{ define "__subject" }}mine {{ .Status }}{{ end }}')
    mine = AlertmanagerTemplates([str(tmp_path / "*.tmpl"), str(tmp_path / "none-*.tmpl")])
    assert mine.execute_text('{{ template "slack.default.title" . }}', DATA) == "mine firing"
    assert mine.execute_text('{{ template "mine.tmpl" . }}|', DATA) == "|"
    with pytest.raises(TemplateSyntaxError):
        mine.check("{{ nope }}")


def _stored(fp: str, labels: dict[str, str], ends_at: float | None = None) -> StoredAlert:
    return StoredAlert(fp, labels, {"summary": fp}, 1_700_000_000.25, ends_at, "http://g", 0.0)


def test_notification_data_is_alertmanagers() -> None:
    alerts = [_stored("c", {"alertname": "A", "job": "b", "x": "1"}),
              _stored("a", {"alertname": "A", "x": "1"}, ends_at=1_700_000_100.0),
              _stored("b", {"alertname": "A", "job": "a", "instance": "z", "x": "1"}),
              _stored("d", {"alertname": "A", "job": "a", "instance": "y", "x": "2"})]
    data = notification_data(MessageData("team.a+b", "k", {"alertname": "A"}, alerts,
                                         "http://am"), now=1_700_000_200.0)
    assert data.Receiver == "team\\.a\\+b"  # regexp.QuoteMeta, as Alertmanager does
    assert [a.Fingerprint for a in data.Alerts] == ["d", "b", "c", "a"]  # job, instance, labels
    assert [a.Status for a in data.Alerts] == ["firing", "firing", "firing", "resolved"]
    assert data.Status == "firing" and data.ExternalURL == "http://am"
    assert data.Alerts[0].EndsAt is ZERO and data.Alerts[3].EndsAt.Unix() == 1_700_000_100
    assert data.Alerts[0].StartsAt.String() == "2023-11-14 22:13:20.25 +0000 UTC"
    assert data.CommonLabels == {"alertname": "A"} and data.CommonAnnotations == {}
    assert data.GroupLabels == {"alertname": "A"}
    resolved = notification_data(MessageData("r", "k", {}, alerts[1:2], ""), 1_800_000_000.0)
    assert resolved.Status == "resolved" and resolved.CommonLabels == alerts[1].labels
    assert [(p.Name, p.Value) for p in resolved.CommonAnnotations.SortedPairs()] == [
        ("summary", "a")]


@pytest.mark.parametrize("layout, want", [
    ("2006-01-02 15:04:05.999999999 -0700 MST", "2024-03-01 13:34:05.1234 +0130 XT"),
    ("Mon Jan _2 3:04:05PM 2006", "Fri Mar  1 1:34:05PM 2024"),
    ("Monday January 2 06 002 .000 ,00 .9", "Friday March 1 24 061 .123 ,12 .1"),
    ("Z07:00 -07 -07:00:00 Z0700 pm", "+01:30 +01 +01:30:00 +0130 pm"),
    ("2006.000x 15h 4.99", "2024.123x 13h 34.12"),
])
def test_time_format(layout: str, want: str) -> None:
    t = GoTime(1_709_294_645, 123_400_000, offset=5400, zone="XT")  # 12:04:05.1234 UTC
    assert t.Format(layout) == want


def test_times_print_as_go_does() -> None:
    assert ZERO.String() == "0001-01-01 00:00:00 +0000 UTC" and ZERO.IsZero()
    assert GoTime.from_unix(1.5).String() == "1970-01-01 00:00:01.5 +0000 UTC"
    assert GoTime(0, 0, -3600, "").String() == "1969-12-31 23:00:00 -0100 -0100"
    text = ("{{ .StartsAt.Unix }} {{ .StartsAt.Month }} {{ .StartsAt.Weekday }}"
            " {{ eq .StartsAt.Year 2023 }}")
    assert run(text, DATA.Alerts[0]) == "1700000000 November Tuesday true"
