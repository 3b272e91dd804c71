"""The exporter's configuration schema: the `exporter:` section of its YAML file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, model_validator

from inferwatch.core.config import ConfigError, Duration, Strict, read_yaml, validate_model
from inferwatch.core.redact import redact
from inferwatch.exporter.collectors.host_disk import DEVICE_EXCLUDE

DEFAULT_PORT = 9477  # not node_exporter's 9100, dcgm-exporter's 9400 or nvidia_gpu_exporter's 9835


def _listen_address(value: str) -> str:
    host, sep, port = str(value).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. :{DEFAULT_PORT} or 0.0.0.0:9477)")
    return f"{host}:{port}"


ListenAddress = Annotated[str, BeforeValidator(_listen_address)]


class CollectorConfig(Strict):
    """A background collector. Without a timeout: 80% of the interval, at most 5s."""

    enabled: bool = True
    interval: Duration = 10.0
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> CollectorConfig:
        if self.interval <= 0:
            raise ValueError("interval must be above 0")
        if self.timeout is None:
            object.__setattr__(self, "timeout", min(self.interval * 0.8, 5.0))
        elif not 0 < self.timeout <= self.interval:
            raise ValueError("timeout must be above 0 and at most the interval")
        return self


EngineKind = Literal["auto", "vllm", "sglang", "tgi", "triton", "trtllm", "llamacpp", "lmdeploy",
                     "nim", "dynamo"]


class EnginesCollectorConfig(CollectorConfig):
    """Engine scrapes: defaults for every target, and the cap on a /metrics body. The limits
    are Prometheus' (0: none): a target over one is down, its page refused. info_interval:
    how often each target's info endpoints (model facts) are fetched, 10s to 1d."""

    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    info_interval: Annotated[Duration, Field(ge=10, le=86400)] = 300.0
    sample_limit: int = Field(50_000, ge=0)
    label_limit: int = Field(64, ge=0)
    label_name_length_limit: int = Field(256, ge=0)
    label_value_length_limit: int = Field(2048, ge=0)


class DiskstatsCollectorConfig(CollectorConfig):
    """Disk I/O from /proc/diskstats. device_exclude is node_exporter's regex and default;
    device-mapper volumes (dm-N) only with device_mapper: true."""

    device_exclude: str = DEVICE_EXCLUDE
    device_mapper: bool = False

    @model_validator(mode="after")
    def _exclude_compiles(self) -> DiskstatsCollectorConfig:
        try:
            re.compile(self.device_exclude, re.ASCII)
        except re.error as err:
            raise ValueError(f"device_exclude is not a regular expression: {err}") from None
        return self


class PodResourcesCollectorConfig(CollectorConfig):
    """Devices allocated per container, from the kubelet's pod-resources gRPC socket."""

    enabled: bool = False
    interval: Duration = 15.0
    socket: str = "/var/lib/kubelet/pod-resources/kubelet.sock"


class JobsCollectorConfig(CollectorConfig):
    """GPU -> HPC job: dcgm-exporter's mapping directory (mapping_dir, none by default) and,
    with cgroups: true, the Slurm cgroups of the GPUs' processes (needs hostPID)."""

    enabled: bool = False
    interval: Duration = 15.0
    mapping_dir: str | None = None
    cgroups: bool = True


class Collectors(Strict):
    gpu: CollectorConfig = CollectorConfig(interval=5.0)
    host: CollectorConfig = CollectorConfig(interval=10.0)
    diskstats: DiskstatsCollectorConfig = DiskstatsCollectorConfig(interval=10.0)
    mdadm: CollectorConfig = CollectorConfig(interval=10.0)
    engines: EnginesCollectorConfig = EnginesCollectorConfig(interval=5.0)
    pods: CollectorConfig = CollectorConfig(enabled=False, interval=15.0, timeout=10.0)
    kubelet_pod_resources: PodResourcesCollectorConfig = PodResourcesCollectorConfig()
    jobs: JobsCollectorConfig = JobsCollectorConfig()


