"""check-config agreement: `amtool check-config` (Alertmanager 0.25) and ours, file by file.

Each case is an alertmanager.yml. Valid ones pass both; invalid ones fail both; the ones
Alertmanager accepts and the notifier does not deliver fail ours naming the path as
`not supported by inferwatch` (never silently ignored). Plus the time interval evaluation.
"""

from __future__ import annotations

import subprocess
import sys
from calendar import timegm

import pytest

from inferwatch.core.config import ConfigError
from inferwatch.notifier.config import load_notifier_config
from inferwatch.notifier.service import build_channels
from inferwatch.notifier.timeintervals import TimeIntervalSpec
from tests.support.procs import need_binary

HEAD = """route: {receiver: r, routes: [{receiver: r, matchers: [a=b]}]}
"""
HOOK = "receivers: [{name: r, webhook_configs: [{url: 'http://127.0.0.1:9/x'}]}]\n"


def ti(spec: str) -> str:
    return HEAD.replace("matchers: [a=b]", "matchers: [a=b], mute_time_intervals: [t]") + \
        HOOK + f"time_intervals: [{{name: t, time_intervals: [{spec}]}}]\n"


VALID = {
    "legacy": """route:
  receiver: r
  routes: [{match: {a: b}, match_re: {c: 'd|e'}, receiver: r}, {matchers: [x=y z], receiver: r}]
inhibit_rules: [{source_match: {s: c}, target_match_re: {s: 'w.*'}, equal: [n]}]
""" + HOOK,
    "intervals": ti("{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: "
                    "['monday:friday'], days_of_month: ['-7:-1', '1:5'], months: "
                    "['january:march', '12'], years: ['2024:2030'], location: Europe/Berlin}"),
    "legacy_mute_intervals": HEAD.replace("matchers: [a=b]", "matchers: [a=b], "
                                          "active_time_intervals: [t]") + HOOK
    + "mute_time_intervals: [{name: t, time_intervals: [{weekdays: [saturday]}]}]\n",
    "slack_global": """global: {slack_api_url: 'http://127.0.0.1:9/s', resolve_timeout: 1m}
route: {receiver: r}
receivers: [{name: r, slack_configs: [{channel: '#a', fields: [{title: t, value: v}]}]}]
""",
    "email_global": """global: {smtp_smarthost: 'localhost:25', smtp_from: 'am@example.com'}
route: {receiver: r}
receivers: [{name: r, email_configs: [{to: 'x@y.z', headers: {Subject: '{{ .Status }}'}}]}]
""",
    "webhook_auth": """route: {receiver: r}
receivers: [{name: r, webhook_configs: [{url: 'https://h/x', max_alerts: 3,
  http_config: {authorization: {credentials: tok}, tls_config: {insecure_skip_verify: true}}}]}]
""",
    "pagerduty": """route: {receiver: r}
receivers: [{name: r, pagerduty_configs: [{routing_key: k, severity: critical}]}]
""",
    "discord": """route: {receiver: r}
receivers: [{name: r, discord_configs: [{webhook_url: 'http://127.0.0.1:9/d'}]}]
""",
}
INVALID = {
    "bad_weekday": ti("{weekdays: [funday]}"),
    "zero_day": ti("{days_of_month: ['0']}"),
    "mixed_days": ti("{days_of_month: ['-3:5']}"),
    "times_backwards": ti("{times: [{start_time: '10:00', end_time: '09:00'}]}"),
    "bad_time": ti("{times: [{start_time: '9:00', end_time: '10:00'}]}"),
    "bad_location": ti("{location: Mars/Olympus}"),
    "undefined_interval": HEAD.replace("matchers: [a=b]", "matchers: [a=b], "
                                       "mute_time_intervals: [nope]") + HOOK,
    "root_interval": "route: {receiver: r, mute_time_intervals: [t]}\n" + HOOK
    + "time_intervals: [{name: t, time_intervals: [{weekdays: [monday]}]}]\n",
    "bad_match_re": "route: {receiver: r, routes: [{receiver: r, match_re: {a: '('}}]}\n" + HOOK,
    "bad_matcher": "route: {receiver: r, routes: [{receiver: r, matchers: ['a=\"b']}]}\n" + HOOK,
    "webhook_no_scheme": "route: {receiver: r}\n"
    "receivers: [{name: r, webhook_configs: [{url: 'h/x'}]}]\n",
    "slack_no_url": "route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{}]}]\n",
    "email_no_host": "route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b}]}]\n",
    "unknown_integration": "route: {receiver: r}\nreceivers: [{name: r, foo_configs: [{}]}]\n",
    "msteams_is_0_26": "route: {receiver: r}\n"
    "receivers: [{name: r, msteams_configs: [{webhook_url: 'http://h/x'}]}]\n",
    "two_auths": "route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: "
    "'http://h/x', http_config: {bearer_token: a, basic_auth: {username: u}}}]}]\n",
}
REFUSED = {  # Alertmanager accepts these; the notifier names what it does not deliver
    "telegram": ("receivers: [{name: r, telegram_configs: [{bot_token: t, chat_id: 1}]}]",
                 "receivers.0.telegram_configs"),
    "opsgenie": ("receivers: [{name: r, opsgenie_configs: [{api_key: k}]}]",
                 "receivers.0.opsgenie_configs"),
    "pushover": ("receivers: [{name: r, pushover_configs: [{user_key: u, token: t}]}]",
                 "receivers.0.pushover_configs"),
    "victorops": ("receivers: [{name: r, victorops_configs: [{api_key: k, routing_key: r}]}]",
                  "receivers.0.victorops_configs"),
    "oauth2": ("receivers: [{name: r, webhook_configs: [{url: 'http://h/x', http_config: "
               "{oauth2: {client_id: a, client_secret: b, token_url: 'http://t/'}}}]}]",
               "receivers.0.webhook_configs.0.http_config.oauth2"),
    "proxy": ("receivers: [{name: r, webhook_configs: [{url: 'http://h/x', http_config: "
              "{proxy_url: 'http://p:3128'}}]}]",
              "receivers.0.webhook_configs.0.http_config.proxy_url"),
    "pagerduty_v1": ("receivers: [{name: r, pagerduty_configs: [{service_key: k}]}]",
                     "receivers.0.pagerduty_configs.0.service_key"),
    "email_hello": ("receivers: [{name: r, email_configs: [{to: a@b, smarthost: 'h:25', "
                    "from: c@d, hello: mail.example}]}]",
                    "receivers.0.email_configs.0.hello"),
    "email_tls": ("receivers: [{name: r, email_configs: [{to: a@b, smarthost: 'h:25', "
                  "from: c@d, tls_config: {insecure_skip_verify: true}}]}]",
                  "receivers.0.email_configs.0.tls_config"),
}


