"""Proof: a real Prometheus scrapes the real exporter, and every panel query returns data.

Each query, with its dashboard variables substituted (filters to `.*`, custom variables to their
defaults, `$__rate_interval` to 15s), must be accepted by Prometheus and return at least one
series. Engine panels read the exporter's engine collectors (`--engine KIND=URL`, refreshed
every second so that rate() windows see several refreshes) fed by `inferwatch simulate-engine`
of several kinds; they are proven like every other panel. Per-pod GPU memory and discovery
panels read the pods collector and the pod watch, fed by fake_cluster's loopback API server
and procfs view; the engine-source-lost panels read a vLLM target whose preemption counter
disappears after two scrapes (fake_cluster.RenamingProxy). The cost panels read the default
pack's `inferwatch-cost` recording rules, which Prometheus loads (the group evaluated every
second); the vLLM and SGLang targets are the fake cluster's pods, as discovery would label them.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import fake_cluster
import pytest
import yaml
from dashboard_queries import dashboards, metric_names, panels

from inferwatch import catalog
from inferwatch.alert_rules.compile import write_outputs
from inferwatch.alert_rules.rulefile import load_file
from inferwatch.alert_rules.runconfig import DEFAULT_PACK
from inferwatch.dashboards import cost, facts
from inferwatch.dashboards.promql import sel
from tests.support.procs import PYTHON, ROOT, free_port, need_binary, wait_http

pytestmark = pytest.mark.ecosystem

# Simulated kinds: a prefill SGLang and a NIXL decode vLLM (role from the config, as vLLM does
# not say it) beside the unified ones, for the disaggregation panels; a vLLM with LoRA and
# speculative decoding and an SGLang with speculative decoding for the features row.
ENGINE_KINDS = ("vllm", "sglang", "tgi", "sglang-prefill", "vllm-nixl-decode", "vllm-lora-spec",
                "sglang-spec")
EXPORTER_KINDS = {"sglang-prefill": "sglang", "vllm-nixl-decode": "vllm",
                  "vllm-lora-spec": "vllm", "sglang-spec": "sglang"}
ROLES = {"vllm-nixl-decode": {"role": "decode"}}
NODE = "node-a"
# A vLLM family served for the first scrapes only, as an upgrade that renames it would: the
# exporter then reports its concept's source as lost.
RENAMED = "vllm:num_preemptions"
BUILTINS = {"__rate_interval": "15s", "__range": "1m", "__range_s": "60"}
SCRAPES = 5


def substitute(expr: str, dashboard: dict) -> str:
    """The query as Grafana would send it with every filter on All."""
    values = dict(BUILTINS)
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            values[var["name"]] = ".*"
        elif var["type"] == "custom":
            values[var["name"]] = var["current"]["value"]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


def cases() -> Iterator[object]:
    """Every panel query, substituted, with an id naming its dashboard, panel and refId."""
    for slug, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                yield pytest.param(substitute(target["expr"], dashboard),
                                   id=f"{slug}:{panel['title']}:{target['refId']}")


CASES = list(cases())


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)


def engine_simulators(tmp: Path) -> tuple[list[subprocess.Popen], dict[str, str]]:
    """One simulated engine per kind, and its /metrics URL by kind."""
    procs, urls = [], {}
    for kind in ENGINE_KINDS:
        port = free_port()
        procs.append(start([PYTHON, "-m", "inferwatch.cli", "simulate-engine", "--kind", kind,
                            "--web.listen-address", f"127.0.0.1:{port}", "--speed", "10"],
                           tmp / f"engine-{kind}.log"))
        urls[kind] = f"http://127.0.0.1:{port}/metrics"
    return procs, urls


def exporter_args(tmp: Path, port: int, engines: list[dict], api_url: str) -> list[str]:
    """The exporter a GPU node runs: GPUs, host, engines, pods and Kubernetes discovery."""
    token = tmp / "token"
    token.write_text(fake_cluster.TOKEN)
    config = tmp / "exporter.yml"
    config.write_text(json.dumps({"exporter": {"kubernetes": {"token_file": str(token)},
                                               "engines": engines}}))
    return [PYTHON, "-m", "inferwatch.cli", "exporter", "--config.file", str(config),
            "--simulate-gpus", "8", "--web.listen-address", f"127.0.0.1:{port}",
            "--collector.gpu.interval", "1s", "--collector.host.interval", "1s",
            "--collector.engines.interval", "1s", "--collector.pods",
            "--collector.pods.interval", "1s", "--path.procfs",
            str(fake_cluster.procfs(tmp / "proc")), "--kubernetes.discovery",
            "--kubernetes.node-name", NODE, "--kubernetes.api-url", api_url]


def cost_rules(tmp: Path) -> Path:
    """The pack's cost group, compiled, evaluated every second."""
    pack = yaml.safe_load(DEFAULT_PACK.read_text())
    (group,) = [g for g in pack["groups"] if g["name"] == "inferwatch-cost"]
    group = {**group, "interval": "1s"}
    (tmp / "cost.yml").write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    return next(p for p in write_outputs(load_file(tmp / "cost.yml"), tmp / "rules")
                if p.name.endswith(".rules.yml"))


