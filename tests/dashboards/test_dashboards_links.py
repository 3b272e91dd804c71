"""Every alert's `dashboard_url` in the shipped packs opens a panel of the generated dashboards
with the alert's labels as that dashboard's variables (issue 16).

Each link is rendered as Prometheus renders the annotation (our Go-template engine), once with
every label an alert can carry set to a value that needs quoting and once with none: the uid is
a generated dashboard's, `viewPanel` one of its panels (not a row), every `var-*` one of its
label-filter variables holding the alert's label value unchanged, and no filter of the
dashboard that an alert's label could set is left out.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
import yaml
from dashboard_queries import dashboards, panels

from inferwatch.alert_rules.links import DEFAULT_GRAFANA_URL
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.alert_rules.templates import render
from inferwatch.dashboards.board import UID_COST
from inferwatch.dashboards.promql import FACTS, FILTERS

PACKS = sorted(Path(DEFAULT_PACK).parent.glob("*.yml"))
# Labels alerts carry that a dashboard can filter by (the facts are model_info's, no alert's).
LINKED = tuple(f for f in FILTERS if f not in FACTS)
# Every label an alert of the packs may carry, each with a value that must be URL-quoted.
LABELS = {k: f"{k} v/&?=%" for k in (*LINKED, "instance", "job", "gpu", "uuid", "device",
                                     "reason", "state", "severity", "alertname")}


def alerts() -> dict[str, str]:
    """Alert name -> its dashboard_url template, over every shipped pack."""
    found = {}
    for pack in PACKS:
        for group in yaml.safe_load(pack.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found[rule["alert"]] = rule["annotations"]["dashboard_url"]
    return found


ALERTS = alerts()
BOARDS = {d["uid"]: d for d in dashboards().values()}


def opened(url: str) -> tuple[dict, dict[str, list[str]]]:
    parts = urllib.parse.urlsplit(url)
    assert url.startswith(DEFAULT_GRAFANA_URL + "/d/"), url
    uid = parts.path.removeprefix("/d/")
    assert uid in BOARDS, f"no generated dashboard has uid {uid!r}"
    return BOARDS[uid], urllib.parse.parse_qs(parts.query, keep_blank_values=True)


def filters(board: dict) -> set[str]:
    return {v["name"] for v in board["templating"]["list"] if v["type"] == "query"}


def test_the_packs_have_links() -> None:
    assert len(ALERTS) >= 30 and all(ALERTS.values())


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_dashboard_url_opens_a_panel_with_the_alerts_labels_as_variables(name: str) -> None:
    board, query = opened(render(ALERTS[name], dict(LABELS), 1.0))
    ids = {p["id"] for p in panels(board)}
    (panel,) = query.pop("viewPanel")
    assert int(panel) in ids, f"{board['uid']} has no panel {panel}"
    assert query.pop("from") == ["now-1h"] and query.pop("to") == ["now"]
    assert all(k.startswith("var-") for k in query), query
    set_vars = {k.removeprefix("var-"): v for k, v in query.items()}
    assert set(set_vars) <= filters(board), set(set_vars) - filters(board)
    assert set_vars == {k: [LABELS[k]] for k in set_vars}
    missing = (filters(board) & set(LINKED)) - set(set_vars)
    assert not missing, f"the link does not pass the alert's {missing} to {board['uid']}"
    _, bare = opened(render(ALERTS[name], {}, 1.0))
    assert not [k for k in bare if k.startswith("var-")], "a var-* for a label the alert lacks"


def test_energy_per_token_opens_the_cost_dashboards_joules_per_token() -> None:
    board, query = opened(render(ALERTS["EngineEnergyPerTokenUp"], dict(LABELS), 1.0))
    assert board["uid"] == UID_COST
    titles = {p["id"]: p["title"] for p in panels(board)}
    assert titles[int(query["viewPanel"][0])] == "Joules per token"


def test_the_check_catches_a_variable_the_dashboard_lacks() -> None:
    url = ALERTS["GPULost"] + "{{ with $labels.engine }}&var-engine={{ . }}{{ end }}"
    board, query = opened(render(url, dict(LABELS), 1.0))
    assert "engine" not in filters(board) and "var-engine" in query
