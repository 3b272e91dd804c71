"""`inferwatch exporter`: run the per-node exporter, or check its configuration file."""

from __future__ import annotations

import argparse

from inferwatch.exporter.config import load_config

# A flag that overrides a config-file field: (flag, dotted path, argparse options).
EXPORTER_FLAGS: list[tuple[str, str, dict]] = [
    ("--web.listen-address", "exporter.web.listen_address",
     {"metavar": "HOST:PORT", "help": "address to serve /metrics on (default :9477)"}),
    ("--web.config.file", "exporter.web.config_file",
     {"metavar": "FILE", "help": "exporter-toolkit web config: TLS and basic auth"}),
    ("--collector.gpu", "exporter.collectors.gpu.enabled",
     {"action": argparse.BooleanOptionalAction, "help": "GPU metrics from NVML"}),
    ("--collector.gpu.interval", "exporter.collectors.gpu.interval",
     {"metavar": "DURATION", "help": "GPU collection interval (default 5s)"}),
    ("--collector.host", "exporter.collectors.host.enabled",
     {"action": argparse.BooleanOptionalAction, "help": "CPU, memory, fs, network, PSI"}),
    ("--collector.host.interval", "exporter.collectors.host.interval",
     {"metavar": "DURATION", "help": "host collection interval (default 10s)"}),
    ("--collector.diskstats", "exporter.collectors.diskstats.enabled",
     {"action": argparse.BooleanOptionalAction, "help": "disk I/O from /proc/diskstats"}),
    ("--collector.diskstats.device-exclude", "exporter.collectors.diskstats.device_exclude",
     {"metavar": "REGEX", "help": "devices to leave out (default node_exporter's: partitions, "
      "loop, ram, fd)"}),
    ("--collector.diskstats.device-mapper", "exporter.collectors.diskstats.device_mapper",
     {"action": argparse.BooleanOptionalAction,
      "help": "also report device-mapper volumes (dm-N; off by default: they repeat the I/O "
              "of their disks)"}),
    ("--collector.mdadm", "exporter.collectors.mdadm.enabled",
     {"action": argparse.BooleanOptionalAction, "help": "md RAID arrays from /proc/mdstat"}),
    ("--engine", "exporter.engines",
     {"action": "append", "metavar": "KIND=URL",
      "help": "scrape an inference engine (repeatable; KIND: auto, vllm, sglang, tgi, triton, "
              "trtllm, llamacpp, lmdeploy, nim, dynamo); replaces the config file's engines "
              "list"}),
    ("--collector.engines", "exporter.collectors.engines.enabled",
     {"action": argparse.BooleanOptionalAction, "help": "engine /metrics scrapes"}),
    ("--collector.engines.interval", "exporter.collectors.engines.interval",
     {"metavar": "DURATION", "help": "engine scrape interval (default 5s)"}),
    ("--simulate-gpus", "exporter.simulate_gpus",
     {"type": int, "metavar": "N", "help": "N GPUs from the fake NVML, for machines without"}),
    ("--simulate-scenario", "exporter.simulate_scenario",
     {"metavar": "NAME", "help": "fake NVML scenario: load, xid (default: load with Xids), "
      "unsupported, gpu-lost, init-failure, mig, shared (three processes on GPU 0)"}),
    ("--kubernetes.discovery", "exporter.kubernetes.enabled",
     {"action": argparse.BooleanOptionalAction,
      "help": "engine targets (inferwatch.io/* annotations) and pod names from the API server"}),
    ("--kubernetes.node-name", "exporter.kubernetes.node_name",
     {"metavar": "NAME", "help": "this node's name (default $NODE_NAME)"}),
    ("--kubernetes.api-url", "exporter.kubernetes.api_url",
     {"metavar": "URL", "help": "API server (default from KUBERNETES_SERVICE_HOST/PORT)"}),
    ("--collector.pods", "exporter.collectors.pods.enabled",
     {"action": argparse.BooleanOptionalAction,
      "help": "GPU memory per pod from NVML processes and /proc/<pid>/cgroup (needs hostPID)"}),
    ("--collector.pods.interval", "exporter.collectors.pods.interval",
     {"metavar": "DURATION", "help": "pod attribution interval (default 15s)"}),
    ("--collector.kubelet-pod-resources", "exporter.collectors.kubelet_pod_resources.enabled",
     {"action": argparse.BooleanOptionalAction,
      "help": "GPUs allocated to each container, idle or not, from the kubelet's pod-resources "
              "API (no hostPID needed)"}),
    ("--kubelet.pod-resources-socket", "exporter.collectors.kubelet_pod_resources.socket",
     {"metavar": "PATH", "help": "the kubelet's pod-resources socket (default "
      "/var/lib/kubelet/pod-resources/kubelet.sock)"}),
    ("--collector.jobs", "exporter.collectors.jobs.enabled",
     {"action": argparse.BooleanOptionalAction,
      "help": "HPC (Slurm) jobs per GPU, inferwatch_gpu_job_info, from the job-mapping "
              "directory and the GPU processes' Slurm cgroups"}),
    ("--collector.jobs.mapping-dir", "exporter.collectors.jobs.mapping_dir",
     {"metavar": "DIR", "help": "dcgm-exporter's --hpc-job-mapping-dir: one file per GPU "
      "index (or UUID) listing its job ids, written by the scheduler's prolog (default: none)"}),
    ("--otlp.endpoint", "exporter.otlp.endpoint",
     {"metavar": "URL", "help": "also push the metrics over OTLP to this URL: the full URL for "
      "http/protobuf (http://otel-collector:4318/v1/metrics), scheme://host:port for grpc "
      "(http://otel-collector:4317; https: TLS)"}),
    ("--otlp.protocol", "exporter.otlp.protocol",
     {"choices": ["http/protobuf", "grpc"], "help": "OTLP transport (default http/protobuf)"}),
    ("--otlp.naming", "exporter.otlp.naming",
     {"choices": ["prometheus", "semconv"],
      "help": "metric names pushed: prometheus (the default: the names /metrics serves, which "
              "the dashboards and alert rules query on a Prometheus-compatible backend) or "
              "semconv (OpenTelemetry's hw.gpu.*, hw.power, gen_ai.server.* ... with their "
              "units and attributes and a pinned schema_url; those conventions are still "
              "Development, hence not the default); table in README.md"}),
    ("--otlp.interval", "exporter.otlp.interval",
     {"metavar": "DURATION", "help": "OTLP push interval (default 15s)"}),
    ("--otlp.timeout", "exporter.otlp.timeout",
     {"metavar": "DURATION", "help": "OTLP push timeout, retries included (default: the "
      "interval, at most 10s)"}),
    ("--otlp.header", "exporter.otlp.headers",
     {"action": "append", "metavar": "NAME=VALUE",
      "help": "HTTP header on every OTLP push, e.g. Authorization=Bearer ... (repeatable; "
              "values are never logged); replaces the config file's headers"}),
    ("--otlp.resource-attributes", "exporter.otlp.resource_attributes",
     {"metavar": "KEY=VALUE,...", "help": "extra OTLP resource attributes, e.g. "
      "k8s.cluster.name=prod; over OTEL_RESOURCE_ATTRIBUTES and the defaults"}),
    ("--path.procfs", "exporter.paths.procfs", {"metavar": "PATH", "help": "procfs mount"}),
    ("--path.rootfs", "exporter.paths.rootfs", {"metavar": "PATH", "help": "host root mount"}),
    ("--log.level", "exporter.log_level",
     {"choices": ["debug", "info", "warn", "error"], "help": "log level (default info)"}),
    ("--log.format", "exporter.log_format",
     {"choices": ["logfmt", "json"], "help": "log line format (default logfmt)"}),
]


