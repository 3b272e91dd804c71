"""The metric catalogue: every metric inferwatch publishes, declared once.

The exporter builds its families from these specs, and the dashboards and rules refer to the
spec objects (never to string literals). Names follow reference/metrics.md; the fixed ones
there must never be renamed. One module a domain; this package re-exports every name, so
`catalog.GPU_UTILIZATION` reads the same wherever a spec is declared.
"""

from __future__ import annotations

from inferwatch.catalog import engine, exporter, gpu, host, kube
from inferwatch.catalog.engine import *  # noqa: F403
from inferwatch.catalog.exporter import *  # noqa: F403
from inferwatch.catalog.gpu import *  # noqa: F403
from inferwatch.catalog.host import *  # noqa: F403
from inferwatch.catalog.kube import *  # noqa: F403
from inferwatch.catalog.spec import (  # noqa: F401
    COLLECTOR,
    COUNTER,
    ENGINE,
    FS,
    GAUGE,
    GPU,
    HISTOGRAM,
    MetricSpec,
)

_SECTIONS = (gpu, host, kube, engine, exporter)  # the order of the generated metric table


def all_specs() -> tuple[MetricSpec, ...]:
    """Every spec declared in the catalogue, section by section in declaration order."""
    return tuple(v for m in _SECTIONS for v in vars(m).values() if isinstance(v, MetricSpec))


def by_name() -> dict[str, MetricSpec]:
    """Specs keyed by their exposed family name."""
    return {s.name: s for s in all_specs()}
