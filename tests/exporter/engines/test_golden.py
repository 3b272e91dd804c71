"""Golden tests: each captured engine body (read from ../shared/testdata/engines, skipped where
that folder is absent), each of our own fixtures (tests/testdata/engines) and each simulated
kind maps to exactly the normalised series on file.
Regenerate with `python -m tests.exporter.engines.regen` and review the diff."""

from __future__ import annotations

import pytest
from engine_cases import GOLDEN, cases, render

CASES = list(cases())


@pytest.mark.parametrize(("name", "body"), CASES, ids=[n for n, _ in CASES])
def test_golden(name: str, body: bytes | None) -> None:
    if body is None:
        pytest.skip("captured engine bodies absent (../shared/testdata/engines)")
    expected = (GOLDEN / f"{name}.prom").read_text()
    assert render(body).decode() == expected