def add_flags(parser: argparse.ArgumentParser, flags: list[tuple[str, str, dict]]) -> None:
    for flag, dotted, options in flags:
        parser.add_argument(flag, dest=dotted, default=None, **options)


def overrides(args: argparse.Namespace, flags: list[tuple[str, str, dict]]) -> dict:
    """{dotted path: (flag, value)} for every flag given on the command line."""
    found = {}
    for flag, dotted, _options in flags:
        value = getattr(args, dotted, None)
        if value is not None:
            found[dotted] = (flag, value)
    return found


def cmd_exporter(args: argparse.Namespace) -> int:
    from inferwatch.exporter.main import run_exporter

    config = load_config(args.config_file, overrides(args, EXPORTER_FLAGS))
    return run_exporter(config.exporter)


def cmd_check_config(args: argparse.Namespace) -> int:
    """The file, and the web config file it names (what the exporter would refuse)."""
    config = load_config(args.file)
    if config.exporter.web.config_file:
        from inferwatch.core.webconfig import load_web_config

        load_web_config(config.exporter.web.config_file)
    print(f"{args.file}: ok")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """`exporter [flags]`, `exporter check-config FILE`, and `check-config FILE` (an alias)."""
    exp = subparsers.add_parser("exporter", help="run the per-node exporter")
    exp.add_argument("--config.file", dest="config_file", metavar="FILE",
                     help="YAML configuration file; flags override it")
    add_flags(exp, EXPORTER_FLAGS)
    exp.set_defaults(func=cmd_exporter)
    sub = exp.add_subparsers(dest="exporter_command")
    _check_parser(sub)
    _check_parser(subparsers)


def _check_parser(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser("check-config", help="validate an exporter configuration file")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)
