"""The engines config list, the repeatable `--engine KIND=URL` flag and their errors."""

from __future__ import annotations

import typing

import pytest

from inferwatch.cli import build_parser
from inferwatch.core.config import ConfigError
from inferwatch.exporter.cli import EXPORTER_FLAGS, overrides
from inferwatch.exporter.collectors.engines.kinds import AUTO, MAPPINGS
from inferwatch.exporter.config import EngineKind, load_config
from inferwatch.exporter.main import build_engine_collector


def from_flags(*argv: str):
    args = build_parser(["exporter", *argv]).parse_args(["exporter", *argv])
    return load_config(None, overrides(args, EXPORTER_FLAGS)).exporter


def test_config_kinds_are_the_mapped_kinds() -> None:
    assert set(typing.get_args(EngineKind)) == {AUTO, *MAPPINGS}


def test_repeatable_flag_builds_one_collector() -> None:
    config = from_flags("--engine", "vllm=http://127.0.0.1:8000/metrics",
                        "--engine", "auto=http://10.0.0.2:30000?x=a=b",
                        "--collector.engines.interval", "2s")
    assert [(e.kind, e.url) for e in config.engines] == [
        ("vllm", "http://127.0.0.1:8000/metrics"), ("auto", "http://10.0.0.2:30000?x=a=b")]
    collector = build_engine_collector(config)
    assert collector.interval == 2.0
    assert collector.timeout == pytest.approx(1.6 + 1.0)


def test_file_list_long_and_short_forms(tmp_path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("exporter:\n  collectors:\n    engines: {max_body_bytes: 2048}\n"
                    "  engines:\n    - sglang=http://a:30000\n"
                    "    - {kind: trtllm, url: 'http://b:8000', interval: 5s, timeout: 2s}\n")
    config = load_config(path).exporter
    assert config.engines[1].timeout == 2.0
    assert config.collectors.engines.max_body_bytes == 2048
    assert build_engine_collector(config).max_body_bytes == 2048


def test_no_targets_no_collector() -> None:
    assert build_engine_collector(from_flags()) is None
    assert build_engine_collector(from_flags("--engine", "vllm=http://a",
                                             "--no-collector.engines")) is None


@pytest.mark.parametrize(("argv", "message"), [
    (["--engine", "vlm=http://a"], "--engine #1: kind: Input should be"),
    (["--engine", "vllm=http://a", "--engine", "tgi=ftp://b"],
     "--engine #2: url: 'ftp://b' is not an http:// or https:// URL"),
    (["--engine", "http://a:8000"], "--engine #1: 'http://a:8000' is not KIND=URL"),
])
def test_flag_errors_name_the_flag(argv, message) -> None:
    with pytest.raises(ConfigError) as err:
        from_flags(*argv)
    assert err.value.problems[0].startswith(message)


@pytest.mark.parametrize(("item", "problem"), [
    ("{kind: vllm, url: 'http://a', color: red}", "exporter.engines.0.color: unknown field"),
    ("{kind: vllm, url: 'http://a', interval: 1s, timeout: 2s}",
     "exporter.engines.0: timeout must be at most the interval"),
])
def test_file_errors_name_the_field(tmp_path, item, problem) -> None:
    path = tmp_path / "c.yml"
    path.write_text(f"exporter:\n  engines:\n    - {item}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [f"{path}: {problem}"]
