"""Every metric a dashboard query names exists in the catalogue; labels too, at build time."""

from __future__ import annotations

import pytest
from dashboard_queries import all_queries, metric_names, variable_queries

from inferwatch import catalog
from inferwatch.alert_rules.compile import RecordingRule, compile_group
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.dashboards import cost
from inferwatch.dashboards.promql import sel

# The default pack's recording rules' names (the cost dashboard reads them).
RECORDED = {s.name for g in load_file(DEFAULT_PACK) for s in compile_group(g).steps
            if isinstance(s, RecordingRule)}
SERIES = {name for spec in catalog.all_specs() for name in spec.series_names} | RECORDED
QUERIES = list(all_queries())


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (le, model) (rate(a_bucket{model=~"$model", le="1.0"}[5m]))', {"a_bucket"}),
    ("histogram_quantile(0.95, sum(rate(x_total[$__rate_interval])))", {"x_total"}),
    ("(sum(rate(a{r=~\"error|x\"}[1h])) or vector(0)) / (sum(b) > 0)", {"a", "b"}),
    ("c / on (cluster, node) group_left () sum by (cluster, node) (d)", {"c", "d"}),
    ("time() - e offset 5m", {"e"}),
    ("1 - (f) / (1 - $objective)", {"f"}),
    ("vector($objective)", set()),
])
def test_metric_names_parses_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_queries_were_found() -> None:
    assert len(QUERIES) > 50


@pytest.mark.parametrize(("slug", "title", "expr"), QUERIES,
                         ids=[f"{s}:{t}:{i}" for i, (s, t, _) in enumerate(QUERIES)])
def test_every_query_names_catalogue_metrics(slug: str, title: str, expr: str) -> None:
    unknown = metric_names(expr) - SERIES
    assert not unknown, f"{slug} / {title} names metrics the catalogue lacks: {unknown}"


def test_variable_queries_name_catalogue_metrics() -> None:
    found = list(variable_queries())
    assert found
    for slug, name, selector in found:
        assert metric_names(selector) <= SERIES, (slug, name, selector)


def test_the_cost_dashboard_reads_series_the_pack_records() -> None:
    assert set(cost.RECORDED) <= RECORDED
    assert not set(cost.RECORDED) & {n for s in catalog.all_specs() for n in s.series_names}


def test_the_check_catches_a_name_the_catalogue_lacks() -> None:
    bogus = "sum(rate(inferwatch_gpu_bogus_total[5m])) / sum(inferwatch_gpu_up)"
    assert metric_names(bogus) - SERIES == {"inferwatch_gpu_bogus_total"}


def test_selectors_refuse_labels_the_spec_lacks() -> None:
    with pytest.raises(ValueError, match="has no label 'reason'"):
        sel(catalog.GPU_UP, eq={"reason": "x"})
    with pytest.raises(ValueError, match="not a series"):
        sel(catalog.GPU_UP, "_bucket")


def test_selectors_filter_only_labels_the_metric_carries() -> None:
    assert sel(catalog.GPU_UP) == 'inferwatch_gpu_up{cluster=~"$cluster", node=~"$node"}'
    assert 'model=~"$model"' in sel(catalog.ENGINE_UP)
    assert 'namespace=~"$namespace"' in sel(catalog.ENGINE_UP)
