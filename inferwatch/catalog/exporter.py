"""The exporter's own metrics."""

from inferwatch.catalog.spec import COLLECTOR, _c, _g

COLLECTOR_UP = _g("inferwatch_collector_up", "1 when the collector's last run succeeded, 0 when "
                  "it failed or timed out.", COLLECTOR)
COLLECTOR_DURATION = _g("inferwatch_collector_duration_seconds", "Duration of the collector's "
                        "last run.", COLLECTOR, "seconds")
COLLECTOR_LAST_SUCCESS = _g("inferwatch_collector_last_success_timestamp_seconds", "Unix time of "
                            "the collector's last successful run.", COLLECTOR, "seconds")
OTLP_EXPORTS = _c("inferwatch_otlp_exports_total", "OTLP pushes of the snapshot, by result "
                  "(success, failure).", ("result",))
BUILD_INFO = _g("inferwatch_build_info", "Build and runtime versions; value is always 1.",
                ("version", "python_version", "nvml_version"))
