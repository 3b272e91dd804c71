"""The link bases from the command line and the config reach what is written and run:
`rules compile --runbook-base/--grafana-url` writes every alert's runbook_url and dashboard_url
on those bases (rule file and PrometheusRule manifest), `rules run`'s config keys
`runbook_base`/`grafana_url` are the bases of the groups the engine is handed, and a base that
is not an http(s) URL exits 2 naming the flag, or the config file and its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules import cli as rules_cli
from inferwatch.alert_rules.links import DEFAULT_GRAFANA_URL, DEFAULT_RUNBOOK_BASE
from inferwatch.cli import main

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "alert_rules" / "packs" / "llm-serving.yml"
WIKI, GRAFANA = "https://wiki.example/ops/runbooks", "https://grafana.example/g"


def links_of(rules: list[dict]) -> dict[str, tuple[str, str]]:
    return {r["alert"]: (r["annotations"]["runbook_url"], r["annotations"]["dashboard_url"])
            for r in rules if "alert" in r}


def assert_rebased(found: dict[str, tuple[str, str]], runbook: str, grafana: str) -> None:
    assert len(found) >= 20
    for name, (rb, dash) in found.items():
        assert rb == f"{runbook}/{name}.md", name
        assert dash.startswith(f"{grafana}/d/inferwatch-"), (name, dash)


def test_compile_writes_the_links_on_the_given_bases(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["rules", "compile", "--runbook-base", WIKI + "/", "--grafana-url", GRAFANA,
                 "--out", str(out), str(PACK)]) == 0
    written = {Path(p).name: Path(p) for p in capsys.readouterr().out.split()}
    rules = yaml.safe_load(written["llm-serving.rules.yml"].read_text())
    assert_rebased(links_of([r for g in rules["groups"] for r in g["rules"]]), WIKI, GRAFANA)
    manifest = yaml.safe_load(written["llm-serving.prometheusrule.yaml"].read_text())
    assert_rebased(links_of([r for g in manifest["spec"]["groups"] for r in g["rules"]]),
                   WIKI, GRAFANA)
    assert DEFAULT_GRAFANA_URL not in written["llm-serving.rules.yml"].read_text()
    # without the flags: the defaults, as the committed pack writes them
    plain = tmp_path / "plain"
    assert main(["rules", "compile", "--out", str(plain), str(PACK)]) == 0
    rules = yaml.safe_load((plain / "llm-serving.rules.yml").read_text())
    assert_rebased(links_of([r for g in rules["groups"] for r in g["rules"]]),
                   DEFAULT_RUNBOOK_BASE, DEFAULT_GRAFANA_URL)


def test_run_config_bases_are_the_engines_links(tmp_path: Path, monkeypatch) -> None:
    handed: list = []

    async def fake_run(config, groups, once, state_url=None) -> int:
        handed.extend(groups)
        return 0

    monkeypatch.setattr(rules_cli, "run", fake_run)
    config = tmp_path / "run.yml"
    config.write_text(json.dumps({"rules": [str(PACK)], "runbook_base": WIKI,
                                  "grafana_url": GRAFANA + "/",
                                  "source": {"embedded": {"targets": [
                                      {"url": "http://127.0.0.1:9/metrics"}]}}}))
    assert main(["rules", "run", "--config", str(config), "--once"]) == 0
    found = {a.name: (dict(a.annotations)["runbook_url"], dict(a.annotations)["dashboard_url"])
             for g in handed for a in g.alerts}
    assert_rebased(found, WIKI, GRAFANA)


@pytest.mark.parametrize("bad", ["grafana:3000", "localhost:3000/g", "ftp://grafana", "http://"])
def test_a_base_that_is_no_http_url_exits_2_naming_the_flag_or_field(tmp_path: Path, capsys,
                                                                     bad: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rules", "compile", "--grafana-url", bad, "--out", str(tmp_path), str(PACK)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--grafana-url" in err and "is not an http:// or https:// URL" in err, err
    config = tmp_path / "run.yml"
    for key in ("grafana_url", "runbook_base"):
        config.write_text(json.dumps({"rules": [str(PACK)], key: bad}))
        assert main(["rules", "run", "--config", str(config), "--once"]) == 2
        err = capsys.readouterr().err
        assert str(config) in err and key in err and "not an http:// or https:// URL" in err, err
        assert "Traceback" not in err