def _http_url(value: str) -> str:
    text = str(value)
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1]) == 0:
        raise ValueError(f"{redact(text)!r} is not an http:// or https:// URL")
    return text


class EngineTarget(Strict):
    """One engine /metrics endpoint. A URL without a path gets the kind's metrics path.
    interval, timeout and the limits default to collectors.engines'. namespace and pod, when
    the engine runs in a pod that discovery does not find, label its series as discovery
    would (for the GPU-to-pod join)."""

    kind: EngineKind = "auto"
    url: Annotated[str, BeforeValidator(_http_url)]
    namespace: str = Field("", max_length=253)
    pod: str = Field("", max_length=253)
    role: Literal["", "prefill", "decode", "both"] = ""  # where the engine does not say it
    interval: Duration | None = None
    timeout: Duration | None = None
    sample_limit: int | None = Field(None, ge=0)
    label_limit: int | None = Field(None, ge=0)
    label_name_length_limit: int | None = Field(None, ge=0)
    label_value_length_limit: int | None = Field(None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        """`KIND=URL` (the `--engine` flag, or a list item in the file) as a mapping."""
        if not isinstance(data, str):
            return data
        kind, sep, url = data.partition("=")
        if not sep or not kind or "://" in kind:
            raise ValueError(f"{redact(data)!r} is not KIND=URL (e.g. vllm=http://127.0.0.1:8000)")
        return {"kind": kind, "url": url}

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> EngineTarget:
        if self.interval is not None and self.interval <= 0:
            raise ValueError("interval must be above 0")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be above 0")
        if self.interval and self.timeout and self.timeout > self.interval:
            raise ValueError("timeout must be at most the interval")
        return self


class Paths(Strict):
    procfs: str = "/proc"
    rootfs: str = "/"


class Web(Strict):
    listen_address: ListenAddress = f":{DEFAULT_PORT}"
    config_file: str | None = None  # exporter-toolkit web config (TLS, basic auth)


class Kubernetes(Strict):
    """Engine targets and pod names from the API server: the pods on this node."""

    enabled: bool = False
    node_name: str = Field(default_factory=lambda: os.environ.get("NODE_NAME", ""))
    api_url: str | None = None  # default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
    token_file: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ca_file: str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    timeout: Duration = 10.0
    watch_timeout: Duration = 300.0

    @model_validator(mode="after")
    def _needs_node(self) -> Kubernetes:
        if self.enabled and not self.node_name:
            raise ValueError("node_name is required: set NODE_NAME from the downward API "
                             "(fieldRef: spec.nodeName) or kubernetes.node_name")
        return self


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


def _headers(value: Any) -> dict[str, str]:
    """`NAME=VALUE` strings (the repeatable `--otlp.header`) or a mapping. Messages name the
    header by position, never echo it: a malformed entry may hold a credential."""
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [str(entry).partition("=")[::2] for entry in value]
        if bad := next((n for n, e in enumerate(value, 1) if "=" not in str(e)), None):
            raise ValueError(f"header #{bad} is not NAME=VALUE")
    else:
        raise ValueError("a mapping of header names to values, or a list of NAME=VALUE")
    headers: dict[str, str] = {}
    for n, (name, text) in enumerate(items, 1):
        name = name.strip()
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"header #{n}: the name is not an HTTP token (letters, digits, -)")
        text = str(text) if isinstance(text, int | float) and not isinstance(text, bool) else text
        if not isinstance(text, str) or any(c in text for c in "\r\n\0"):
            raise ValueError(f"header {name}: the value must be text without line breaks")
        if name.lower() in (h.lower() for h in headers):
            raise ValueError(f"header {name} is given twice")
        headers[name] = text.strip()
    return headers


