"""Wire the exporter from its config: collectors, loop, web config, HTTP server."""

from __future__ import annotations

import gc
import logging
import sys

from inferwatch.core.logs import setup_logging
from inferwatch.core.webconfig import load_web_config
from inferwatch.exporter.app import make_app, run_app
from inferwatch.exporter.collectors.base import Collector
from inferwatch.exporter.config import ExporterConfig
from inferwatch.exporter.loop import CollectorLoop, build_labels

log = logging.getLogger(__name__)


def build_watcher(config: ExporterConfig):
    """The node's pod watch, or None when Kubernetes discovery is off."""
    kube = config.kubernetes
    if not kube.enabled:
        return None
    from inferwatch.exporter.kube.client import KubeClient, KubeConfig
    from inferwatch.exporter.kube.discovery import PodWatcher

    api_url = kube.api_url or KubeConfig.in_cluster().api_url
    client = KubeClient(KubeConfig(api_url, kube.token_file, kube.ca_file), timeout=kube.timeout)
    return PodWatcher(client, kube.node_name, watch_timeout_s=int(kube.watch_timeout))


def build_collectors(config: ExporterConfig, watcher=None) -> list[Collector]:
    collectors: list[Collector] = []
    cfg = config.collectors
    lib = None
    if (cfg.gpu.enabled or cfg.pods.enabled or cfg.kubelet_pod_resources.enabled
            or cfg.jobs.enabled):  # one NVML
        from inferwatch.exporter.nvml import load_nvml

        lib = load_nvml(config.simulate_gpus, config.simulate_scenario)
    if cfg.gpu.enabled:
        from inferwatch.exporter.collectors.gpu import GpuCollector

        collectors.append(GpuCollector(lib, interval=cfg.gpu.interval, timeout=cfg.gpu.timeout))
    if cfg.pods.enabled:
        from inferwatch.exporter.collectors.pods import PodAttributionCollector

        collectors.append(PodAttributionCollector(
            lib, watcher.directory if watcher else None, procfs=config.paths.procfs,
            interval=cfg.pods.interval, timeout=cfg.pods.timeout))
    if cfg.kubelet_pod_resources.enabled:
        from inferwatch.exporter.kube.allocation import AllocationCollector
        from inferwatch.exporter.kube.podresources import PodResourcesClient

        res = cfg.kubelet_pod_resources  # the gRPC deadline below the run's timeout
        collectors.append(AllocationCollector(
            PodResourcesClient(res.socket, deadline=res.timeout * 0.9), lib,
            interval=res.interval, timeout=res.timeout))
    if cfg.jobs.enabled:
        from inferwatch.exporter.collectors.jobs import JobCollector

        collectors.append(JobCollector(
            lib, cfg.jobs.mapping_dir, config.paths.procfs if cfg.jobs.cgroups else None,
            interval=cfg.jobs.interval, timeout=cfg.jobs.timeout))
    if watcher is not None:
        from inferwatch.exporter.kube.discovery import DiscoveryCollector

        collectors.append(DiscoveryCollector(watcher))
    if cfg.host.enabled:
        from inferwatch.exporter.collectors.host import HostCollector

        collectors.append(HostCollector(procfs=config.paths.procfs, rootfs=config.paths.rootfs,
                                        interval=cfg.host.interval, timeout=cfg.host.timeout))
    if cfg.diskstats.enabled:
        from inferwatch.exporter.collectors.host_disk import DiskstatsCollector

        collectors.append(DiskstatsCollector(
            procfs=config.paths.procfs, interval=cfg.diskstats.interval,
            timeout=cfg.diskstats.timeout, device_exclude=cfg.diskstats.device_exclude,
            device_mapper=cfg.diskstats.device_mapper))
    if cfg.mdadm.enabled:
        from inferwatch.exporter.collectors.host_md import MdadmCollector

        collectors.append(MdadmCollector(procfs=config.paths.procfs,
                                         interval=cfg.mdadm.interval, timeout=cfg.mdadm.timeout))
    engines = build_engine_collector(config, watcher)
    if engines is not None:
        collectors.append(engines)
    return collectors


def build_engine_collector(config: ExporterConfig, watcher=None) -> Collector | None:
    """One collector for every engine target, static or discovered; None when none can be."""
    cfg = config.collectors.engines
    if not cfg.enabled or not (config.engines or watcher):
        return None
    from inferwatch.exporter.collectors.engines.collector import EngineCollector

    return EngineCollector.from_config(cfg, config.engines,
                                       discovered=watcher.targets if watcher else None)


def build_loop(config: ExporterConfig, watcher=None) -> CollectorLoop:
    collectors = build_collectors(config, watcher)
    gpu = next((c for c in collectors if c.name == "gpu"), None)
    return CollectorLoop(collectors,
                         lambda: build_labels(getattr(gpu, "nvml_version", "") if gpu else ""))


def tune_for_scrapes() -> None:
    """Keep scrape latency low beside busy worker threads: hand the GIL back every 0.5 ms
    (default 5 ms), and move start-up objects out of the garbage collector's way."""
    sys.setswitchinterval(0.0005)
    gc.collect()
    gc.freeze()


def run_exporter(config: ExporterConfig) -> int:
    setup_logging(config.log_level, config.log_format)
    web_config = load_web_config(config.web.config_file)
    host, _, port = config.web.listen_address.rpartition(":")
    from inferwatch.exporter.kube.client import KubeError

    try:
        watcher = build_watcher(config)
    except KubeError as err:  # not in a cluster, or the service account cannot be read
        log.error("kubernetes discovery: %s", err)
        return 2
    loop = build_loop(config, watcher)
    app = make_app(loop, web_config)
    tune_for_scrapes()
    if watcher is not None:
        app.cleanup_ctx.append(watcher.lifespan)
    if config.otlp.endpoint:  # only then is opentelemetry imported: the process stays lean
        from inferwatch.exporter.otlp import build_pusher

        pusher = build_pusher(config.otlp, loop, config.kubernetes.node_name)
        app.cleanup_ctx.append(pusher.lifespan)
    scheme = "https" if web_config.ssl_context else "http"
    listening = f"listening on {scheme}://{host or '0.0.0.0'}:{port}/metrics"
    try:
        run_app(app, host=host or None, port=int(port), ssl_context=web_config.ssl_context,
                print=lambda _banner: log.info(listening))
    except OSError as err:  # the address is taken or not ours
        log.error("cannot listen on %s: %s", config.web.listen_address, err.strerror or err)
        return 1
    return 0
