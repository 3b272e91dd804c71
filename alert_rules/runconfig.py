"""`inferwatch rules run --config FILE`: which rules, which source, where alerts go.

```yaml
rules: [llm-serving.yml]          # our rule language, Prometheus rule files, PrometheusRules
source:                           # one of the two; default: embedded on the local exporter
  embedded: {targets: [{url: http://127.0.0.1:9477/metrics}], scrape_interval: 15s}
  # prometheus: {url: http://prometheus:9090, use_recording_rules: false}
alertmanagers: [{url: http://127.0.0.1:9093}]
resend_delay: 1m
state_file: /var/lib/inferwatch/alerts.json
web: {listen_address: ":9479"}    # /metrics, /-/healthy, /-/ready; default: no HTTP server
prices:                           # the cost rules' prices, embedded source (alert_rules.prices)
  gpu_usd_per_hour: {"NVIDIA H100 80GB HBM3": 3.1}
  energy_usd_per_kwh: 0.12
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from inferwatch.alert_rules.compile import CompiledGroup
from inferwatch.alert_rules.links import DEFAULT_GRAFANA_URL, DEFAULT_RUNBOOK_BASE, base_url
from inferwatch.alert_rules.prices import Prices, apply_prices
from inferwatch.alert_rules.promql_ast import check_rule_expr
from inferwatch.alert_rules.promrules import load_prometheus, read_rule_file
from inferwatch.alert_rules.rulefile import LoadedGroup, load_files
from inferwatch.alert_rules.spec import RawRule, RecordRule
from inferwatch.core.config import ConfigError, Duration, Strict, describe, read_yaml

DEFAULT_PACK = Path(__file__).resolve().parent / "packs" / "llm-serving.yml"


class TargetConfig(Strict):
    url: str
    job: str = "inferwatch"


class EmbeddedConfig(Strict):
    targets: list[TargetConfig] = [TargetConfig(url="http://127.0.0.1:9477/metrics")]
    scrape_interval: Duration = 15.0
    timeout: Duration = 10.0
    retention: Duration = 6 * 3600.0  # the window; longer rule ranges see only this much


class PrometheusConfig(Strict):
    url: str
    timeout: Duration = 10.0
    use_recording_rules: bool = False


class SourceConfig(Strict):
    embedded: EmbeddedConfig | None = None
    prometheus: PrometheusConfig | None = None

    @model_validator(mode="after")
    def _one(self) -> SourceConfig:
        if self.embedded is not None and self.prometheus is not None:
            raise ValueError("choose one source: embedded or prometheus")
        return self


class AlertmanagerConfig(Strict):
    url: str
    timeout: Duration = 10.0


def _listen_address(value: str | None) -> str | None:
    if value is None:
        return None
    host, sep, port = str(value).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. :9479 or 127.0.0.1:9479)")
    return f"{host}:{port}"


class WebSettings(Strict):
    listen_address: Annotated[str | None, BeforeValidator(_listen_address)] = None
    config_file: str | None = None  # exporter-toolkit web config: TLS, basic auth


class RunConfig(Strict):
    rules: list[str] = [str(DEFAULT_PACK)]
    source: SourceConfig = SourceConfig()
    alertmanagers: list[AlertmanagerConfig] = []
    resend_delay: Duration = 60.0
    state_file: str | None = None
    external_url: str = Field("http://localhost:9477", min_length=1)
    web: WebSettings = WebSettings()
    # the bases of the runbook_url and dashboard_url annotations (alert_rules.links)
    runbook_base: Annotated[str, AfterValidator(base_url)] = DEFAULT_RUNBOOK_BASE
    grafana_url: Annotated[str, AfterValidator(base_url)] = DEFAULT_GRAFANA_URL
    prices: Prices | None = None  # replaces the price rules of the files in our rule language


def load_run_config(path: str | Path) -> tuple[RunConfig, list[LoadedGroup | CompiledGroup]]:
    """The config (paths made relative to its file) and its checked rule groups."""
    try:
        config = RunConfig.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe(err, str(path), {})) from None
    base = Path(path).resolve().parent
    rules = [str(base / r) for r in config.rules]
    state = str(base / config.state_file) if config.state_file else None
    web = config.web
    if web.config_file:
        web = web.model_copy(update={"config_file": str(base / web.config_file)})
    config = config.model_copy(update={"rules": rules, "state_file": state, "web": web})
    groups = load_rules(rules, embedded=config.source.prometheus is None)
    if config.prices is None:
        return config, groups
    if config.source.prometheus is not None:  # that server records the rules, not we
        raise ConfigError([f"{path}: prices: only the embedded source records the price rules; "
                           "for source.prometheus, give Prometheus the rules compiled with "
                           "`inferwatch rules compile --prices FILE`"])
    ours = [g for g in groups if isinstance(g, LoadedGroup)]
    priced = apply_prices(ours, config.prices, f"{path}: prices.")
    return config, [*priced, *(g for g in groups if not isinstance(g, LoadedGroup))]


def load_rules(paths: list[str], embedded: bool) -> list[LoadedGroup | CompiledGroup]:
    """Every group of every file, in our rule language (LoadedGroup) or a plain Prometheus
    rule file or PrometheusRule (CompiledGroup); problems of all files together. On the
    embedded source every PromQL expression must be one its evaluator runs."""
    problems: list[str] = []
    groups: list[LoadedGroup | CompiledGroup] = []
    ours: list[str] = []
    for path in paths:
        try:
            prometheus, data = read_rule_file(path)
            if prometheus:
                groups += load_prometheus(path, data, embedded=embedded)
            else:
                ours.append(path)
        except ConfigError as err:
            problems += err.problems
    try:
        loaded = load_files(ours)
    except ConfigError as err:
        problems += err.problems
        loaded = []
    if embedded:
        problems += [f"{g.source}: {g.name}/{getattr(r, 'alert', None) or r.record}: expr: "
                     f"{why}" for g in loaded for r in g.rules
                     if isinstance(r, RawRule | RecordRule) if (why := check_rule_expr(r.expr))]
    if problems:
        raise ConfigError(problems)
    return [*loaded, *groups]
