"""Matchers, config validation and the routing tree, against Alertmanager's documented rules."""

from __future__ import annotations

import pytest

from inferwatch.core.config import ConfigError
from inferwatch.notifier.matchers import MatcherError, parse_matcher, parse_matchers
from inferwatch.notifier.routing import build_routes, group_key, match_routes
from tests.notifier.helpers import load

BASE = """
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      group_wait: 5s
      continue: true
      routes:
        - matchers: ['team=~"ml|infra"']
          receiver: team
    - matchers: ['severity=~"page|ticket"', 'env!="dev"']
      receiver: tickets
      group_by: ['...']
receivers:
  - {name: default}
  - {name: pager}
  - {name: team}
  - {name: tickets}
"""


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ('sev="page"', {"sev": "page"}, True),
    ('sev="page"', {"sev": "pager"}, False),
    ('sev!="page"', {}, True),
    ('sev=~"pa.e"', {"sev": "page"}, True),
    ('sev=~"pa"', {"sev": "page"}, False),  # anchored: no partial match
    ('sev=~"page|ticket"', {"sev": "xticket"}, False),
    ('sev!~"page|ticket"', {"sev": "info"}, True),
    ('sev=""', {}, True),  # a missing label is the empty string
    ("sev=page", {"sev": "page"}, True),  # unquoted value
    ('msg="a \\"b\\""', {"msg": 'a "b"'}, True),
])
def test_matcher_semantics(text: str, labels: dict, expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("bad", ['sev=~"("', "sev", '{a="b"', 'a="b" c="d"', "=x"])
def test_bad_matchers_are_refused(bad: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(bad)


def test_braced_list_round_trips() -> None:
    found = parse_matchers('{a="b", c=~"d|e", f!=g}')
    assert [str(m) for m in found] == ['a="b"', 'c=~"d|e"', 'f!="g"']


def test_defaults_are_alertmanagers_and_children_inherit(tmp_path) -> None:
    root = build_routes(load(tmp_path, BASE).config.route)
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (30, 300, 14400)
    pager, tickets = root.routes
    assert pager.group_wait == 5 and pager.group_interval == 300
    assert pager.group_by == ("alertname",)
    assert pager.routes[0].group_wait == 5  # grandchild inherits the parent's override
    assert tickets.group_all and tickets.group_wait == 30


@pytest.mark.parametrize(("labels", "receivers"), [
    ({"alertname": "X"}, ["default"]),
    ({"alertname": "X", "severity": "page"}, ["pager", "tickets"]),  # continue: true
    ({"alertname": "X", "severity": "page", "team": "ml"}, ["team", "tickets"]),
    ({"alertname": "X", "severity": "page", "env": "dev"}, ["pager"]),
    ({"alertname": "X", "severity": "ticket"}, ["tickets"]),
])
def test_depth_first_matching_with_continue(tmp_path, labels, receivers) -> None:
    root = build_routes(load(tmp_path, BASE).config.route)
    assert [r.receiver for r in match_routes(root, labels)] == receivers


def test_group_key_uses_group_labels_only(tmp_path) -> None:
    root = build_routes(load(tmp_path, BASE).config.route)
    a = group_key(root, {"alertname": "X", "pod": "1"})
    assert a == group_key(root, {"alertname": "X", "pod": "2"})
    assert a != group_key(root, {"alertname": "Y"})
    assert a.endswith(':{alertname="X"}')


@pytest.mark.parametrize(("snippet", "message"), [
    ("route: {receiver: nobody}\nreceivers: [{name: a}]",
     "route.receiver: receiver 'nobody' is not defined"),
    ("route: {receiver: a, routes: [{receiver: b}]}\nreceivers: [{name: a}]",
     "route.routes.0.receiver: receiver 'b' is not defined"),
    ("route: {receiver: a, group_wait: soon}\nreceivers: [{name: a}]",
     "route.group_wait: 'soon' is not a duration"),
    ("route: {receiver: a, matchers: ['x=~\"(\"']}\nreceivers: [{name: a}]",
     "route.matchers.0: invalid regular expression"),
    ("route: {receiver: a, matchers: ['x=\"1\"']}\nreceivers: [{name: a}]",
     "the root route must not have matchers"),
    ("route: {receiver: a, colour: red}\nreceivers: [{name: a}]", "route.colour: unknown field"),
    ("route: {receiver: a}\nreceivers: [{name: a}, {name: a}]", "receiver 'a' is defined twice"),
    ("route: {receiver: a}\nreceivers: [{name: a, urls: [{url: 'json://x', template: t}]}]",
     "receivers.0.urls.0.template: template 't' is not defined"),
    ("route: {receiver: a}\nreceivers: [{name: a}]\ntemplates: {t: {title: '{nope}', body: ''}}",
     "templates.t: unknown field {nope}"),
    ("route: {receiver: a}\nreceivers: [{name: a}]\ntemplates: {t: {title: '{x.y}', body: ''}}",
     "templates.t: unknown field {x}"),
    ("route: {receiver: a}\nreceivers: [{name: a}]\n"
     "templates: {t: {title: '{num_firing}', body: '', alert: '{nope}'}}",
     "templates.t: unknown field {nope}"),
    ("route: {receiver: a}\nreceivers: [{name: a, urls: [{url_file: /nonexistent/u}]}]",
     "receivers.0.urls.0.url_file: cannot read /nonexistent/u"),
])
def test_config_errors_name_file_and_field(tmp_path, snippet: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, snippet)
    text = str(caught.value)
    assert message in text
    assert all(line.startswith(str(tmp_path / "notifier.yml") + ": ") for line in
               caught.value.problems)


def test_secrets_come_from_env_and_files_and_errors_do_not_echo_them(tmp_path,
                                                                     monkeypatch) -> None:
    (tmp_path / "url").write_text("json://127.0.0.1:9/from-file\n")
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-token-value")
    text = f"""
route: {{receiver: a}}
receivers:
  - name: a
    urls:
      - "json://127.0.0.1:9/x?+Authorization=Bearer%20${{HOOK_TOKEN}}"
      - url_file: {tmp_path / "url"}
web: {{bearer_token: "${{MISSING_TOKEN}}"}}
"""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert "web.bearer_token: environment variable MISSING_TOKEN is not set" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    monkeypatch.setenv("MISSING_TOKEN", "t0ken")
    loaded = load(tmp_path, text)
    assert loaded.urls[("a", 0)].endswith("Bearer%20s3cr3t-token-value")
    assert loaded.urls[("a", 1)] == "json://127.0.0.1:9/from-file"
    assert loaded.bearer_token == "t0ken"
    assert "s3cr3t" not in repr(loaded)


def test_example_config_is_valid(tmp_path, monkeypatch) -> None:
    from pathlib import Path
    example = Path(__file__).resolve().parents[2] / "notifier" / "examples" / "notifier.yml"
    secret = tmp_path / "secret"
    secret.write_text("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#oncall")
    text = example.read_text().replace("/run/secrets/slack-webhook-url", str(secret)) \
        .replace("/run/secrets/notifier-token", str(secret))
    for name in ("PAGER_TOKEN", "SMTP_USER", "SMTP_PASSWORD", "SLACK_TOKEN_A", "SLACK_TOKEN_B",
                 "SLACK_TOKEN_C"):
        monkeypatch.setenv(name, "T1JJ3T3L2")
    from inferwatch.notifier.service import build_channels
    loaded = load(tmp_path, text)
    channels = build_channels(loaded)
    assert {c.type for c in channels.values()} == {"slack", "jsons", "mailtos", "json"}
    assert channels[("oncall-email", 0)].send_resolved is True
    assert channels[("oncall-page", 1)].send_resolved is True  # webhooks default to true
    assert channels[("ml-platform", 0)].kind == "slack"


def test_the_route_cache_takes_the_routes_match_routes_takes(tmp_path) -> None:
    """Over random label sets (the matched labels present, absent or empty, other labels
    varying), RouteCache answers as match_routes does; past its size it starts afresh."""
    import random

    from inferwatch.notifier.routing import RouteCache

    root = build_routes(load(tmp_path, BASE).config.route)
    cache = RouteCache(root, size=8)
    assert cache.names == ("env", "severity", "team")
    rng = random.Random(3)
    values = {"severity": ["page", "ticket", "info", ""], "team": ["ml", "infra", "web", ""],
              "env": ["dev", "prod", ""]}
    for i in range(500):
        labels = {"alertname": f"A{i}", "pod": str(rng.random())}
        for name, choices in values.items():
            if rng.random() < 0.8:
                labels[name] = rng.choice(choices)
        assert cache(labels) == tuple(match_routes(root, labels)), labels
        assert len(cache._found) <= 8
