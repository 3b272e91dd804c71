"""Runs one promtool unit-test file through `promtool test rules` (Prometheus 2.42) and through
`inferwatch rules test` (in process) and reads both outputs back: each failed expression test
as its samples (values printed with strconv 'E' -1, the shortest round trip, so float() gives
back Prometheus's very bits) or as an error, and each alert test's block of text."""

from __future__ import annotations

import io
import math
import re
import subprocess
from pathlib import Path

import yaml

from inferwatch.alert_rules.ruletest import run_files
from tests.support.procs import need_binary

CASE = re.compile(r'^    expr: (".*"), time: (\S+?),(?: err: (.*))?$')
SAMPLE = re.compile(r'(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\}) (\S+?)(?:, |$)')
ALERT = re.compile(r"^    alertname: (\S+), time: (\S+), $")


def write_suite(path: Path, suite: dict) -> Path:
    path.write_text(yaml.safe_dump(suite, sort_keys=False, width=1 << 20), encoding="utf-8")
    return path


def promtool(path: Path) -> tuple[int, str, str]:
    result = subprocess.run([need_binary("promtool"), "test", "rules", path.name],
                            cwd=path.parent, capture_output=True, text=True, timeout=120,
                            check=False)
    return result.returncode, result.stdout, result.stderr


def inferwatch(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    import os
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        code = run_files([path.name], out, err)
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


Answer = dict[str, float] | str  # samples by Go's label text, or an error's text


def answers(stderr: str) -> dict[tuple[str, str], Answer]:
    """(expr, time) → what the failed expression test got."""
    out: dict[tuple[str, str], Answer] = {}
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        case = CASE.match(line)
        if not case:
            continue
        key = (case[1], case[2])
        if case[3] is not None:
            out[key] = "error: " + case[3]
            continue
        got = lines[i + 2].strip().removeprefix("got: ")
        out[key] = {} if got == "nil" else {lb: float(v) for lb, v in SAMPLE.findall(got)}
    return out


def alert_blocks(stderr: str) -> dict[tuple[str, str], str]:
    """(alertname, time) → the exp/got text promtool printed for it."""
    out: dict[tuple[str, str], str] = {}
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        match = ALERT.match(line)
        if match:
            j = i + 1
            while j < len(lines) and not (CASE.match(lines[j]) or ALERT.match(lines[j])):
                j += 1
            out[(match[1], match[2])] = "\n".join(lines[i + 1:j]).strip()
    return out


def ulps_apart(a: float, b: float) -> float:
    if a == b or math.isnan(a) and math.isnan(b):
        return 0.0
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))


def same_bits(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b))
