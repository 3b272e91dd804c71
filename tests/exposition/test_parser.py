"""The engine /metrics parser gives prometheus_client's samples, or a ParseError with a line."""

from __future__ import annotations

import contextlib
import math
import random
import re
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.exposition.parser import Family, ParseError, parse
from tests.support.procs import SHARED

ENGINES = SHARED / "testdata" / "engines"
CAPTURED = sorted(ENGINES.glob("*.prom"))
# these tests read the captured pages in ../shared/testdata in place and skip without them
needs_captured = pytest.mark.skipif(not ENGINES.is_dir(), reason=f"{ENGINES} is absent")

Row = tuple[str, tuple[tuple[str, str], ...], object]


def _value(value: float) -> object:
    """A value that compares equal to itself, NaN included."""
    return "NaN" if math.isnan(value) else float(value)


def theirs(text: str) -> list[Row]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), _value(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    )


def ours(text: str | bytes) -> list[Row]:
    return sorted(
        (name, labels, _value(value))
        for family in parse(text).values()
        for name, labels, value in family.samples
    )


def their_families(text: str) -> dict[str, tuple[str, str, list[Row]]]:
    """prometheus_client's families merged by name as ours are: name -> (type, help, rows)."""
    merged: dict[str, tuple[str, str, list[Row]]] = {}
    for family in text_string_to_metric_families(text):
        typ = "untyped" if family.type == "unknown" else family.type
        rows = [(s.name, tuple(sorted(s.labels.items())), _value(s.value)) for s in family.samples]
        if family.name in merged:
            first_type, first_help, first_rows = merged[family.name]
            typ = typ if first_type == "untyped" and not first_rows else first_type
            merged[family.name] = (typ, first_help or family.documentation, first_rows + rows)
        else:
            merged[family.name] = (typ, family.documentation, rows)
    return {name: (typ, doc, sorted(rows)) for name, (typ, doc, rows) in merged.items()}


def our_families(text: str) -> dict[str, tuple[str, str, list[Row]]]:
    return {
        name: (f.type, f.help, sorted((n, labels, _value(v)) for n, labels, v in f.samples))
        for name, f in parse(text).items()
    }


def assert_same_as_prometheus_client(text: str) -> None:
    assert ours(text) == theirs(text)
    assert our_families(text) == their_families(text)


def test_the_captured_engine_bodies_are_there() -> None:
    """Reads ../shared/testdata (the captured pages, read in place); skips without it."""
    if not ENGINES.is_dir():
        pytest.skip(f"{ENGINES} is absent")
    assert len(CAPTURED) >= 7, f"expected the captured engine pages in {ENGINES}"


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_captured_body_parses_like_prometheus_client(path: Path) -> None:
    text = path.read_text()
    try:
        expected = theirs(text)
    except ValueError:
        with pytest.raises(ParseError):
            parse(text)
        return
    assert ours(text) == expected
    assert ours(path.read_bytes()) == expected
    assert our_families(text) == their_families(text)


@needs_captured
def test_indented_source_truncated_body_parses_what_is_there() -> None:
    """The AIBrix page keeps its RST indentation and stops inside a histogram."""
    families = parse((ENGINES / "vllm-aibrix-runtime-docs-v0.prom").read_bytes())
    buckets = families["vllm:iteration_tokens_total"].samples
    assert families["vllm:iteration_tokens_total"].type == "histogram"
    assert buckets[-1][0] == "vllm:iteration_tokens_total_bucket"
    assert dict(buckets[-1][1])["le"] == "96.0"
    assert "vllm:cache_config_info" in families  # a TYPE line with no HELP opens the body


@needs_captured
def test_triton_counters_without_total_are_named_as_prometheus_client_names_them() -> None:
    families = parse((ENGINES / "triton-core-trtllm-backend-readme.prom").read_text())
    success = families["nv_inference_request_success"]
    assert success.type == "counter"
    assert {name for name, _, _ in success.samples} == {"nv_inference_request_success_total"}


