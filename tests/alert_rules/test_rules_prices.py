"""Prices set without editing the pack: `rules compile --prices FILE` and `prices:` in `rules
run`'s config replace the pack's price rules. The worked example's node (promtool/cost.test.yml)
is priced differently, the cost per million tokens is worked out here from those prices, and
promtool and the embedded engine must both agree with it on the compiled output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from inferwatch.alert_rules.prices import ENERGY_PRICE, GPU_PRICE
from inferwatch.alert_rules.runconfig import DEFAULT_PACK, load_run_config
from inferwatch.alert_rules.spec import RecordRule
from inferwatch.cli import main
from inferwatch.core.config import ConfigError
from tests.support.procs import need_binary

CASES = Path(__file__).resolve().parent / "promtool" / "cost.test.yml"
H100, T4 = "NVIDIA H100 80GB HBM3", "Tesla T4"
PACK_COMPILED = (Path(__file__).resolve().parents[2]
                 / "deploy/generated/prometheusrule/llm-serving.rules.yml")
PRICES = {"gpu_usd_per_hour": {H100: 4.0, T4: 0.35}, "energy_usd_per_kwh": 0.3}


def expected_cost_per_million() -> dict[str, float]:
    """The worked example's node at PRICES: m1 on pod a (half of the H100 at 800 W, 300
    tokens/s), m2 on pod d (the whole T4 at 300 W, 100 tokens/s)."""
    gpu, kwh = PRICES["gpu_usd_per_hour"], PRICES["energy_usd_per_kwh"]
    usd_per_hour = {"m1": 0.5 * gpu[H100] + 0.5 * 800 / 1000 * kwh,
                    "m2": 1.0 * gpu[T4] + 300 / 1000 * kwh}
    tokens = {"m1": 300.0, "m2": 100.0}
    return {m: usd_per_hour[m] / 3600 / tokens[m] * 1e6 for m in tokens}


def compile_priced(tmp_path: Path) -> Path:
    prices = tmp_path / "prices.yml"
    prices.write_text(yaml.safe_dump(PRICES))
    out = tmp_path / "out"
    assert main(["rules", "compile", "--prices", str(prices), "--out", str(out),
                 str(DEFAULT_PACK)]) == 0
    return out / "llm-serving.rules.yml"


def cases(tmp_path: Path, rules: Path, scale: float = 1.0) -> Path:
    """The worked example's series with one expectation: the cost per million at PRICES."""
    data = yaml.safe_load(CASES.read_text())
    data["rule_files"] = [str(rules)]
    test = data["tests"][0]
    test["promql_expr_test"] = [{
        "expr": "round(inferwatch:engine_cost_per_million_tokens:rate1h * 1000)",
        "eval_time": "70m",
        "exp_samples": [{"labels": f'{{model="{m}",namespace="ns"}}',
                         "value": round(v * 1000 * scale)}
                        for m, v in sorted(expected_cost_per_million().items())]}]
    path = tmp_path / "priced.test.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def promtool(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_binary("promtool"), "test", "rules", path.name], cwd=path.parent,
                          capture_output=True, text=True, timeout=120, check=False)


def test_compiled_prices_give_the_cost_worked_out_from_them_on_the_embedded_engine(tmp_path,
                                                                                   capsys):
    assert main(["rules", "test", str(cases(tmp_path, compile_priced(tmp_path)))]) == 0
    # a cost 10% off fails, and so does the pack as shipped (its own prices)
    (tmp_path / "off").mkdir()
    assert main(["rules", "test", str(cases(tmp_path / "off", compile_priced(tmp_path),
                                            scale=1.1))]) == 1
    assert "engine_cost_per_million" in "".join(capsys.readouterr())
    (tmp_path / "pack").mkdir()
    assert main(["rules", "test", str(cases(tmp_path / "pack", PACK_COMPILED))]) == 1
    assert "engine_cost_per_million" in "".join(capsys.readouterr())


@pytest.mark.ecosystem
def test_compiled_prices_give_the_cost_worked_out_from_them_under_promtool(tmp_path):
    result = promtool(cases(tmp_path, compile_priced(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    (tmp_path / "off").mkdir()
    result = promtool(cases(tmp_path / "off", compile_priced(tmp_path), scale=1.1))
    assert result.returncode == 1 and "engine_cost_per_million" in result.stdout + result.stderr


def _price_rules(groups) -> list[RecordRule]:
    return [r for g in groups for r in getattr(g, "rules", [])
            if isinstance(r, RecordRule) and r.record in (GPU_PRICE, ENERGY_PRICE)]


def test_the_run_config_prices_replace_the_packs_ahead_of_the_rules_reading_them(tmp_path):
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump({"rules": [str(DEFAULT_PACK)],
                                    "prices": {"gpu_usd_per_hour": {"NVIDIA L40S": 0.9}}}))
    _config, groups = load_run_config(path)
    got = {(r.record, r.expr, tuple(r.labels.items())) for r in _price_rules(groups)}
    # the GPU prices are the config's only; the kWh price left out stays the pack's
    assert got == {(GPU_PRICE, "vector(0.9)", (("name", "NVIDIA L40S"),)),
                   (ENERGY_PRICE, "vector(0.15)", ())}
    (cost,) = [g for g in groups if g.name == "inferwatch-cost"]
    names = [getattr(r, "record", None) for r in cost.rules]
    assert names.index(GPU_PRICE) < names.index("inferwatch:gpu_pod_cost_usd_per_hour:rate1h")


@pytest.mark.parametrize(("prices", "field"), [
    ({"gpu_usd_per_hour": {H100: -1}}, "prices.gpu_usd_per_hour.NVIDIA H100 80GB HBM3"),
    ({"energy_usd_per_kwh": ".nan"}, "prices.energy_usd_per_kwh"),
    ({"energy_usd_per_kwh": 0.1, "usd": 1}, "prices.usd: unknown field"),
])
def test_a_bad_price_exits_2_naming_file_and_field(tmp_path, capsys, prices, field):
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump({"prices": prices}).replace("'.nan'", ".nan"))
    assert main(["rules", "run", "--config", str(path), "--once"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {field}" in err and "Traceback" not in err


def test_prices_on_a_prometheus_source_are_refused(tmp_path):
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump({"source": {"prometheus": {"url": "http://p:9090"}},
                                    "prices": {"energy_usd_per_kwh": 1}}))
    with pytest.raises(ConfigError) as err:
        load_run_config(path)
    (problem,) = err.value.problems
    assert problem.startswith(f"{path}: prices: only the embedded source") and "--prices" in problem


def test_prices_that_no_rule_file_records_are_refused(tmp_path):
    rules = tmp_path / "r.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "x:up", "expr": "up"}]}]}))
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump({"rules": [str(rules)], "prices": {"energy_usd_per_kwh": 1}}))
    with pytest.raises(ConfigError) as err:
        load_run_config(path)
    assert err.value.problems == [f"{path}: prices.energy_usd_per_kwh: no rule file records "
                                  f"{ENERGY_PRICE}, so the price would not be used"]


def test_a_bad_prices_file_for_compile_exits_2_naming_it(tmp_path, capsys):
    prices = tmp_path / "prices.yml"
    prices.write_text(yaml.safe_dump({"gpu_usd_per_hour": {H100: -2}, "extra": 1}))
    out = tmp_path / "out"
    assert main(["rules", "compile", "--prices", str(prices), "--out", str(out),
                 str(DEFAULT_PACK)]) == 2
    err = capsys.readouterr().err
    assert f"{prices}: gpu_usd_per_hour.{H100}: a price must be" in err
    assert f"{prices}: extra: unknown field" in err and not out.exists()
