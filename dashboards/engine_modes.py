"""Engine states an operator must not mistake for load: sleep, and disaggregated serving.

A sleeping engine (vLLM's sleep mode: weights offloaded or discarded) runs nothing and queues
nothing, as an idle one does, but it cannot serve until woken: the panels count the two apart.
In a disaggregated deployment prefill and decode engines (the `role` label every engine series
carries) each hold queues of their own (SGLang's prealloc, inflight and transfer queues, all
counted in requests_waiting); `requests_waiting_by_queue` shows which one backs up, and the KV
transfers between them show their latency (vLLM NIXL's histogram, SGLang's mean), bytes per
second and failures by stage.
"""

from __future__ import annotations

from inferwatch import catalog as c
from inferwatch.dashboards import panels as p
from inferwatch.dashboards.promql import Query, agg, or_zero, quantile, sel, sum_rate

TARGET = ("cluster", "node", "target")
BY_ROLE = ("role", "engine", "model")
PER_ROLE = "{{role}} {{engine}} {{model}}"
AWAKE = "awake"


def asleep() -> str:
    """One series per target with at least one rank in a state other than awake."""
    return f"{agg('max', sel(c.ENGINE_SLEEP_STATE, ne={'state': AWAKE}), TARGET)} > 0"


def idle_awake() -> str:
    """Targets up with nothing running or waiting, leaving out the sleeping ones."""
    load = (f"{agg('sum', sel(c.ENGINE_REQUESTS_RUNNING), TARGET)} + "
            f"{agg('sum', sel(c.ENGINE_REQUESTS_WAITING), TARGET)}")
    return or_zero(agg("count", f"({load}) == 0 unless on ({', '.join(TARGET)}) ({asleep()})"))


def row() -> p.Row:
    return p.Row("Sleep and disaggregation", [
        p.stat("Engines asleep", "Engine targets with a rank in sleep mode (weights offloaded "
               "or discarded): they run and queue nothing, but are not idle capacity; they "
               "serve again only once woken.", Query(or_zero(agg("count", asleep()))), p.COUNT,
               steps=(("green", None), ("blue", 1.0)), w=6),
        p.stat("Engines idle (awake)", "Engine targets awake with nothing running or waiting: "
               "capacity that can take requests now (sleeping engines left out).",
               Query(idle_awake()), p.COUNT, w=6),
        p.timeseries("Ranks by sleep state", "Engine ranks in each sleep state (awake, "
                     "weights_offloaded, discard_all) per engine and model.",
                     [Query(agg("sum", sel(c.ENGINE_SLEEP_STATE), ("state", "engine", "model")),
                            "{{state}} {{engine}} {{model}}")], p.COUNT, stack=True, w=12),
        p.timeseries("Waiting by queue and role", "Requests waiting per role (prefill, decode, "
                     "both) and queue: the scheduler's, and in a disaggregated deployment the "
                     "prealloc (bootstrap), inflight and transfer queues.",
                     [Query(agg("sum", sel(c.ENGINE_WAITING_BY_QUEUE), ("role", "queue")),
                            "{{role}} {{queue}}")], p.COUNT, stack=True, w=12),
        p.timeseries("Running and waiting by role", "Requests running and waiting per role: a "
                     "decode fleet that waits while prefill runs free needs more decode "
                     "engines (or the transfers are slow).",
                     [Query(agg("sum", sel(c.ENGINE_REQUESTS_RUNNING), ("role",)),
                            "running {{role}}"),
                      Query(agg("sum", sel(c.ENGINE_REQUESTS_WAITING), ("role",)),
                            "waiting {{role}}")], p.COUNT, w=12),
        p.timeseries("KV transfer latency", "Time to move a request's KV cache between "
                     "prefill and decode: p95 from the engines' transfer histograms (vLLM "
                     "NIXL), and the slowest target's mean where the engine only averages it "
                     "(SGLang).",
                     [Query(quantile(0.95, c.ENGINE_KV_TRANSFER_DURATION, BY_ROLE),
                            "p95 " + PER_ROLE),
                      Query(agg("max", sel(c.ENGINE_KV_TRANSFER_LATENCY), BY_ROLE),
                            "mean " + PER_ROLE)], "s", w=8),
        p.timeseries("KV transfer throughput", "KV-cache bytes per second moved between "
                     "prefill and decode (vLLM NIXL's counter), and the transfer speed the "
                     "engine averages (SGLang), summed over targets.",
                     [Query(sum_rate(c.ENGINE_KV_TRANSFER_BYTES, BY_ROLE), PER_ROLE),
                      Query(agg("sum", sel(c.ENGINE_KV_TRANSFER_SPEED), BY_ROLE),
                            "speed " + PER_ROLE)], p.BYTES_PER_SECOND, w=8),
        p.timeseries("KV transfer failures", "Failed KV-cache transfers per second by role and "
                     "stage (transfer, bootstrap, notification, expired): each is a request "
                     "that fails or is prefilled again.",
                     [Query(sum_rate(c.ENGINE_KV_TRANSFER_FAILURES, ("role", "reason")),
                            "{{role}} {{reason}}")], p.PER_SECOND, w=8),
    ])