@needs_captured
def test_vllm_counter_families_drop_total_and_created_series_are_gauges() -> None:
    families = parse((ENGINES / "vllm-kserve-odc-context-nixl.prom").read_text())
    assert families["vllm:prompt_tokens"].type == "counter"
    assert families["vllm:prompt_tokens"].samples[0][0] == "vllm:prompt_tokens_total"
    assert families["vllm:prompt_tokens_created"].type == "gauge"
    assert families["vllm:iteration_tokens_total"].type == "histogram"


QUIRKS = {
    "nan-and-infinities": (
        '# TYPE g gauge\ng{k="a"} NaN\ng{k="b"} +Inf\ng{k="c"} -Inf\ng{k="d"} nan\n'
        'g{k="e"} Inf\ng{k="f"} -inf\n'
    ),
    "escaped-label-values": (
        'g{path="C:\\\\dir\\\\",quote="say \\"hi\\"",nl="a\\nb",other="\\t stays",end="\\\\"} 1\n'
    ),
    "exponent-floats": "a 1.048576e+06\nb 1.15891634176e+011\nc -1.5E-3\nd 1e3\ne -0\nf 1e400\n",
    "le-first": (
        '# TYPE h histogram\nh_bucket{le="0.1",model_name="m"} 1\n'
        'h_bucket{le="+Inf",model_name="m"} 2\nh_sum{model_name="m"} 0.2\n'
        'h_count{model_name="m"} 2\n'
    ),
    "le-middle": (
        '# TYPE h histogram\nh_bucket{engine="0",le="0.1",model_name="m"} 1\n'
        'h_bucket{engine="0",le="+Inf",model_name="m"} 2\n'
    ),
    "le-last": (
        '# TYPE h histogram\nh_bucket{model="m",version="1",le="1"} 1\n'
        'h_bucket{model="m",version="1",le="+Inf"} 1\n'
    ),
    "le-only": (
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 3\nh_count 1\n'
    ),
    "le-with-trailing-comma": (
        '# TYPE h histogram\nh_bucket{a="1",le="1",} 1\nh_bucket{le="2",} 2\n'
    ),
    "le-text-inside-values": (
        '# TYPE h histogram\nh_bucket{a="x,le=",le="1"} 1\nh_bucket{a="le=\\"2\\"",le="2"} 2\n'
        'h_bucket{handle="1",le="3"} 3\nh_bucket{a="1", le="4"} 4\n'
    ),
    "sum-before-buckets-le-before-model": (
        "# HELP h tokens\n# TYPE h histogram\n"
        'h_sum{model_name="m"} 1103.0\nh_bucket{le="1.0",model_name="m"} 994.0\n'
        'h_bucket{le="+Inf",model_name="m"} 998.0\nh_count{model_name="m"} 998.0\n'
    ),
    "blank-lines": "\n\n# HELP a x\n\n# TYPE a gauge\n\na 1\n   \n\t\n\nb 2\n\n",
    "type-without-help": "# TYPE tgi_queue_size gauge\ntgi_queue_size 3\n",
    "no-trailing-newline": '# TYPE a gauge\na{x="1"} 2',
    "colons-in-names": (
        "# TYPE vllm:num_requests_running gauge\n"
        'vllm:num_requests_running{model_name="m"} 1\nsglang:token_usage 0.5\n'
    ),
    "timestamps": 'a 1 1700000000000\nb{x="1"} 2 -5\nc{x="1"}\t3\t1700000000000\nd 4  17\n',
    "summary": (
        "# HELP s latency\n# TYPE s summary\n"
        's_count{model="m"} 161\ns_sum{model="m"} 11110\n'
        's{model="m",quantile="0.5"} 55\ns{model="m",quantile="0.99"} 101\n'
    ),
    "counter-without-total": (
        "# HELP nv_inference_count Number of inferences\n# TYPE nv_inference_count counter\n"
        'nv_inference_count{model="m",version="1"} 8\n'
    ),
    "counter-with-total-and-created": (
        "# HELP vllm:prompt_tokens_total Prefill tokens.\n"
        "# TYPE vllm:prompt_tokens_total counter\n"
        'vllm:prompt_tokens_total{engine="0",model_name="m"} 271874.0\n'
        "# HELP vllm:prompt_tokens_created Prefill tokens.\n"
        "# TYPE vllm:prompt_tokens_created gauge\n"
        'vllm:prompt_tokens_created{engine="0",model_name="m"} 1.7840234492974277e+09\n'
    ),
    "total-sample-under-bare-counter": "# TYPE foo counter\nfoo_total 1\n",
    "created-without-type": "# TYPE c_total counter\nc_total 1\nc_created 1.7e9\nc_created 1.8e9\n",
    "untyped-samples-merge": 'a 1\nb 2\na{x="2"} 3\n',
    "family-declared-twice": (
        '# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na{x="2"} 2\n'
    ),
    "lone-help-later": "# TYPE a gauge\na 1\n# HELP b x\n# HELP a said later\n",
    "help-escapes": '# HELP a one\\ntwo back\\\\slash \\"kept\\"\n# TYPE a gauge\na 1\n',
    "help-without-text": "# HELP a\n# TYPE a gauge\na 1\n",
    "blanks-inside-labels": 'a{ x = "1" , y="2", } 1\nb{,x="1"} 2\nc{} 3\nd {x="1"} 4\n',
    "tabs": 'a\t1\nb{x="1"}\t2\n#\tTYPE c\tgauge\nc 3\n',
    "empty-and-unicode-values": 'a{x="",y="ünï ☃ 模型 }{,="} 1\n',
    "no-blank-before-value": 'a{x="1"}1\n',
    "plain-comments": "# just a comment\n#\n# HELP\n# TYPE a gauge\na 1\n#TYPE b counter\nb 1\n",
    "crlf-and-indentation": '    # TYPE a gauge\r\n    a{x="1"} 1\r\n\r\n    b 2\r\n',
    "duplicate-series": 'a{x="1"} 1\na{x="1"} 2\n',
    "large-integers": "a 123456789012345678\nb 9007199254740993\n",
}


