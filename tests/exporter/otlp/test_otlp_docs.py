"""The semantic-convention table in README.md is the code's, the DaemonSet sets the downward
API variables the OTLP resource reads, and the --otlp.protocol/--otlp.naming flags."""

from __future__ import annotations

import pytest
import yaml

from inferwatch.cli import build_parser
from inferwatch.core.config import ConfigError
from inferwatch.exporter.cli import EXPORTER_FLAGS, overrides
from inferwatch.exporter.config import load_config
from inferwatch.exporter.otlp import K8S_ENV
from inferwatch.exporter.otlp_table import BEGIN, END, TABLE, render_table, with_table
from tests.support.procs import ROOT

SECRET = "s3cr3t-token-value"


def test_the_readme_table_is_the_code_table() -> None:
    text = (ROOT / "README.md").read_text()
    assert with_table(text) == text, "run: python -m inferwatch.exporter.otlp_table README.md"
    table = text[text.index(BEGIN):text.index(END)]
    assert table.count("\n| `") == len(TABLE) and all(f"`{r.name}`" in table for r in TABLE)
    assert render_table() in table


def test_with_table_replaces_only_between_the_markers() -> None:
    assert with_table(f"a\n{BEGIN}\nold\n{END}\nb") == f"a\n{BEGIN}\n{render_table()}\n{END}\nb"
    with pytest.raises(ValueError, match="markers not found"):
        with_table("no markers")


def test_the_daemonset_sets_the_downward_api_variables() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/base/exporter-daemonset.yaml").read_text()))
    (ds,) = [d for d in docs if d and d.get("kind") == "DaemonSet"]
    (container,) = [c for c in ds["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "exporter"]
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
           for e in container["env"]}
    fields = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    assert {name: env.get(name) for name in K8S_ENV} == fields
    assert env["NODE_NAME"] == "spec.nodeName"


def parse(*argv: str):
    args = build_parser(["exporter", *argv]).parse_args(["exporter", *argv])
    return load_config(None, overrides(args, EXPORTER_FLAGS)).exporter.otlp


def test_the_flags() -> None:
    default = parse("--otlp.endpoint", "http://otel:4318/v1/metrics")
    assert (default.protocol, default.naming) == ("http/protobuf", "prometheus")
    otlp = parse("--otlp.endpoint", "https://otel:4317", "--otlp.protocol", "grpc",
                 "--otlp.naming", "semconv")
    assert (otlp.endpoint, otlp.protocol, otlp.naming) == ("https://otel:4317", "grpc",
                                                            "semconv")
    assert parse("--otlp.endpoint", "http://otel:4317/", "--otlp.protocol", "grpc").endpoint


@pytest.mark.parametrize(("argv", "problem"), [
    (["--otlp.endpoint", f"http://u:{SECRET}@otel:4317/v1/metrics", "--otlp.protocol", "grpc"],
     "a grpc endpoint is scheme://host:port without a path"),
    (["--otlp.endpoint", "otel:4317", "--otlp.protocol", "grpc"], "is not an http"),
])
def test_bad_grpc_endpoints_are_clear_errors(argv, problem) -> None:
    with pytest.raises(ConfigError) as err:
        parse(*argv)
    assert any(problem in p for p in err.value.problems), err.value.problems
    assert all(SECRET not in p for p in err.value.problems)


@pytest.mark.parametrize("flag", ["--otlp.protocol", "--otlp.naming"])
def test_unknown_choices_exit_2(flag, capsys) -> None:
    with pytest.raises(SystemExit) as err:
        parse(flag, "json")
    assert err.value.code == 2 and "invalid choice: 'json'" in capsys.readouterr().err


def test_the_config_file(tmp_path) -> None:
    path = tmp_path / "inferwatch.yaml"
    path.write_text("exporter:\n  otlp:\n    endpoint: http://otel:4317\n    protocol: grpc\n"
                    "    naming: semconv\n")
    otlp = load_config(path).exporter.otlp
    assert (otlp.protocol, otlp.naming) == ("grpc", "semconv")
    path.write_text("exporter:\n  otlp:\n    naming: otel\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(f"{path}: exporter.otlp.naming" in p and "prometheus" in p
               for p in err.value.problems), err.value.problems
