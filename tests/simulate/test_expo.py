"""The exposition writers on hand-built families: each library's number and order habits."""

from __future__ import annotations

from inferwatch.simulate.engines.expo import (
    HistValue,
    cpp_text,
    family,
    llamacpp_text,
    python_text,
    rust_text,
    shortest,
)
from inferwatch.simulate.engines.stats import Histogram, quantile

HIST = HistValue((0.1, 1.0), (1.0, 3.0, 4.0), 2.5)


def test_shortest_numbers_as_cpp_and_rust_write_them() -> None:
    assert [shortest(v) for v in (0.0, 512.0, 0.4875, 1.7e15, float("inf"), 1e-5)] == [
        "0", "512", "0.4875", "1700000000000000", "+Inf", "0.00001"]


def test_python_text_counter_total_and_created() -> None:
    text = python_text([family("x:c", "counter", "C.", [((("b", "1"), ("a", "2")), 3.0)])],
                       created=100.0).decode()
    assert text == ('# HELP x:c_total C.\n# TYPE x:c_total counter\nx:c_total{a="2",b="1"} 3.0\n'
                    '# HELP x:c_created C.\n# TYPE x:c_created gauge\n'
                    'x:c_created{a="2",b="1"} 100.0\n')


def test_cpp_text_puts_count_and_sum_first_and_le_last() -> None:
    text = cpp_text([family("h", "histogram", "H.", [((("z", "1"), ("a", "2")), HIST)])])
    assert text.decode().splitlines()[2:] == [
        'h_count{a="2",z="1"} 4', 'h_sum{a="2",z="1"} 2.5', 'h_bucket{a="2",z="1",le="0.1"} 1',
        'h_bucket{a="2",z="1",le="1"} 3', 'h_bucket{a="2",z="1",le="+Inf"} 4']


def test_rust_text_orders_by_type_then_name_with_blank_lines() -> None:
    fams = [family("b", "gauge", None, [((), 1.5)]), family("a", "counter", "A", [((), 2.0)])]
    expected = "# HELP a A\n# TYPE a counter\na 2\n\n# TYPE b gauge\nb 1.5\n\n"
    assert rust_text(fams).decode() == expected


def test_llamacpp_text_uses_six_significant_digits() -> None:
    text = llamacpp_text([family("llamacpp:n", "counter", "N", [((), 1234567.0)])]).decode()
    assert text.endswith("llamacpp:n 1.23457e+06\n")


def test_histogram_bounds_are_inclusive_and_quantile_interpolates() -> None:
    h = Histogram((1.0, 2.0))
    h.observe(1.0)
    h.observe(1.5, 3)
    h.observe(9.0)
    assert h.cumulative() == [1, 4, 5] and h.sum == 14.5
    assert quantile((1.0, 2.0), [1, 4, 5], 0.5) == 1.5
    assert quantile((1.0, 2.0), [1, 4, 5], 0.99) == 2.0
