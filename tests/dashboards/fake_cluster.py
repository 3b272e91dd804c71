"""What the proof needs beyond the simulators: a node's pods, and an engine that renames a metric.

- `ApiServer`: a loopback Kubernetes API server answering the exporter's pod list and watch
  (bearer token checked, `spec.nodeName` field selector honoured), as the API server would.
- `procfs`: a procfs view where the fake NVML's GPU processes (pid 4000 + GPU index) sit in
  those pods' cgroups (systemd layout, containerd ids); every other entry links to the real
  /proc, so the host collector reads the real machine.
- `RenamingProxy`: a pass-through to an engine's /metrics that stops serving one metric family
  after a few scrapes, as an engine upgrade that renames a metric does.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOKEN = "proof-token"
NAMESPACE = "inference"
# pod name -> (container name, GPU indexes its process runs on); GPUs 6 and 7 run host
# processes that no pod owns.
PODS = {"vllm-0": ("vllm", (0, 1, 2, 3)), "sglang-0": ("sglang", (4, 5))}
FAKE_PID_BASE = 4000  # exporter.fakenvml: an unpinned GPU's process is pid 4000 + index


def uid(pod: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{NAMESPACE}/{pod}"))


def container_id(pod: str) -> str:
    return hashlib.sha256(pod.encode()).hexdigest()


def pod_objects(node: str) -> list[dict]:
    return [{"metadata": {"name": name, "namespace": NAMESPACE, "uid": uid(name),
                          "resourceVersion": "1"},
             "spec": {"nodeName": node},
             "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [
                 {"name": container, "containerID": f"containerd://{container_id(name)}"}]}}
            for name, (container, _gpus) in PODS.items()]


class ApiServer(ThreadingHTTPServer):
    """GET /api/v1/pods: a list, or (watch=1) a watch that stays open until it times out."""

    daemon_threads = True

    def __init__(self, node: str):
        super().__init__(("127.0.0.1", 0), _ApiHandler)
        self.node, self.stopping = node, threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _ApiHandler(BaseHTTPRequestHandler):
    server: ApiServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json(401, {"kind": "Status", "message": "Unauthorized"})
        if url.path != "/api/v1/pods":
            return self._json(404, {"kind": "Status", "message": "not found"})
        selected = params.get("fieldSelector") == f"spec.nodeName={self.server.node}"
        if params.get("watch") != "1":
            return self._json(200, {"kind": "PodList", "metadata": {"resourceVersion": "1"},
                                    "items": pod_objects(self.server.node) if selected else []})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.server.stopping.wait(float(params.get("timeoutSeconds", "300")))

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reports what matters."""


def procfs(root: Path) -> Path:
    """A procfs view with the pods' GPU processes; everything else is the real /proc."""
    root.mkdir(parents=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or entry == "1":  # PID 1 for mounts; no other real process
            (root / entry).symlink_to(Path("/proc", entry))
    for name, (_container, gpus) in PODS.items():
        slice_uid = uid(name).replace("-", "_")
        cgroup = (f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                  f"{slice_uid}.slice/cri-containerd-{container_id(name)}.scope\n")
        for gpu in gpus:
            pid = FAKE_PID_BASE + gpu
            (root / str(pid)).mkdir()
            (root / str(pid) / "cgroup").write_text(cgroup)
            fields = ["S", *["1"] * 18, str(1000 + pid), "0"]  # field 22: start time
            (root / str(pid) / "stat").write_text(f"{pid} (python3) {' '.join(fields)}\n")
    return root


class RenamingProxy(ThreadingHTTPServer):
    """Serves `upstream`, without the lines of family `dropped` after `keep` scrapes."""

    daemon_threads = True

    def __init__(self, upstream: str, dropped: str, keep: int = 2):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream, self.dropped, self.keep = upstream, dropped, keep
        self.scrapes = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/metrics"

    def body(self) -> bytes:
        with urllib.request.urlopen(self.upstream, timeout=5) as resp:
            text = resp.read().decode()
        self.scrapes += 1
        if self.scrapes > self.keep:
            text = "".join(line for line in text.splitlines(keepends=True)
                           if self.dropped not in line.split("{")[0])
        return text.encode()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: RenamingProxy

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        data = self.server.body()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reports what matters."""


def serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
