"""The load model: one engine rank under offered load, stepped in fixed simulated time.

A pure, deterministic function of (config, scenario, seed, step count): arrivals are Poisson
per step, prompt and generation lengths log-normal, and a continuous-batching scheduler admits
waiting requests while running slots and KV-cache tokens allow. Prefill has a token budget per
second; decode speed falls as the batch grows; the KV cache grows by one token per generated
token and, when it overflows, the newest running requests are preempted (recomputed later,
as vLLM does). Every latency the engines export is observed into `Stats`.

Optional, off in the default config (and drawn from a random stream of their own, so turning
them on leaves arrivals and lengths as they were): LoRA adapters (`lora_adapters`, at most
`max_loras` of them in the running batch; a waiting request whose adapter would exceed that is
skipped, vLLM V1's scheduler's "deferred", the others wait for capacity) and speculative
decoding (`spec_tokens` drafted per step, each accepted with `spec_accept` while the ones
before it were: every draft emits its accepted tokens plus one, so generated tokens are drafts
plus accepted tokens).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from inferwatch.simulate.engines.scenarios import Scenario
from inferwatch.simulate.engines.stats import Stats

REASONS = ("stop", "length", "abort", "error")


@dataclass(frozen=True)
class EngineConfig:
    """Capacity and offered load of one engine rank (each data-parallel rank gets its own)."""

    kv_capacity_tokens: int = 65536
    block_size: int = 16
    max_running: int = 128
    max_model_len: int = 8192
    max_tokens: int = 512
    base_rate: float = 4.0
    prompt_median: float = 450.0
    prompt_sigma: float = 0.7
    gen_median: float = 160.0
    gen_sigma: float = 0.8
    prefill_tokens_per_s: float = 24000.0
    itl_base: float = 0.012
    itl_per_seq: float = 0.00035
    prefix_len: int = 128
    prefix_hit_prob: float = 0.7
    abort_prob: float = 0.01
    error_prob: float = 0.002
    dt: float = 0.1
    lora_adapters: tuple[str, ...] = ()
    max_loras: int = 0
    lora_share: float = 0.0
    spec_tokens: int = 0
    spec_accept: float = 0.0


@dataclass
class Request:
    arrival: float
    prompt: int
    target: int
    max_tokens: int
    reason: str
    cached: int
    scheduled: float = -1.0
    first_token: float = -1.0
    prefill_left: float = 0.0
    generated: float = 0.0
    emitted: int = 0
    kv: int = 0
    adapter: str = ""
    spec_ahead: int = 0


class LoadModel:
    """One engine rank; `advance_to(t)` steps it forward to simulated time `t`."""

    def __init__(self, config: EngineConfig, scenario: Scenario, seed: str,
                 stats: Stats) -> None:
        self.config, self.scenario, self.stats = config, scenario, stats
        self.rng = random.Random(seed)
        self.steps = 0
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.kv_used = 0
        self.prefilling = 0
        self.last_gen_tps = 0.0
        self.last_prompt_tps = 0.0
        self.last_itl = config.itl_base
        self.features = random.Random(f"{seed}:features")
        self.deferred = 0
        self.lora_seen: dict[tuple[str, str], float] = {}
        self.spec_last = (0, 0, 0)  # the last step's drafts, accepted and drafted tokens

    @property
    def t(self) -> float:
        return self.steps * self.config.dt

    @property
    def kv_usage(self) -> float:
        return self.kv_used / self.config.kv_capacity_tokens

    def advance_to(self, t: float) -> None:
        target = math.floor(t / self.config.dt + 1e-9)
        while self.steps < target:
            self.step()

    def step(self) -> None:
        t0 = self.t
        self._schedule(t0)
        busy = self._prefill(t0)
        self._decode(t0, busy)
        self._arrive(t0)
        self._preempt()
        if self.config.lora_adapters:
            self._lora_info(t0)
        self.steps += 1
        self.stats.add("steps")

    def _poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _arrive(self, t0: float) -> None:
        cfg = self.config
        rate_f, prompt_f = self.scenario.load_at(t0)
        for _ in range(self._poisson(cfg.base_rate * rate_f * cfg.dt)):
            req = self._new_request(t0 + self.rng.random() * cfg.dt, prompt_f)
            if cfg.lora_adapters and self.features.random() < cfg.lora_share:
                req.adapter = self.features.choice(cfg.lora_adapters)
            self.waiting.append(req)
            self.stats.add("requests_received")

    def _new_request(self, arrival: float, prompt_f: float) -> Request:
        cfg, rng = self.config, self.rng
        max_tokens = rng.choice((256, cfg.max_tokens, cfg.max_tokens, 2 * cfg.max_tokens))
        prompt_max = cfg.max_model_len - max_tokens
        prompt = min(prompt_max, max(4, int(rng.lognormvariate(
            math.log(cfg.prompt_median * prompt_f), cfg.prompt_sigma))))
        natural = max(1, int(rng.lognormvariate(math.log(cfg.gen_median), cfg.gen_sigma)))
        target, reason = (max_tokens, "length") if natural >= max_tokens else (natural, "stop")
        u = rng.random()
        if u < cfg.error_prob:
            target, reason = max(1, target // 4), "error"
        elif u < cfg.error_prob + cfg.abort_prob:
            target, reason = max(1, target // 2), "abort"
        hit = prompt > cfg.prefix_len and rng.random() < cfg.prefix_hit_prob
        return Request(arrival, prompt, target, max_tokens, reason, cfg.prefix_len if hit else 0)

    def _schedule(self, t0: float) -> None:
        cfg, stats = self.config, self.stats
        room, admitted = int(cfg.kv_capacity_tokens * 0.998), 0
        loras = {r.adapter for r in self.running if r.adapter}
        skipped: list[Request] = []
        while self.waiting and len(self.running) < cfg.max_running:
            req = self.waiting[0]
            if req.adapter and req.adapter not in loras and len(loras) >= cfg.max_loras:
                skipped.append(self.waiting.popleft())
                continue
            need = req.prompt + req.emitted
            if self.kv_used + need > room:
                break
            self.waiting.popleft()
            if req.adapter:
                loras.add(req.adapter)
            self.kv_used += need
            req.kv = need
            if req.scheduled < 0:
                req.scheduled = t0
                req.prefill_left = need - req.cached
                stats.observe("queue", t0 - req.arrival)
                stats.add("prefix_queries", req.prompt)
                stats.add("prefix_hits", req.cached)
            else:
                req.prefill_left = need
                stats.add("recomputed_tokens", need)
            self.running.append(req)
            admitted += 1
        self.waiting.extendleft(reversed(skipped))
        self.deferred = len(skipped)
        if admitted:
            stats.observe("batch_next", admitted)

    def _prefill(self, t0: float) -> float:
        """Spend this step's prefill budget FIFO; returns the busy fraction of the step."""
        cfg, stats = self.config, self.stats
        budget = cfg.prefill_tokens_per_s * cfg.dt
        used, self.prefilling = 0.0, 0
        for req in self.running:
            if req.prefill_left <= 0:
                continue
            take = min(req.prefill_left, budget - used)
            if take <= 0:
                self.prefilling += 1
                continue
            used += take
            req.prefill_left -= take
            if req.prefill_left > 0:
                self.prefilling += 1
            elif req.first_token < 0:
                req.first_token = t0 + used / budget * cfg.dt * 0.5 + self.last_itl
                stats.observe("ttft", req.first_token - req.arrival)
                stats.add("prompt_tokens", req.prompt)
        self.last_prompt_tps = used / cfg.dt
        stats.add("prompt_compute_tokens", used)
        stats.add("prompt_seconds", used / budget * cfg.dt * 0.5)
        return used / budget * 0.5

    def _decode(self, t0: float, busy: float) -> None:
        cfg, stats = self.config, self.stats
        decoding = [r for r in self.running if r.prefill_left <= 0 and r.first_token <= t0]
        itl = (cfg.itl_base + cfg.itl_per_seq * len(decoding)) / (1.0 - busy)
        self.last_itl = itl
        per_step = cfg.dt / itl
        iterations = max(1, round(per_step))
        stats.add("iterations", iterations)
        stats.maximum("max_batch_tokens", len(decoding) + self.last_prompt_tps * cfg.dt)
        stats.observe("iteration_tokens", len(decoding) + self.last_prompt_tps * cfg.dt
                      / iterations, iterations)
        emitted_total, done = 0, []
        spec = [0] * (2 + cfg.spec_tokens)  # drafts, accepted, accepted per position
        for req in decoding:
            before = req.generated
            req.generated += per_step
            new = min(int(req.generated), req.target) - req.emitted
            if new > 0:
                req.emitted += new
                req.kv += new
                self.kv_used += new
                emitted_total += new
                stats.observe("itl", itl, new)
                if cfg.spec_tokens:
                    self._speculate(req, new, spec)
            if req.emitted >= req.target:
                done.append((req, t0 + (req.target - before) / per_step * cfg.dt))
        if decoding:
            stats.add("decode_seconds", cfg.dt * (1.0 - busy))
        stats.add("generation_tokens", emitted_total)
        if spec[0]:
            self.spec_last = (spec[0], spec[1], spec[0] * cfg.spec_tokens)
            stats.add("spec_drafts", spec[0])
            stats.add("spec_draft_tokens", spec[0] * cfg.spec_tokens)
            stats.add("spec_accepted", spec[1])
            for pos, n in enumerate(spec[2:]):
                stats.add(f"spec_accepted_pos_{pos}", n)
        self.last_gen_tps = emitted_total / cfg.dt
        for req, finished in done:
            self._finish(req, max(finished, req.first_token))

    def _speculate(self, req: Request, tokens: int, spec: list[int]) -> None:
        """The drafts behind `tokens` newly emitted tokens, added to `spec` (drafts, accepted,
        accepted per position): each accepts a prefix of its `spec_tokens` drafted tokens and
        adds one of the target model's own; what a draft yields past this step's tokens is
        emitted in the request's next steps."""
        cfg = self.config
        ahead = min(tokens, req.spec_ahead)
        req.spec_ahead -= ahead
        tokens -= ahead
        log_accept = math.log(cfg.spec_accept) if 0 < cfg.spec_accept < 1 else 0.0
        while tokens > 0:
            # accepted >= j with probability spec_accept ** j: one draw per draft
            u = 1.0 - self.features.random()
            accepted = (cfg.spec_tokens if cfg.spec_accept >= 1 else 0 if not log_accept
                        else min(cfg.spec_tokens, int(math.log(u) / log_accept)))
            spec[0] += 1
            spec[1] += accepted
            for pos in range(accepted):
                spec[2 + pos] += 1
            req.spec_ahead = max(0, accepted + 1 - tokens)
            tokens -= accepted + 1

    def _lora_info(self, t0: float) -> None:
        """The adapters of the running and of the waiting requests, as vLLM's frontend
        records them each step (sorted here: vLLM writes its dict's order)."""
        running = ",".join(sorted({r.adapter for r in self.running if r.adapter}))
        waiting = ",".join(sorted({r.adapter for r in self.waiting if r.adapter}))
        self.lora_seen[(running, waiting)] = t0

    def _finish(self, req: Request, now: float) -> None:
        stats = self.stats
        self.running.remove(req)
        self.kv_used -= req.kv
        decode = now - req.first_token
        stats.observe("e2e", now - req.arrival)
        stats.observe("prefill", req.first_token - req.scheduled)
        stats.observe("decode", decode)
        stats.observe("inference", now - req.scheduled)
        if req.emitted > 1:
            stats.observe("tpot", decode / (req.emitted - 1))
        stats.observe("prompt_tokens", req.prompt)
        stats.observe("generation_tokens", req.emitted)
        stats.observe("max_tokens", req.max_tokens)
        stats.observe("n", 1)
        stats.observe("prefill_computed", req.prompt - req.cached)
        stats.observe("cache_hit_ratio", req.cached / req.prompt)
        stats.add("finished_" + req.reason)

    def _preempt(self) -> None:
        """Recompute-preempt the newest running requests until the KV cache fits."""
        while self.kv_used > self.config.kv_capacity_tokens and len(self.running) > 1:
            req = self.running.pop()
            self.kv_used -= req.kv
            self.stats.add("preemptions")
            self.stats.add("preempted_tokens", req.kv)
            req.kv = 0
            req.prefill_left = 0.0
            self.waiting.appendleft(req)
