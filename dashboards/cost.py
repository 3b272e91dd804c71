"""Cost and energy: joules and dollars per token per model and namespace, GPU power per pod.

Every panel reads the default pack's `inferwatch-cost` recording rules (alert_rules/packs/
llm-serving.yml), so Prometheus must load the compiled pack: a GPU's power split across its
pods by SM share (whole for a GPU one pod owns), a model's GPU energy over its generated plus
prompt tokens, and its GPU-hour and energy cost over its tokens at the prices its price rules
record (the pack's, or a user's through `prices:` or `rules compile --prices`). The recorded
series keep only the labels the rules group by (namespace, model, pod,
GPU), so the namespace and model filters apply and the cluster and node filters do not. The
"By model facts" row joins the per-pod recorded series on the engines' model facts
(dashboards/facts.py), filtered by the dtype, quantization and tensor-parallel variables.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafanalib import core as g

from inferwatch.dashboards import board, facts
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import FACTS, Query, agg

# The pack's recorded series this dashboard reads (tests check the pack records each).
JOULES_PER_TOKEN = "inferwatch:engine_joules_per_token:rate5m"
COST_PER_MILLION = "inferwatch:engine_cost_per_million_tokens:rate1h"
TOKENS_PER_GPU = "inferwatch:engine_tokens_per_gpu:rate5m"
ENGINE_POWER = "inferwatch:engine_power_watts:rate5m"
ENGINE_TOKENS = "inferwatch:engine_tokens:rate5m"
ENGINE_TOKENS_1H = "inferwatch:engine_tokens:rate1h"
POD_POWER = "inferwatch:gpu_pod_power_watts"
POD_SHARE = "inferwatch:gpu_pod_share:ratio"
POD_COST = "inferwatch:gpu_pod_cost_usd_per_hour:rate1h"
RECORDED = (JOULES_PER_TOKEN, COST_PER_MILLION, TOKENS_PER_GPU, ENGINE_POWER, ENGINE_TOKENS,
            ENGINE_TOKENS_1H, POD_POWER, POD_SHARE, POD_COST)
MODEL = ("namespace", "model")
POD = ("namespace", "pod")
USD = "currencyUSD"
PER_MODEL = "{{namespace}} {{model}}"
PER_POD = "{{namespace}} {{pod}}"


def rec(name: str, labels: Sequence[str] = MODEL) -> str:
    """A recorded series filtered by the dashboard variables of the labels it keeps."""
    filters = ", ".join(f'{label}=~"${label}"' for label in labels)
    return f"{name}{{{filters}}}"


def variable(name: str, narrowed_by: Sequence[str] = ()) -> g.Template:
    """A multi-value filter listing the values the recorded token rates carry."""
    return g.Template(name=name, label=name.capitalize(), dataSource=board.DATASOURCE,
                      query=f"label_values({rec(ENGINE_TOKENS, narrowed_by)}, {name})",
                      includeAll=True, multi=True, allValue=".*", default="$__all",
                      refresh=2, sort=1)


def per_model() -> p.Row:
    return p.Row("Per model", [
        p.stat("Energy per token", "GPU joules per generated plus prompt token over the last 5 "
               "minutes, all selected models together.",
               Query(f"{agg('sum', rec(ENGINE_POWER))} / {agg('sum', rec(ENGINE_TOKENS))}"),
               "joule", w=6),
        p.stat("Cost per million tokens", "GPU-hours and energy at the recorded prices over the "
               "last hour, per million tokens, the most expensive selected model.",
               Query(agg("max", rec(COST_PER_MILLION))), USD, w=6),
        p.stat("GPU power of the models", "Watts of GPU energy attributed to the selected "
               "models' pods over the last 5 minutes.",
               Query(agg("sum", rec(ENGINE_POWER))), "watt", w=6),
        p.stat("Tokens per second", "Generated plus prompt tokens per second of the selected "
               "models.", Query(agg("sum", rec(ENGINE_TOKENS))), p.TOKENS_PER_SECOND, w=6),
        p.timeseries("Joules per token", "Each model's GPU energy over its generated plus "
                     "prompt tokens (5m); a rise against last week fires "
                     "EngineEnergyPerTokenUp.", [Query(rec(JOULES_PER_TOKEN), PER_MODEL)],
                     "joule", w=12),
        p.timeseries("Cost per million tokens", "USD per million tokens over the last hour: "
                     "the GPU-hours the model's pods hold plus their energy, at the pack's "
                     "prices.", [Query(rec(COST_PER_MILLION), PER_MODEL)], USD, w=12),
        p.timeseries("Tokens per second per GPU", "A model's tokens per second over the GPUs "
                     "its pods hold (shared GPUs by their share).",
                     [Query(rec(TOKENS_PER_GPU), PER_MODEL)], p.TOKENS_PER_SECOND, w=12),
        p.timeseries("GPU power per model", "Watts of GPU energy per model (5m), stacked.",
                     [Query(agg("sum", rec(ENGINE_POWER), MODEL), PER_MODEL)], "watt",
                     stack=True, w=12),
    ])


def per_pod() -> p.Row:
    return p.Row("Per pod and GPU", [
        p.timeseries("GPU power per pod", "Each pod's part of its GPUs' power draw: split by "
                     "SM share on shared GPUs, whole on a GPU it owns.",
                     [Query(agg("sum", rec(POD_POWER, ("namespace",)), POD), PER_POD)], "watt",
                     stack=True, w=12),
        p.timeseries("GPU cost per pod", "USD per hour of each pod's GPUs (share of the "
                     "GPU-hour price plus energy, last hour).",
                     [Query(agg("sum", rec(POD_COST, ("namespace",)), POD), PER_POD)], USD, w=12),
        p.table("GPU shares", "Each pod's share of each GPU: SM share where NVML samples "
                "processes, else an even split across the pods allocated to it.",
                [Query(rec(POD_SHARE, ("namespace",)), "Share")], p.RATIO),
    ])


def by_facts() -> p.Row:
    """Energy and cost per model, dtype, quantization and tensor-parallel size."""
    joules = facts.joules_per_token(rec(ENGINE_POWER), rec(ENGINE_TOKENS))
    cost = facts.cost_per_million(rec(ENGINE_TOKENS_1H), rec(ENGINE_TOKENS_1H, ("namespace",)),
                                  rec(POD_COST, ("namespace",)))
    tokens = agg("sum", facts.pod_facts(rec(ENGINE_TOKENS)), facts.BY)
    return p.Row("By model facts", [
        p.table("Energy and cost by model facts", "One row per model, dtype, quantization and "
                "tensor-parallel size, as the engines say them: GPU joules per token (5m), USD "
                "per million tokens (1h) and tokens per second. Pods whose engine publishes no "
                "model facts are left out; the Dtype, Quantization and Tensor parallel "
                "variables filter these panels only.",
                [Query(joules, "J/token"), Query(cost, "USD per 1M tokens"),
                 Query(tokens, "tok/s")], p.COUNT),
        p.timeseries("Joules per token by model facts", "GPU energy over generated plus "
                     "prompt tokens (5m) per model, dtype, quantization and tensor-parallel "
                     "size.", [Query(joules, facts.PER)], "joule", w=12),
        p.timeseries("Cost per million tokens by model facts", "USD per million tokens (1h) "
                     "per model, dtype, quantization and tensor-parallel size: each pod's GPU "
                     "cost split across its models by their tokens.",
                     [Query(cost, facts.PER)], USD, w=12),
    ])


def build():
    """The cost and energy dashboard."""
    return board.dashboard(
        "inferwatch / Cost and energy", board.UID_COST,
        "What each model costs: GPU joules per token, USD per million tokens, tokens per "
        "second per GPU, and each pod's GPU power and cost (the default pack's recording "
        "rules), also by the engines' model facts.", [per_model(), per_pod(), by_facts()],
        filters=[variable("namespace"), variable("model", ("namespace",)),
                 *(board.filter_variable(f, ("namespace", "model")) for f in FACTS)])