def prometheus_config(target: str, rules: Path) -> str:
    return json.dumps({  # YAML is a superset of JSON
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "inferwatch", "static_configs": [
            {"targets": [target], "labels": {"cluster": "proof", "node": NODE}}]}]})


def query(base: str, expr: str) -> dict:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:  # 400/422: the query was refused; say why
        return json.load(err)


def wait_for_scrapes(base: str, timeout: float = 30.0) -> None:
    """Until every GPU and engine target was scraped SCRAPES times, pods have GPU memory and
    the renamed engine metric shows as a lost source."""
    deadline = time.monotonic() + timeout
    waits = [(catalog.GPU_UP, 8, SCRAPES), (catalog.ENGINE_UP, len(ENGINE_KINDS) + 1, SCRAPES),
             (catalog.GPU_POD_MEMORY_USED, 1, 1), (catalog.ENGINE_SOURCE_LOST, 1, 1)]
    for spec, least, scrapes in waits:
        expr = f'count_over_time({spec.name}{{job="inferwatch"}}[1m])'
        while not scraped(query(base, expr)["data"]["result"], least, scrapes):
            if time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not scrape {least} series of {spec.name} "
                            f"{scrapes} times within {timeout}s")
            time.sleep(0.5)
    for name in cost.RECORDED:
        while not query(base, name)["data"]["result"]:
            if time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not record {name} within {timeout}s")
            time.sleep(0.5)


def pod_of(kind: str) -> dict[str, str]:
    """The fake cluster's pod an engine kind runs in (its GPUs' processes are that pod's)."""
    pod = f"{kind}-0"
    return {"namespace": fake_cluster.NAMESPACE, "pod": pod} if pod in fake_cluster.PODS else {}


