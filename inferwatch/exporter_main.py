"""Wire the exporter from its config: collectors, loop, web config, HTTP server."""

from __future__ import annotations

import logging

from aiohttp import web

from exporter.app import make_app
from exporter.collectors.base import Collector
from exporter.loop import CollectorLoop, build_labels
from exporter.webconfig import load_web_config
from inferwatch.config import ExporterConfig
from inferwatch.logs import setup_logging

log = logging.getLogger("inferwatch.exporter")


def build_collectors(config: ExporterConfig) -> list[Collector]:
    collectors: list[Collector] = []
    gpu_cfg, host_cfg = config.collectors.gpu, config.collectors.host
    if gpu_cfg.enabled:
        from exporter.collectors.gpu import GpuCollector
        from exporter.nvml import load_nvml

        lib = load_nvml(config.simulate_gpus, config.simulate_scenario)
        collectors.append(GpuCollector(lib, interval=gpu_cfg.interval, timeout=gpu_cfg.timeout))
    if host_cfg.enabled:
        from exporter.collectors.host import HostCollector

        collectors.append(HostCollector(procfs=config.paths.procfs, rootfs=config.paths.rootfs,
                                        interval=host_cfg.interval, timeout=host_cfg.timeout))
    engines = build_engine_collector(config)
    if engines is not None:
        collectors.append(engines)
    return collectors


def build_engine_collector(config: ExporterConfig) -> Collector | None:
    """One collector for every configured engine target; None when there are none."""
    cfg = config.collectors.engines
    if not cfg.enabled or not config.engines:
        return None
    from exporter.collectors.engines.collector import EngineCollector, ScrapeTarget
    from exporter.collectors.engines.targets import Target

    targets = [ScrapeTarget(Target(e.kind, e.url), e.interval, e.timeout)
               for e in config.engines]
    return EngineCollector(targets, interval=cfg.interval, timeout=cfg.timeout,
                           max_body_bytes=cfg.max_body_bytes)


def build_loop(config: ExporterConfig) -> CollectorLoop:
    collectors = build_collectors(config)
    gpu = next((c for c in collectors if c.name == "gpu"), None)
    return CollectorLoop(collectors,
                         lambda: build_labels(getattr(gpu, "nvml_version", "") if gpu else ""))


def run_exporter(config: ExporterConfig) -> int:
    setup_logging(config.log_level)
    web_config = load_web_config(config.web.config_file)
    host, _, port = config.web.listen_address.rpartition(":")
    loop = build_loop(config)
    scheme = "https" if web_config.ssl_context else "http"
    log.info("listening on %s://%s:%s/metrics", scheme, host or "0.0.0.0", port)
    web.run_app(make_app(loop, web_config), host=host or None, port=int(port),
                ssl_context=web_config.ssl_context, print=None, access_log=None)
    return 0
