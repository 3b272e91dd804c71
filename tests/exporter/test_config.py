"""Configuration: strict models, `FILE: path: problem` errors, flags over the file."""

from __future__ import annotations

import subprocess

import pytest

from inferwatch.core.config import ConfigError
from inferwatch.core.durations import format_duration, parse_duration
from inferwatch.exporter.config import load_config
from tests.support.procs import PYTHON


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("15s", 15), ("1m", 60), ("1h30m", 5400), ("2d", 172800), (3, 3.0)])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "15", "1.5s", "-1s", "s", "10 seconds", True])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_durations_format_round_trip():
    for text in ("500ms", "15s", "1m", "1h30m", "2d"):
        assert format_duration(parse_duration(text)) == text


def test_defaults_without_a_file():
    cfg = load_config(None).exporter
    assert cfg.web.listen_address == ":9477"
    assert (cfg.collectors.gpu.interval, cfg.collectors.gpu.timeout) == (5.0, 4.0)
    assert (cfg.collectors.host.interval, cfg.collectors.host.timeout) == (10.0, 5.0)


def test_file_values_and_flag_overrides(tmp_path):
    f = tmp_path / "c.yml"
    f.write_text("exporter:\n  web:\n    listen_address: 127.0.0.1:9999\n"
                 "  collectors:\n    gpu: {interval: 2s}\n    host: {enabled: false}\n")
    cfg = load_config(f).exporter
    assert cfg.web.listen_address == "127.0.0.1:9999"
    assert cfg.collectors.gpu.timeout == pytest.approx(1.6)
    assert cfg.collectors.host.enabled is False
    over = load_config(f, {"exporter.web.listen_address": ("--web.listen-address", ":1234"),
                           "exporter.collectors.host.enabled": ("--collector.host", True)})
    assert over.exporter.web.listen_address == ":1234"
    assert over.exporter.collectors.host.enabled is True


def test_every_problem_is_named_by_file_and_path(tmp_path):
    f = tmp_path / "bad.yml"
    f.write_text("exporter:\n  colectors: {}\n  web:\n    listen_address: nowhere\n"
                 "  collectors:\n    gpu: {interval: 5s, timeout: 9s}\n"
                 "    host: {interval: soon}\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    problems = err.value.problems
    assert f"{f}: exporter.colectors: unknown field" in problems
    assert any(p.startswith(f"{f}: exporter.web.listen_address: 'nowhere' is not HOST:PORT")
               for p in problems)
    assert any(p.startswith(f"{f}: exporter.collectors.gpu: timeout must be") for p in problems)
    assert any(p.startswith(f"{f}: exporter.collectors.host.interval: 'soon' is not a duration")
               for p in problems)
    assert len(problems) == 4


def test_a_bad_flag_is_named_by_the_flag():
    with pytest.raises(ConfigError) as err:
        load_config(None, {"exporter.web.listen_address": ("--web.listen-address", "x")})
    assert err.value.problems[0].startswith("--web.listen-address: 'x' is not HOST:PORT")


def test_yaml_syntax_error_names_the_line(tmp_path):
    f = tmp_path / "broken.yml"
    f.write_text("exporter:\n  web: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert err.value.problems[0].startswith(f"{f}: line ")


def test_check_config_command_exits_2_without_traceback(tmp_path):
    f = tmp_path / "bad.yml"
    f.write_text("exporter:\n  simulate_gpus: lots\n  nonsense: 1\n")
    run = subprocess.run([PYTHON, "-m", "inferwatch.cli", "check-config", str(f)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"{f}: exporter.simulate_gpus: " in run.stderr
    assert f"{f}: exporter.nonsense: unknown field" in run.stderr
    good = tmp_path / "good.yml"
    good.write_text("exporter:\n  simulate_gpus: 2\n")
    ok = subprocess.run([PYTHON, "-m", "inferwatch.cli", "check-config", str(good)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


def test_missing_file_is_a_clear_error(tmp_path):
    run = subprocess.run([PYTHON, "-m", "inferwatch.cli", "check-config",
                          str(tmp_path / "nope.yml")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "nope.yml: cannot read" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("command", [["check-config"], ["exporter", "--config.file"],
                                     ["exporter", "--web.config.file"]])
def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path, command):
    f = tmp_path / "latin1.yml"
    f.write_bytes(b"exporter:\n  log_level: d\xe9bug\n")
    run = subprocess.run([PYTHON, "-m", "inferwatch.cli", *command, str(f)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"{f}: line 2: not UTF-8 text" in run.stderr


def test_a_rejected_url_is_echoed_without_its_credentials(tmp_path):
    f = tmp_path / "creds.yml"
    f.write_text("exporter:\n  engines:\n    - {kind: vllm, url: 'ftp://u:hunter2@h/m?t=s3cr3t'}\n"
                 "  otlp: {endpoint: 'otel://u:hunter2@h'}\n")
    with pytest.raises(ConfigError) as err:
        load_config(f, {"exporter.engines": ("--engine", ["http://u:hunter2@h:8000"])})
    text = "\n".join(err.value.problems)
    assert "--engine #1: 'http://h:8000' is not KIND=URL" in text
    assert f"{f}: exporter.otlp.endpoint: 'otel://h' is not an http" in text
    assert "hunter2" not in text
    f.write_text("exporter:\n  engines:\n    - {kind: vllm, url: 'ftp://u:hunter2@h/m?t=s3cr3t'}\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert err.value.problems == [f"{f}: exporter.engines.0.url: 'ftp://h/m' is not an http:// "
                                  "or https:// URL"]


def test_check_config_checks_the_web_config_file_it_names(tmp_path):
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  alice: plaintext\n")
    f = tmp_path / "exporter.yml"
    f.write_text(f"exporter:\n  web:\n    config_file: {web}\n")
    run = subprocess.run([PYTHON, "-m", "inferwatch.cli", "check-config", str(f)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout
    assert f"{web}: basic_auth_users.alice: not a bcrypt hash" in run.stderr
    assert "Traceback" not in run.stderr
