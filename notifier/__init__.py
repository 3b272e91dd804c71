"""notifier: route, group, deduplicate and durably deliver alerts, the way Alertmanager does.

Inputs: `POST /api/v2/alerts` (Alertmanager's API v2; Prometheus's alerting can point here),
`POST /api/v1/webhook` or `/webhook` (an Alertmanager webhook, payload version 4), and, in
process, the rules engine:

    from inferwatch.notifier import Alert, Notifier, load_notifier_config

    notifier = Notifier(load_notifier_config("notifier.yml"), storage="data/notifier")
    await notifier.start()
    await notifier.receive([Alert(labels={"alertname": "HighTTFT", "severity": "page"},
                                  annotations={"summary": "p99 TTFT above 2s"},
                                  starts_at=time.time(), ends_at=None,
                                  generator_url="http://prometheus/graph?...")],
                           source="rules")
    ...
    await notifier.stop()

`Alert` times are Unix seconds. `ends_at=None` means firing until now + global.resolve_timeout
(5m), exactly as an API v2 alert without endsAt, so the engine must re-send firing alerts
(Prometheus does every resend delay) and send a past `ends_at` to resolve. `receive` returns once
the alerts are in the database. `make_app(notifier)` in notifier.api gives the HTTP API.

Pipeline (one module each): routing (tree, matchers), grouping (group_wait, group_interval),
inhibit, silences, nflog (dedup reasons), pipeline (a flush as a pure function), outbox (SQLite
WAL; recorded before delivery, marked after, marks batched per loop turn), delivery (backoff with
jitter up to a deadline), channels (apprise, one try per attempt; json:// through webhook, one
kept-alive aiohttp session), templates (over formatting: parsed once, fields computed on
demand), api/apiv2/api_filters (Alertmanager's API v2), amconfig (`config.original` for amtool),
gotemplate (Alertmanager's Go templates). Secrets: inferwatch.core.redact.
"""

from inferwatch.notifier.alerts import Alert
from inferwatch.notifier.config import load_notifier_config
from inferwatch.notifier.service import Notifier

__all__ = ["Alert", "Notifier", "load_notifier_config"]