@pytest.mark.parametrize("text", QUIRKS.values(), ids=QUIRKS.keys())
def test_quirk_parses_like_prometheus_client(text: str) -> None:
    assert_same_as_prometheus_client(text)


def test_samples_are_name_sorted_labels_and_float() -> None:
    families = parse(b'# TYPE h histogram\nh_bucket{model="m",le="0.5",engine="0"} 3\n')
    assert families == {
        "h": Family(
            "h",
            "histogram",
            "",
            [("h_bucket", (("engine", "0"), ("le", "0.5"), ("model", "m")), 3.0)],
        )
    }
    assert isinstance(families["h"].samples[0][2], float)


def test_label_order_on_the_wire_does_not_matter() -> None:
    a, b = (parse(t)["x"].samples[0][1] for t in ('x{b="2",a="1"} 1', 'x{a="1",b="2"} 1'))
    assert a == b == (("a", "1"), ("b", "2"))


def test_unescaped_values_and_help() -> None:
    families = parse(QUIRKS["escaped-label-values"] + QUIRKS["help-escapes"])
    assert dict(families["g"].samples[0][1]) == {
        "path": "C:\\dir\\",
        "quote": 'say "hi"',
        "nl": "a\nb",
        "other": "\\t stays",
        "end": "\\",
    }
    assert families["a"].help == 'one\ntwo back\\slash \\"kept\\"'


