"""Regenerate the golden files: `python -m tests.exporter.engines.regen` (from the repo root).

Review the diff before committing: a changed golden file is a changed published series."""

from __future__ import annotations

import sys

from tests.exporter.engines.engine_cases import GOLDEN, cases, render


def main() -> int:
    GOLDEN.mkdir(exist_ok=True)
    for name, body in cases():
        if body is None:
            print(f"skipped {name}: capture absent", file=sys.stderr)
            continue
        (GOLDEN / f"{name}.prom").write_bytes(render(body))
        print(f"wrote {GOLDEN.name}/{name}.prom")
    return 0


if __name__ == "__main__":
    sys.exit(main())
