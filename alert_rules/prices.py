"""Prices for the cost recording rules, set in a config instead of by editing the rule pack.

The default pack records `inferwatch:gpu_price_usd_per_hour{name}` (one `vector(N)` rule per
NVML GPU name) and `inferwatch:energy_price_usd_per_kwh`. `prices:` in `rules run`'s config, or
`rules compile --prices FILE`, replaces those rules: the given kind's rules are dropped from
every group, and the configured ones take the place of the first of them (a group's later rules
read them in the same evaluation). A kind left out keeps the pack's rules.

```yaml
gpu_usd_per_hour: {"NVIDIA H100 80GB HBM3": 3.1, "NVIDIA L40S": 0.9}
energy_usd_per_kwh: 0.12
```
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, ValidationError

from inferwatch.alert_rules.rulefile import LoadedGroup
from inferwatch.alert_rules.spec import RecordRule
from inferwatch.core.config import ConfigError, Strict, describe, read_yaml

GPU_PRICE = "inferwatch:gpu_price_usd_per_hour"
ENERGY_PRICE = "inferwatch:energy_price_usd_per_kwh"
MAX_GPU_NAMES = 256


def _price(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError("a price must be a finite number, 0 or more")
    return value


Price = Annotated[float, AfterValidator(_price)]
GpuName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class Prices(Strict):
    """USD per GPU-hour by NVML GPU name, and USD per kWh; None keeps the pack's rules."""

    gpu_usd_per_hour: Annotated[dict[GpuName, Price], Field(max_length=MAX_GPU_NAMES)] | None = None
    energy_usd_per_kwh: Price | None = None

    def rules(self) -> dict[str, list[RecordRule]]:
        """The recording rules each configured kind stands for, by recorded name."""
        out: dict[str, list[RecordRule]] = {}
        if self.gpu_usd_per_hour is not None:
            out[GPU_PRICE] = [RecordRule(record=GPU_PRICE, expr=f"vector({price!r})",
                                         labels={"name": name})
                              for name, price in sorted(self.gpu_usd_per_hour.items())]
        if self.energy_usd_per_kwh is not None:
            out[ENERGY_PRICE] = [RecordRule(record=ENERGY_PRICE,
                                            expr=f"vector({self.energy_usd_per_kwh!r})")]
        return out


def read_prices(path: str) -> Prices:
    """A prices file (the mapping above), or ConfigError naming the file and field."""
    try:
        return Prices.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(describe(err, path, {})) from None


def apply_prices(groups: list[LoadedGroup], prices: Prices, where: str) -> list[LoadedGroup]:
    """The groups with the configured price rules in place of the pack's; ConfigError for a
    kind that no group records (nothing would read it), its field named after `where`
    (e.g. `FILE: prices.`)."""
    wanted = prices.rules()
    placed: set[str] = set()
    out = []
    for group in groups:
        rules = []
        for rule in group.rules:
            name = rule.record if isinstance(rule, RecordRule) else None
            if name not in wanted:
                rules.append(rule)
            elif name not in placed:
                rules += wanted[name]
                placed.add(name)
        out.append(group.model_copy(update={"rules": rules}))
    field = {GPU_PRICE: "gpu_usd_per_hour", ENERGY_PRICE: "energy_usd_per_kwh"}
    missing = [f"{where}{field[n]}: no rule file records {n}, so the price would not be used"
               for n in wanted if n not in placed]
    if missing:
        raise ConfigError(missing)
    return out