MALFORMED = [
    ('foo{a="b"', "closing"),
    ('foo{a="b} 1', "label set"),
    ("foo{a=b} 1", "label set"),
    ('foo{a="b",a="c"} 1', "duplicate"),
    ('foo_bucket{le="1",le="2"} 1', "duplicate"),
    ('foo_bucket{x="1",le="1",le="2"} 1', "duplicate"),
    ('foo_bucket{le="1",,x="2"} 1', "label set"),
    ('foo{a="b" c="d"} 1', "label set"),
    ('foo{,,a="b"} 1', "label set"),
    ('foo{__name__="x"} 1', "label set"),
    ('foo{__reserved="x"} 1', "label set"),
    ('foo{a="1"}} 1', "label set"),
    ("foo 1_000", "invalid value"),
    ("foo abc", "invalid value"),
    ('foo{a="b"} 1 later', "invalid value"),
    ("foo", "no value"),
    ('foo{a="b"}', "no value"),
    ("1foo 1", "invalid metric name"),
    ("foo} 1", "invalid metric name"),
    ('{a="b"} 1', "invalid metric name"),
    ("# TYPE foo", "without a type"),
    ("# TYPE foo bogus", "unknown metric type"),
    ("# TYPE foo gauge extra", "unknown metric type"),
    ("# HELP foo-bar doc", "invalid metric name"),
    ("# TYPE 1foo gauge", "invalid metric name"),
]


