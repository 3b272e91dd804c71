"""Regenerate podresources_pb2.py and podresources_pb2_grpc.py from podresources.proto.

    python -m inferwatch.exporter.kube.podresources_gen            # rewrite the committed files
    python -m inferwatch.exporter.kube.podresources_gen --check    # exit 1 when they are stale

Needs grpcio-tools (the test extra's pinned version: the generated code names it). The proto is
mapped to inferwatch/exporter/kube/ so the generated gRPC module imports its messages by their
installed name; protoc writes under that tree in a temporary folder, then the files are copied.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO = "podresources.proto"
OUTPUTS = ("podresources_pb2.py", "podresources_pb2_grpc.py")
VIRTUAL = "inferwatch/exporter/kube"


def protoc_args(out: Path) -> list[str]:
    """The grpc_tools.protoc command line (after the program name) writing under `out`."""
    return [f"--proto_path={VIRTUAL}={HERE}", f"--python_out={out}",
            f"--grpc_python_out={out}", str(HERE / PROTO)]


def generate() -> dict[str, bytes]:
    """The generated files' contents, by file name."""
    from grpc_tools import protoc  # test/dev only: not a runtime dependency

    with tempfile.TemporaryDirectory() as tmp:
        code = protoc.main(["grpc_tools.protoc", *protoc_args(Path(tmp))])
        if code != 0:
            raise RuntimeError(f"grpc_tools.protoc exited {code}")
        return {name: (Path(tmp) / VIRTUAL / name).read_bytes() for name in OUTPUTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = [n for n, data in generate().items()
             if not (HERE / n).exists() or (HERE / n).read_bytes() != data]
    if args.check:
        for name in stale:
            print(f"{HERE / name}: stale; run python -m inferwatch.exporter.kube.podresources_gen")
        return 1 if stale else 0
    for name, data in generate().items():
        (HERE / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
