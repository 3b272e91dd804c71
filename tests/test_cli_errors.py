"""A user's mistake is one line naming the cause, exit 2 (bad input) or 1 (the environment),
never a traceback; every subcommand answers --version."""

from __future__ import annotations

import pytest

from inferwatch.cli import SUBCOMMAND_MODULES, main
from tests.support.procs import ROOT

PACK = str(ROOT / "alert_rules" / "packs" / "llm-serving.yml")


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def unwritable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    return str(blocker / "out")


@pytest.mark.parametrize("argv", [
    ["rules", "compile", PACK, "--out", "{out}"],
    ["dashboards", "build", "--out", "{out}"],
    ["demo", "--out", "{out}", "--duration", "1s"],
])
def test_an_unwritable_out_is_a_runtime_failure(argv, unwritable, capsys) -> None:
    assert main([a.replace("{out}", unwritable) for a in argv]) == 1
    assert unwritable.rsplit("/", 1)[0] in one_line(capsys)


def test_a_bad_grafana_url_is_a_usage_error(tmp_path, capsys) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken")
    with pytest.raises(SystemExit) as exit_:
        main(["dashboards", "push", "--grafana-url", "grafana:3000", "--token-file", str(token)])
    assert exit_.value.code == 2
    assert "is not an http:// or https:// URL" in capsys.readouterr().err


def test_data_parallel_zero_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["simulate-engine", "--kind", "vllm", "--web.listen-address", ":0",
              "--data-parallel", "0"])
    assert exit_.value.code == 2
    assert "--data-parallel: must be 1 or more" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "reader"), [
    ("route: {receiver: a}\nreceivers: [{name: a}]\n", "inferwatch notifier check-config"),
    ("groups: []\n", "inferwatch rules check"),
])
@pytest.mark.parametrize("command", [["check-config"], ["exporter", "check-config"]])
def test_another_parts_file_names_the_command_that_reads_it(tmp_path, capsys, text, reader,
                                                            command) -> None:
    path = tmp_path / "other.yml"
    path.write_text(text)
    assert main([*command, str(path)]) == 2
    assert one_line(capsys) == (f"{path}: not an exporter configuration (no `exporter:` "
                                f"section); this file is read by `{reader}`")


def test_a_relative_web_config_file_is_relative_to_the_file_naming_it(tmp_path, capsys) -> None:
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "exporter.yml"
    config.write_text("exporter:\n  web:\n    config_file: web.yml\n")
    (tmp_path / "conf" / "web.yml").write_text("http_server_config: {headers: {X-A: b}}\n")
    assert main(["check-config", str(config)]) == 0
    (tmp_path / "conf" / "web.yml").unlink()
    assert main(["check-config", str(config)]) == 2
    assert str(tmp_path / "conf" / "web.yml") in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(SUBCOMMAND_MODULES))
def test_every_subcommand_answers_version(command, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("inferwatch ")
