"""Every alert of every shipped pack carries its context: a `runbook_url` to its runbook in
docs/runbooks/ (which exists, and whose PromQL parses with promql-parser and names only metrics
of the catalogue or recording rules of the packs) and a `dashboard_url` to a panel of the
generated dashboards (uid, panel id and title, variables), rebased on the configured bases."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import promql_parser
import pytest

from inferwatch import catalog
from inferwatch.alert_rules.compile import (
    CompiledAlert,
    CompiledGroup,
    RecordingRule,
    compile_group,
)
from inferwatch.alert_rules.links import DEFAULT_GRAFANA_URL, DEFAULT_RUNBOOK_BASE, Bases, rebase
from inferwatch.alert_rules.runconfig import load_rules
from inferwatch.alert_rules.templates import render
from inferwatch.dashboards.build import BUILDERS, to_json

ROOT = Path(__file__).resolve().parents[2]
PACKS = sorted((ROOT / "alert_rules" / "packs").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
PROMQL_BLOCK = re.compile(r"```promql\n(.*?)```", re.S)
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def compiled() -> list[CompiledGroup]:
    groups = load_rules([str(p) for p in PACKS], embedded=True)
    return [g if isinstance(g, CompiledGroup) else compile_group(g) for g in groups]


GROUPS = compiled()
ALERTS = {a.name: a for g in GROUPS for a in g.alerts}


def known_metrics() -> set[str]:
    names = set()
    for spec in catalog.by_name().values():
        names.add(spec.name)
        if spec.type == catalog.HISTOGRAM:
            names |= {spec.name + s for s in HISTOGRAM_SUFFIXES}
    for group in GROUPS:
        names |= {r.name for r in group.recordings}
        names |= {s.name for s in group.steps if isinstance(s, RecordingRule)}
    return names


def metric_names(node: object) -> set[str]:
    """Every selector's metric name in a promql-parser tree."""
    found = set()
    if isinstance(node, promql_parser.VectorSelector):
        found.add(node.name)
    for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            found |= metric_names(child)
    for child in getattr(node, "args", None) or []:
        found |= metric_names(child)
    return found


def dashboards() -> dict[str, dict]:
    out = {}
    for build in BUILDERS.values():
        board = to_json(build())
        out[board["uid"]] = board
    return out


def notes(alert: CompiledAlert) -> dict[str, str]:
    return dict(alert.annotations)


def test_every_alert_has_a_runbook_url_to_a_shipped_runbook() -> None:
    assert len(ALERTS) >= 25
    for name, alert in ALERTS.items():
        assert notes(alert).get("runbook_url") == f"{DEFAULT_RUNBOOK_BASE}/{name}.md", name
        assert (RUNBOOKS / f"{name}.md").is_file(), f"docs/runbooks/{name}.md is missing"
    orphans = {p.stem for p in RUNBOOKS.glob("*.md")} - set(ALERTS)
    assert not orphans, f"runbooks without an alert: {orphans}"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_runbook_says_what_to_check_and_its_promql_parses_on_known_metrics(name: str) -> None:
    text = (RUNBOOKS / f"{name}.md").read_text()
    assert text.startswith(f"# {name}\n")
    for heading in ("## What it means", "## What to check first", "## PromQL to look at"):
        assert heading in text, (name, heading)
    blocks = PROMQL_BLOCK.findall(text)
    assert blocks, name
    known = known_metrics()
    for block in blocks:
        tree = promql_parser.parse(block.strip())
        names = metric_names(tree)
        assert names - known == set(), (name, block, names - known)


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_dashboard_url_opens_the_panel_named_in_the_runbook(name: str) -> None:
    boards = dashboards()
    url = notes(ALERTS[name])["dashboard_url"]
    assert url.startswith(DEFAULT_GRAFANA_URL + "/d/")
    parts = urllib.parse.urlsplit(render(url, {}, 0.0))
    uid = parts.path.removeprefix("/d/")
    query = urllib.parse.parse_qs(parts.query)
    assert uid in boards, (name, uid)
    panel = {p["id"]: p["title"] for p in boards[uid]["panels"]}[int(query["viewPanel"][0])]
    assert query["from"] == ["now-1h"] and query["to"] == ["now"]
    runbook = (RUNBOOKS / f"{name}.md").read_text()
    named = re.search(r'Dashboard panel: "(.+?)" on "(.+?)"', runbook)
    assert named and named.groups() == (panel, boards[uid]["title"]), (name, uid, panel)
    variables = {v["name"] for v in boards[uid]["templating"]["list"]}
    labels = {v: f"{v} value/&" for v in variables if v != "datasource"}
    filled = urllib.parse.parse_qs(urllib.parse.urlsplit(render(url, labels, 0.0)).query)
    wanted = {f"var-{k}": [v] for k, v in labels.items() if k in ("cluster", "node", "namespace",
                                                                  "engine", "model", "role",
                                                                  "target")}
    assert {k: v for k, v in filled.items() if k.startswith("var-")} == wanted, name


def test_links_are_rebased_on_the_configured_bases() -> None:
    bases = Bases("https://wiki.example.com/runbooks/", "https://grafana.example.com")
    for group in GROUPS:
        for alert in rebase(group, bases).alerts:
            got = dict(alert.annotations)
            assert got["runbook_url"] == f"https://wiki.example.com/runbooks/{alert.name}.md"
            assert got["dashboard_url"].startswith("https://grafana.example.com/d/inferwatch-")
            assert dict(alert.annotations)["summary"] == notes(ALERTS[alert.name])["summary"]
    assert rebase(GROUPS[0], Bases()) is GROUPS[0]