def amtool_ok(path) -> bool:
    amtool = need_binary("amtool")
    return subprocess.run([amtool, "check-config", str(path)], capture_output=True,
                          timeout=30).returncode == 0


def ours(path) -> list[str]:
    """The problems the notifier's check-config finds (as cli._validated checks)."""
    try:
        build_channels(load_notifier_config(path))
    except ConfigError as err:
        return err.problems
    return []


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_files_pass_both(tmp_path, name) -> None:
    path = tmp_path / "am.yml"
    path.write_text(VALID[name])
    assert amtool_ok(path)
    assert ours(path) == []


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_files_fail_both(tmp_path, name) -> None:
    path = tmp_path / "am.yml"
    path.write_text(INVALID[name])
    assert ours(path), "the notifier accepted it"
    if name != "msteams_is_0_26":
        assert not amtool_ok(path)
    if name == "msteams_is_0_26":
        assert ours(path) == [f"{path}: receivers.0.msteams_configs: not supported by "
                              "inferwatch"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_alertmanager_accepts_runs_or_is_refused_by_name(tmp_path, name) -> None:
    text, where = REFUSED[name]
    path = tmp_path / "am.yml"
    path.write_text("route: {receiver: r}\n" + text + "\n")
    assert amtool_ok(path)
    assert f"{path}: {where}: not supported by inferwatch" in ours(path)


def test_check_config_exits_2_naming_the_path_and_an_unknown_scheme(tmp_path) -> None:
    path = tmp_path / "am.yml"
    path.write_text("route: {receiver: r}\n" + REFUSED["telegram"][0] + "\n")
    run = subprocess.run([sys.executable, "-m", "inferwatch.cli", "notifier", "check-config",
                          str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "receivers.0.telegram_configs: not supported by inferwatch" in run.stderr
    path.write_text("route: {receiver: r}\nreceivers: [{name: r, urls: ['notascheme://foo']}]\n")
    assert any("receivers.0.urls.0" in p for p in ours(path))


def test_secrets_stay_out_of_errors(tmp_path) -> None:
    path = tmp_path / "am.yml"
    path.write_text("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: "
                    "'http://u:hunter2@h/x', http_config: {oauth2: {client_id: a, "
                    "client_secret: hunter3, token_url: 'http://t/'}}}]}]\n")
    problems = ours(path)
    assert problems and not any("hunter" in p for p in problems)


def at(text: str) -> float:
    import time
    return timegm(time.strptime(text, "%Y-%m-%d %H:%M"))


@pytest.mark.parametrize(("spec", "when", "inside"), [
    ({"days_of_month": ["-1"]}, "2024-02-29 12:00", True),  # leap year's last day
    ({"days_of_month": ["-1"]}, "2023-02-28 12:00", True),
    ({"days_of_month": ["-1"]}, "2024-02-28 12:00", False),
    ({"days_of_month": ["-3:-2"]}, "2024-04-28 00:00", True),
    ({"days_of_month": ["30:31"]}, "2024-02-29 00:00", False),
    ({"weekdays": ["monday:friday"]}, "2024-06-01 10:00", False),  # a Saturday
    ({"weekdays": ["sunday"]}, "2024-06-02 10:00", True),
    ({"times": [{"start_time": "22:00", "end_time": "24:00"}]}, "2024-06-02 23:59", True),
    ({"times": [{"start_time": "09:00", "end_time": "17:00"}]}, "2024-06-02 17:00", False),
    ({"times": [{"start_time": "09:00", "end_time": "17:00"}], "location": "Asia/Tokyo"},
     "2024-06-02 01:00", True),  # 10:00 in Tokyo
    ({"months": ["may:july"], "years": ["2024"]}, "2024-06-02 00:00", True),
    ({"months": ["may:july"], "years": ["2025:2026"]}, "2024-06-02 00:00", False),
])
def test_time_interval_evaluation(spec, when, inside) -> None:
    assert TimeIntervalSpec.model_validate(spec).contains(at(when)) is inside