def _resource_attributes(value: Any) -> dict[str, str]:
    """`k=v,k2=v2` (the `--otlp.resource-attributes` flag, as OTEL_RESOURCE_ATTRIBUTES) or a
    mapping of strings."""
    if isinstance(value, str):
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        if any(not sep for _k, sep, _v in pairs):
            raise ValueError(f"{value!r} is not KEY=VALUE,... (e.g. k8s.cluster.name=prod)")
        value = {k.strip(): v.strip() for k, _sep, v in pairs}
    if not isinstance(value, dict):
        raise ValueError("a mapping of attribute names to values, or KEY=VALUE,...")
    for key, text in value.items():
        if not str(key).strip() or not isinstance(text, str | int | float | bool):
            raise ValueError(f"attribute {key!r}: a non-empty name and a scalar value")
    return {str(k).strip(): str(v) for k, v in value.items()}


class Otlp(Strict):
    """Push the exporter's metrics over OTLP (HTTP/protobuf or gRPC); off without an endpoint.
    Without a timeout: the interval, at most 10s. Naming: see exporter/otlp.py."""

    endpoint: Annotated[str, BeforeValidator(_http_url)] | None = None  # http: .../v1/metrics
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    naming: Literal["prometheus", "semconv"] = "prometheus"
    interval: Annotated[Duration, Field(gt=0)] = 15.0
    timeout: Duration | None = None
    headers: Annotated[dict[str, SecretStr], BeforeValidator(_headers)] = {}
    resource_attributes: Annotated[dict[str, str], BeforeValidator(_resource_attributes)] = {}

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Otlp:
        if self.timeout is None:
            object.__setattr__(self, "timeout", min(self.interval, 10.0))
        elif not 0 < self.timeout <= self.interval:
            raise ValueError("timeout must be above 0 and at most the interval")
        if self.protocol == "grpc" and self.endpoint and \
                urlsplit(self.endpoint).path.strip("/"):
            raise ValueError(f"a grpc endpoint is scheme://host:port without a path, not "
                             f"{redact(self.endpoint)!r}")
        return self


class ExporterConfig(Strict):
    web: Web = Web()
    paths: Paths = Paths()
    collectors: Collectors = Collectors()
    engines: tuple[EngineTarget, ...] = ()
    kubernetes: Kubernetes = Kubernetes()
    otlp: Otlp = Otlp()
    simulate_gpus: int = Field(0, ge=0, le=64)
    simulate_scenario: Literal["load", "unsupported", "gpu-lost", "init-failure", "xid",
                               "mig", "shared"] = "xid"
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    log_format: Literal["logfmt", "json"] = "logfmt"


class Config(Strict):
    exporter: ExporterConfig = ExporterConfig()


# Top-level keys of the other parts' files, to name the command that reads such a file.
OTHER_FILES = {"route": "inferwatch notifier check-config", "receivers":
               "inferwatch notifier check-config", "groups": "inferwatch rules check",
               "rule_files": "inferwatch rules run --config.file"}


def load_config(path: str | Path | None = None,
                overrides: dict[str, tuple[str, Any]] | None = None) -> Config:
    """The exporter's file with flag overrides, validated (ConfigError on any problem).
    A relative `web.config_file` in the file is relative to the file, as in Prometheus."""
    data = read_yaml(path) if path else {}
    other = next((OTHER_FILES[k] for k in data if k in OTHER_FILES), None)
    if other and "exporter" not in data:
        raise ConfigError([f"{path}: not an exporter configuration (no `exporter:` section); "
                           f"this file is read by `{other}`"])
    exporter = data.get("exporter")
    web = exporter.get("web") if isinstance(exporter, dict) else None
    given = web.get("config_file") if isinstance(web, dict) else None
    if path and isinstance(given, str) and given and not Path(given).is_absolute():
        web["config_file"] = str(Path(path).parent / given)  # a --web.config.file stays as given
    return validate_model(Config, data, path, overrides)