@pytest.mark.parametrize(("line", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_line_is_refused_with_its_line_number(line: str, reason: str) -> None:
    text = f"# TYPE ok gauge\nok 1\n{line}\nfine 3\n"
    with pytest.raises(ValueError):
        theirs(text)
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert caught.value.lineno == 3
    assert reason in caught.value.reason
    assert str(caught.value).startswith("line 3: ")


def test_invalid_utf8_is_refused_with_its_line_number() -> None:
    with pytest.raises(ParseError) as caught:
        parse(b'a 1\nb{x="\xff"} 2\n')
    assert (caught.value.lineno, caught.value.reason) == (2, "invalid UTF-8")


DELIBERATE = {
    "quoted-utf8-name": '{"my.metric"} 1\n',
    "name-in-labels": '{__name__="foo"} 1\n',
    "dash-in-name-with-labels": 'foo-bar{a="b"} 1\n',
    "colon-in-label-name": 'foo{a:b="1"} 1\n',
    "blank-label-term": 'foo{a="1", ,b="2"} 1\n',
    "three-fields": "foo 1 2 3\n",
    "openmetrics-exemplar": 'foo_total{a="b"} 1 # {trace_id="x"} 1\n',
    "openmetrics-type": "# TYPE foo info\nfoo 1\n",
    "type-after-samples": "# HELP foo doc\nfoo 1\n# TYPE foo counter\n",
    "family-type-conflict": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a summary\na 2\n",
    "untyped-then-typed": "a_created 1\n# TYPE a_created gauge\na_created 2\n",
}


@pytest.mark.parametrize("text", DELIBERATE.values(), ids=DELIBERATE.keys())
def test_deliberately_stricter_than_prometheus_client(text: str) -> None:
    assert theirs(text)
    with pytest.raises(ParseError):
        parse(text)


def test_hash_without_blank_is_a_comment_not_a_type_line() -> None:
    """prometheus_client reads `#x TYPE foo counter` as a TYPE line; Go's parser and we don't."""
    text = "#x TYPE foo counter\nfoo 1\n"
    assert [s[0] for s in theirs(text)] == ["foo_total"]
    assert parse(text) == {"foo": Family("foo", "untyped", "", [("foo", (), 1.0)])}


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_body_cut_after_a_complete_line_parses_what_is_there(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    for end in range(1, len(lines), max(1, len(lines) // 25)):
        assert_same_as_prometheus_client("".join(lines[:end]))


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_body_cut_anywhere_is_refused_exactly_when_prometheus_client_refuses(path: Path) -> None:
    text = path.read_text()
    rng = random.Random(path.name)
    last_lines = range(text.rstrip("\n").rfind("\n", 0, len(text) - 2), len(text))
    for cut in sorted({*last_lines, *rng.sample(range(len(text)), 25)}):
        body = text[:cut]
        try:
            expected = theirs(body)
        except ValueError:
            with pytest.raises(ParseError):
                parse(body)
            continue
        assert ours(body) == expected, f"cut at {cut}: {body[-80:]!r}"


# Label sets prometheus_client takes and we refuse: colons in label names, blank terms.
_LAX_LABELS = re.compile(
    r'\s*(?:,\s*)*(?:[a-zA-Z_:][a-zA-Z0-9_:]*\s*=\s*"(?:[^"\\]|\\.)*"\s*(?:,\s*)*)*'
)


def _documented_difference(body: str, error: ParseError | None) -> bool:
    """Whether a disagreement on `body` is one of those the parser's docstring lists."""
    if any(re.match(r"\s*#[^ \t]", line) for line in body.split("\n")):
        return True  # `#x TYPE ...`: a comment for us
    if error is None:
        return False
    if error.reason.startswith("invalid label set"):
        text = body.split("\n")[error.lineno - 1]
        return bool(_LAX_LABELS.fullmatch(text[text.index("{") + 1 : text.rindex("}")]))
    return error.reason.startswith(
        ("invalid metric name", "unexpected text after the value", "family ")
    )


@needs_captured
def test_mutated_lines_agree_with_prometheus_client_or_differ_as_documented() -> None:
    seeds = [line for path in CAPTURED for line in path.read_text().splitlines() if line]
    seeds += [line for text in QUIRKS.values() for line in text.splitlines() if line]
    alphabet = ' \t{}=",\\#:_.eE+-019anNlI\r\x0b'
    rng = random.Random(20240823)
    for _ in range(3000):
        lines = rng.sample(seeds, rng.randint(1, 3))
        i = rng.randrange(len(lines))
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(lines[i]))
            edit = rng.choice((rng.choice(alphabet), "", lines[i][at : at + 3]))
            lines[i] = lines[i][:at] + edit + lines[i][at + (edit == "") :]
        body = "\n".join(lines)
        try:
            expected: list[Row] | None = theirs(body)
        except ValueError:
            expected = None
        try:
            got, error = ours(body), None
        except ParseError as err:
            got, error = None, err
        if got != expected:
            assert _documented_difference(body, error), (body, expected, got, error)


PATHOLOGICAL = {
    "blanks-in-labels": "a{" + " " * 200_000 + 'b="1"} 1',
    "backslashes-in-value": 'a{b="' + "\\" * 200_001 + '"} 1',
    "many-labels": "a{" + "".join(f'l{i}="{i}",' for i in range(20_000)) + "} 1",
    "long-name": "a" * 1_000_000 + " 1",
    "braces": "{" * 500_000,
    "closing-braces": 'a{b="1"' + "}" * 200_000 + " 1",
    "unclosed-quotes": 'a{b="' + 'x",c="' * 50_000,
    "help-backslashes": "# HELP a " + "\\" * 200_000,
    "many-blank-fields": "a " + " \t" * 200_000 + "1",
}


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_line_is_answered_in_linear_time(text: str) -> None:
    start = time.perf_counter()
    with contextlib.suppress(ParseError):
        parse(text)
    assert time.perf_counter() - start < 2.0


@needs_captured
def test_size_cap_refuses_larger_bodies() -> None:
    text = (ENGINES / "vllm-mindie-pymotor-metrics-example.prom").read_text()
    assert parse(text, max_bytes=len(text))
    with pytest.raises(ParseError) as caught:
        parse(text, max_bytes=len(text) - 1)
    assert caught.value.lineno == 0
    snowman = "a 1\n# HELP b ☃\n"  # 15 characters, 17 bytes
    assert parse(snowman, max_bytes=15)
    with pytest.raises(ParseError):
        parse(snowman.encode(), max_bytes=15)


def test_series_cap_counts_every_sample() -> None:
    text = "# TYPE a gauge\na 1\nb 2\nb 3\n# TYPE h histogram\nh_bucket{le='1'} 1\n".replace(
        "'", '"'
    )
    assert sum(len(f.samples) for f in parse(text, max_series=4).values()) == 4
    with pytest.raises(ParseError) as caught:
        parse(text, max_series=3)
    assert "more than 3 samples" in caught.value.reason
