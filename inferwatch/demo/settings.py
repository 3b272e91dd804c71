"""The demo's fixed choices and its time scale.

Simulated time runs `speed` times faster than wall time (1 by default, 4 with `--fast`). The
default pack's durations are made for production (5-minute windows, 5-minute `for`), longer
than the simulated spike, so the rules run `RULE_COMPRESSION` times faster again than the
simulation: a 5-minute window reads 30 simulated seconds. The notifier's timings follow the
rules'.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from inferwatch.core.durations import format_duration
from inferwatch.simulate.engines.scenarios import IncidentTimings

# (kind, served model name): three engines of three kinds on one machine.
ENGINES = (("vllm", "meta-llama/Llama-3.1-8B-Instruct"),
           ("sglang", "Qwen/Qwen2.5-7B-Instruct"),
           ("tgi", "mistralai/Mistral-7B-Instruct-v0.3"))
GPUS = 4
RULE_COMPRESSION = 10.0  # pack durations per simulated second
MIN_INTERVAL = 0.5  # no scrape or collection more often than this (wall seconds)
FAST_SPEED = 4.0
AFTER_INCIDENT = 60.0  # simulated seconds shown after the incident is over
# The console's message: one line per alert (the webhook gets the notifier's default).
CONSOLE_TEMPLATE = {"title": "{subject}", "body": "{alerts}", "format": "text",
                    "alert": "{status:<8} {alertname} {labels[engine]}{labels[gpu]} "
                             "{labels[severity]}: {summary}\n"}


@dataclass(frozen=True)
class Timing:
    """Wall-clock intervals and durations for a simulation speed."""

    speed: float

    @property
    def rule_factor(self) -> float:
        """What the pack's durations are divided by (wall time)."""
        return RULE_COMPRESSION * self.speed

    def scaled(self, seconds: float) -> float:
        return seconds / self.rule_factor

    @property
    def collect_interval(self) -> float:
        return max(MIN_INTERVAL, self.scaled(5.0))

    @property
    def scrape_interval(self) -> float:
        return max(MIN_INTERVAL, self.scaled(15.0))

    @property
    def resend_delay(self) -> float:
        return max(MIN_INTERVAL, self.scaled(60.0))

    @property
    def default_duration(self) -> float:
        """Wall seconds for the whole incident and a quiet minute after it."""
        return (IncidentTimings().recovered + AFTER_INCIDENT) / self.speed


def notifier_config(timing: Timing, webhook_url: str, external_url: str) -> dict:
    """One receiver with two channels, Alertmanager's default timings compressed."""
    def duration(seconds: float) -> str:
        return format_duration(max(MIN_INTERVAL, timing.scaled(seconds)))

    return {
        "global": {"resolve_timeout": duration(300), "external_url": external_url},
        "route": {"receiver": "demo", "group_by": ["alertname", "engine"],
                  "group_wait": duration(30), "group_interval": duration(300),
                  "repeat_interval": duration(4 * 3600)},
        "receivers": [{"name": "demo", "send_resolved": True,
                       "urls": [{"url": "console://", "template": "console"},
                                "json://" + webhook_url.removeprefix("http://")]}],
        "templates": {"console": CONSOLE_TEMPLATE},
    }


def notifier_yaml(timing: Timing, webhook_url: str, external_url: str) -> str:
    header = ("# The notifier configuration `inferwatch demo` ran with (Alertmanager's shape,\n"
              "# apprise URLs); its timings are compressed as the demo's rules are.\n")
    config = notifier_config(timing, webhook_url, external_url)
    return header + yaml.safe_dump(config, sort_keys=False)
