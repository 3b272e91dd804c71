"""Cluster overview: fleet health at a glance, with links down to the detailed dashboards."""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.dashboards import board, slos
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import Query, agg, count_where, quantile, ratio, sel, sum_rate

KV_STEPS = (("green", None), ("orange", 0.9), ("red", 0.98))


def fleet() -> p.Row:
    node, engines = board.link(board.UID_NODE, "Node and GPU"), board.link(board.UID_ENGINES,
                                                                          "Inference engines")
    health = board.link(board.UID_EXPORTER, "Exporter health")
    return p.Row("Fleet", [
        p.stat("Nodes reporting", "Exporters whose build info Prometheus currently scrapes.",
               Query(agg("count", sel(c.BUILD_INFO))), p.COUNT, links=[node]),
        p.stat("GPUs up", "GPUs whose last NVML reads succeeded.",
               Query(agg("sum", sel(c.GPU_UP))), p.COUNT, links=[node]),
        p.stat("GPUs down", "GPUs lost after an NVML lifecycle error (0 is healthy).",
               Query(count_where(c.GPU_UP, "== 0")), p.COUNT,
               steps=p.ANY_IS_BAD, links=[node]),
        p.stat("Engines up", "Engine targets whose last scrape succeeded.",
               Query(agg("sum", sel(c.ENGINE_UP))), p.COUNT, links=[engines]),
        p.stat("Engines down", "Engine targets whose last scrape failed (0 is healthy).",
               Query(count_where(c.ENGINE_UP, "== 0")), p.COUNT,
               steps=p.ANY_IS_BAD, links=[engines]),
        p.stat("Collectors failing", "Exporter collectors whose last run failed or timed out.",
               Query(count_where(c.COLLECTOR_UP, "== 0")), p.COUNT,
               steps=p.ANY_IS_BAD, links=[health]),
    ])


def gpus() -> p.Row:
    by_node = ("cluster", "node")
    return p.Row("GPUs", [
        p.gauge("GPU utilisation", "Mean fraction of time a kernel ran, across selected GPUs.",
                Query(agg("avg", sel(c.GPU_UTILIZATION))), p.unit(c.GPU_UTILIZATION),
                min=0, max=1),
        p.gauge("GPU memory used", "Device memory in use over device memory, all GPUs.",
                Query(ratio(agg("sum", sel(c.GPU_MEMORY_USED)),
                            agg("sum", sel(c.GPU_MEMORY_TOTAL)))),
                p.RATIO, min=0, max=1),
        p.stat("GPU power", "Total power draw of the selected GPUs.",
               Query(agg("sum", sel(c.GPU_POWER_USAGE))), p.unit(c.GPU_POWER_USAGE), h=6),
        p.timeseries("GPU utilisation by node", "Mean GPU utilisation per node.",
                     [Query(agg("avg", sel(c.GPU_UTILIZATION), by_node), "{{node}}")],
                     p.unit(c.GPU_UTILIZATION), min=0, max=1, w=6, h=6),
        p.timeseries("GPU memory by node", "Device memory in use per node.",
                     [Query(agg("sum", sel(c.GPU_MEMORY_USED), by_node), "{{node}}")],
                     p.unit(c.GPU_MEMORY_USED), w=6, h=6),
    ])


def inference() -> p.Row:
    by = ("engine", "model")
    return p.Row("Inference", [
        p.stat("Requests running", "Requests in the engines' running batches.",
               Query(agg("sum", sel(c.ENGINE_REQUESTS_RUNNING))), p.COUNT),
        p.stat("Requests waiting", "Requests queued in the engines' schedulers.",
               Query(agg("sum", sel(c.ENGINE_REQUESTS_WAITING))), p.COUNT),
        p.gauge("KV cache (fullest engine)", "KV-cache usage of the fullest engine: queues "
                "and preemptions follow when it nears 1.",
                Query(agg("max", sel(c.ENGINE_KV_CACHE_USAGE))),
                p.unit(c.ENGINE_KV_CACHE_USAGE), min=0, max=1, steps=KV_STEPS, h=4),
        p.stat("Output tokens / s", "Tokens generated per second, all engines.",
               Query(sum_rate(c.ENGINE_GENERATION_TOKENS)), p.TOKENS_PER_SECOND),
        p.stat("TTFT p95", "95th percentile time to first token, all engines.",
               Query(quantile(0.95, c.ENGINE_TTFT)), p.unit(c.ENGINE_TTFT),
               steps=(("green", None), ("orange", 1.0), ("red", 2.0))),
        p.stat("TTFT objective met", "Fraction of requests whose first token came within "
               f"{slos.TTFT_DEFAULT} s (the SLOs dashboard's default objective).",
               Query(slos.good_ratio_ttft(slos.TTFT_DEFAULT, "$__rate_interval")),
               p.RATIO, steps=p.LOW_IS_BAD),
        p.timeseries("Token throughput", "Prompt and generated tokens per second, per engine "
                     "and model.",
                     [Query(sum_rate(c.ENGINE_PROMPT_TOKENS, by), "prompt {{engine}} {{model}}"),
                      Query(sum_rate(c.ENGINE_GENERATION_TOKENS, by),
                            "output {{engine}} {{model}}")], p.TOKENS_PER_SECOND, w=8),
        p.timeseries("Queues", "Waiting and running requests per engine and model.",
                     [Query(agg("sum", sel(c.ENGINE_REQUESTS_WAITING), by),
                            "waiting {{engine}} {{model}}"),
                      Query(agg("sum", sel(c.ENGINE_REQUESTS_RUNNING), by),
                            "running {{engine}} {{model}}")], p.COUNT, w=8),
        p.timeseries("KV-cache usage", "Fullest engine per engine kind and model.",
                     [Query(agg("max", sel(c.ENGINE_KV_CACHE_USAGE), by),
                            "{{engine}} {{model}}")],
                     p.unit(c.ENGINE_KV_CACHE_USAGE), min=0, max=1, steps=KV_STEPS, w=8),
    ])


def alerts() -> p.Row:
    return p.Row("Alerts", [
        p.stat("Error budget left (availability)", "Availability error budget remaining over "
               f"{slos.WINDOW_DEFAULT} at a {slos.OBJECTIVE_DEFAULT} objective.",
               Query(slos.budget_left(slos.bad_ratio_availability(slos.WINDOW_DEFAULT),
                                      slos.OBJECTIVE_DEFAULT)),
               p.RATIO, steps=slos.BUDGET_STEPS, w=6, h=8),
        p.alert_list("Firing alerts", "Firing and pending alerts from every alert rule source "
                     "Grafana knows (Prometheus rules included).", w=18),
    ])


def build():
    """The cluster overview dashboard."""
    return board.dashboard(
        "inferwatch / Cluster overview", board.UID_OVERVIEW,
        "Fleet health at a glance: nodes, GPUs, engines, queues, tokens, SLOs and alerts.",
        [fleet(), gpus(), inference(), alerts()])
