"""The exporter command's own failure modes: a taken port is a clear error, not a traceback."""

from __future__ import annotations

import socket
import subprocess

from tests.support.procs import PYTHON


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [PYTHON, "-m", "inferwatch.cli", "exporter", "--simulate-gpus", "1",
             "--web.listen-address", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr and "listening on" not in run.stderr
