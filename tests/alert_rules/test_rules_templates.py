"""The template renderer on its own: queries answered once per evaluation, a failing query or
template rendered as Prometheus's error text, hostile templates bounded, `rules check`'s
parse errors. (Agreement with a real Prometheus: test_rules_templates_prometheus.py.)"""

from __future__ import annotations

from inferwatch.alert_rules.templates import MAX_QUERIES, expand_async, render, template_problems

LABELS = {"target": "a", "model": "m"}


async def test_each_query_runs_once_and_is_shared_through_the_cache() -> None:
    asked: list[str] = []

    async def query(q: str) -> list[tuple[dict[str, str], float]]:
        asked.append(q)
        return [({"target": "a"}, 2.5)] if "x" in q else []

    cache: dict = {}
    text = ('{{ with printf "x{target=%q}" $labels.target | query }}{{ . | first | value }}'
            '{{ end }}/{{ with query "y" }}some{{ else }}none{{ end }}/'
            '{{ with printf "x{target=%q}" $labels.target | query }}{{ . | first | value }}'
            '{{ end }}')
    assert await expand_async(text, LABELS, 0.5, query, cache) == "2.5/none/2.5"
    assert await expand_async(text, LABELS, 0.5, query, cache) == "2.5/none/2.5"
    assert asked == ['x{target="a"}', "y"]


async def test_a_failing_query_is_the_template_error_prometheus_writes() -> None:
    async def query(q: str) -> list[tuple[dict[str, str], float]]:
        raise RuntimeError("bad_data: parse error")

    got = await expand_async('{{ query "sum(" }}', LABELS, 1.0, query, {}, name="A")
    assert got == ("<error expanding template: error executing template __alert_A: "
                   "error calling query: bad_data: parse error>")


async def test_the_number_of_queries_is_bounded() -> None:
    async def query(q: str) -> list[tuple[dict[str, str], float]]:
        return [({}, 1.0)]

    text = "".join(f'{{{{ query "q{i}" | len }}}}' for i in range(MAX_QUERIES + 5))
    got = await expand_async(text, LABELS, 1.0, query, {})
    assert got == f"<error expanding template: more than {MAX_QUERIES} queries>"


def test_first_on_nothing_and_endless_ranges_end_in_error_text() -> None:
    got = render('{{ query "q" | first | value }}', LABELS, 1.0, lambda q: [], name="A")
    assert got.endswith("error calling first: first() called on vector with no elements>")
    huge = "{{ range $a := query \"q\" }}{{ range $b := query \"q\" }}.{{ end }}{{ end }}"
    many = [({}, 1.0)] * 1000
    assert render(huge, LABELS, 1.0, lambda q: many).startswith("<error expanding template")


def test_rules_check_names_what_does_not_parse() -> None:
    assert template_problems("{{ $labels.x }} {{ $value | humanize }}") == []
    assert template_problems("{{ if $value }}open") == [
        "template does not parse: unexpected EOF in if"]
    assert template_problems("{{ nosuch }}") == [
        'template does not parse: function "nosuch" not defined']
    assert template_problems("{{ $labels.x ") == ["template does not parse: unclosed action"]