def scraped(result: list[dict], least: int, scrapes: int) -> bool:
    return len(result) >= least and min(float(r["value"][1]) for r in result) >= scrapes


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, str]]:
    """The loopback Kubernetes API server the exporter lists and watches this node's pods on."""
    api = fake_cluster.ApiServer(NODE)
    fake_cluster.serve(api)
    yield api.url
    api.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, cluster: str) -> Iterator[str]:
    binary = need_binary("prometheus")
    tmp = tmp_path_factory.mktemp("proof")
    procs, urls = engine_simulators(tmp)
    proxy = fake_cluster.RenamingProxy(urls["vllm"], RENAMED)
    fake_cluster.serve(proxy)
    engines = [{"kind": EXPORTER_KINDS.get(kind, kind), "url": url, **pod_of(kind),
                **ROLES.get(kind, {})} for kind, url in urls.items()]
    engines.append({"kind": "vllm", "url": proxy.url})
    exporter_port, prom_port = free_port(), free_port()
    procs.append(start(exporter_args(tmp, exporter_port, engines, cluster), tmp / "exporter.log"))
    config = tmp / "prometheus.yml"
    config.write_text(prometheus_config(f"127.0.0.1:{exporter_port}", cost_rules(tmp)))
    procs.append(start([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                        f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                       tmp / "prometheus.log"))
    try:
        wait_http(f"http://127.0.0.1:{exporter_port}/readyz", timeout=20)
        base = f"http://127.0.0.1:{prom_port}"
        wait_http(f"{base}/-/ready", timeout=20)
        wait_for_scrapes(base)
        yield base
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
        proxy.stop()


@pytest.mark.parametrize("expr", CASES)
def test_panel_query_is_accepted(prometheus: str, expr: str) -> None:
    answer = query(prometheus, expr)
    assert answer["status"] == "success", f"Prometheus refused {expr}: {answer.get('error')}"


@pytest.mark.parametrize("expr", CASES)
def test_panel_query_returns_series(prometheus: str, expr: str) -> None:
    answer = query(prometheus, expr)
    assert answer["status"] == "success" and answer["data"]["result"], f"no series for {expr}"


def test_every_named_metric_has_samples(prometheus: str) -> None:
    """Fallbacks like `or vector(0)` must not hide a metric the exporter never serves."""
    named = {n for case in CASES for n in metric_names(case.values[0])}
    missing = sorted(n for n in named
                     if not query(prometheus, f"count({n})")["data"]["result"])
    assert not missing, f"named by panels but never scraped: {missing}"


def panel_series(base: str, slug: str, title: str) -> list[dict[str, str]]:
    dashboard = dashboards()[slug]
    (panel,) = [p for p in panels(dashboard) if p["title"] == title]
    return [r["metric"] for r in query(base, substitute(panel["targets"][0]["expr"],
                                                        dashboard))["data"]["result"]]


def test_panels_by_model_facts_carry_what_the_engines_say(prometheus: str) -> None:
    """SGLang's /get_server_info says bfloat16 at TP 1; vLLM's and TGI's answers say no dtype:
    their rows have the facts empty, not guessed."""
    facts = ("model", "dtype", "quantization", "tensor_parallel_size")
    said = {tuple(r["metric"].get(k, "") for k in facts) for r in query(
        prometheus, f"group by ({', '.join(facts)}) ({catalog.ENGINE_MODEL_INFO.name})",
    )["data"]["result"]}
    for slug, title in (("engines", "TTFT p95 by model facts"),
                        ("cost", "Joules per token by model facts")):
        rows = {tuple(m.get(k, "") for k in facts) for m in panel_series(prometheus, slug, title)}
        assert rows <= said, (title, rows - said)
        assert any(r[1:] == ("bfloat16", "", "1") for r in rows), (title, rows)


def test_every_engine_series_finds_its_targets_facts(prometheus: str) -> None:
    """The engine join keys (facts.TARGET_JOIN) hold on what the exporter publishes: no
    engine's token counters drop out of the by-facts panels for want of a match."""
    dashboard = dashboards()["engines"]
    plain = sel(catalog.ENGINE_GENERATION_TOKENS)
    joined = facts.with_facts(plain)
    counts = [query(prometheus, substitute(f"count by (engine) ({e})", dashboard))
              ["data"]["result"] for e in (plain, joined)]
    by_engine = [{r["metric"]["engine"]: r["value"][1] for r in c} for c in counts]
    assert set(by_engine[0]) == {"vllm", "sglang", "tgi"}, by_engine
    assert by_engine[0] == by_engine[1], by_engine


def test_disaggregation_panels_split_by_role(prometheus: str) -> None:
    """SGLang's prefill engine says its role; the NIXL vLLM's comes from the config (decode);
    the others are both. The NIXL histogram is the decode side's, the prealloc queue prefill's."""
    roles = {m.get("role") for m in panel_series(prometheus, "engines",
                                                 "Running and waiting by role")}
    assert roles == {"prefill", "decode", "both"}
    queues = {(m.get("role"), m.get("queue")) for m in panel_series(
        prometheus, "engines", "Waiting by queue and role")}
    assert ("prefill", "prefill_prealloc") in queues, queues
    assert {m.get("role") for m in panel_series(prometheus, "engines",
                                                "KV transfer latency")} == {"decode"}


def test_speculative_decoding_and_lora_panels_read_what_the_engines_say(prometheus: str) -> None:
    """The LoRA/speculative vLLM accepts about half its draft tokens (0.7 per position after
    the previous one, 3 drafted: 0.511), SGLang's mean acceptance length lies between 1 and 4;
    the LoRA target runs at most its max_loras of 2; waiting by reason sums to waiting."""
    dashboard = dashboards()["engines"]

    def values(title: str, ref: int = 0) -> dict[str, float]:
        (panel,) = [p for p in panels(dashboard) if p["title"] == title]
        expr = substitute(panel["targets"][ref]["expr"], dashboard)
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1])
                for r in query(prometheus, expr)["data"]["result"]}

    (rate,) = values("Speculative decoding acceptance rate").values()
    assert 0.3 < rate < 0.7, rate
    (length,) = values("Mean acceptance length (engine's own)").values()
    assert 1 < length < 4, length
    (limit,) = values("LoRA adapters", 1).values()
    running = [v for k, v in values("LoRA adapters").items() if '"running"' in k]
    assert limit == 2 and len(running) == 1 and 0 <= running[0] <= limit
    by_reason, waiting = (f"sum by (target) ({sel(spec)})" for spec in (
        catalog.ENGINE_WAITING_BY_REASON, catalog.ENGINE_REQUESTS_WAITING))
    diff = query(prometheus, substitute(f"{by_reason} - on (target) {waiting}", dashboard))
    assert [float(r["value"][1]) for r in diff["data"]["result"]] == [0.0]
