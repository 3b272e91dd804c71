"""The routing tree: depth-first matching with `continue`, children inheriting their parent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inferwatch.notifier.config import RouteConfig
from inferwatch.notifier.matchers import Matcher, matches_all, parse_matchers

DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True)
class Route:
    """A route with every inherited setting filled in; `id` is unique in the tree."""

    id: str
    receiver: str
    group_by: tuple[str, ...]
    group_all: bool  # group_by: ['...']
    group_wait: float
    group_interval: float
    repeat_interval: float
    matchers: tuple[Matcher, ...]
    continue_: bool
    routes: tuple[Route, ...]


def build_routes(cfg: RouteConfig, parent: Route | None = None, index: int = 0) -> Route:
    """Resolve a configured tree; the root's unset values take Alertmanager's defaults."""
    matchers = tuple(sorted((m for text in cfg.matchers for m in parse_matchers(text)),
                            key=lambda m: (m.name, m.op, m.value)))
    label = "{" + ",".join(str(m) for m in matchers) + "}"
    ident = label if parent is None else f"{parent.id}/{label}/{index}"
    group_by = _group_by(cfg.group_by, parent)
    node = Route(
        id=ident,
        receiver=cfg.receiver or (parent.receiver if parent else ""),
        group_by=tuple(n for n in group_by if n != "..."),
        group_all="..." in group_by,
        group_wait=_pick(cfg.group_wait, parent, "group_wait", DEFAULT_GROUP_WAIT),
        group_interval=_pick(cfg.group_interval, parent, "group_interval",
                             DEFAULT_GROUP_INTERVAL),
        repeat_interval=_pick(cfg.repeat_interval, parent, "repeat_interval",
                              DEFAULT_REPEAT_INTERVAL),
        matchers=matchers,
        continue_=cfg.continue_,
        routes=(),
    )
    children = tuple(build_routes(child, node, i) for i, child in enumerate(cfg.routes))
    return Route(**{**node.__dict__, "routes": children})


def _group_by(own: list[str] | None, parent: Route | None) -> list[str]:
    """Alertmanager's NewRoute: names given (not `[]`, not absent) replace the parent's; a lone
    '...' keeps the parent's names and groups by all labels."""
    inherited = list(parent.group_by) + (["..."] if parent.group_all else []) if parent else []
    names = [n for n in own or () if n != "..."]
    if names:
        return names
    if own and "..." in own:
        return [n for n in inherited if n != "..."] + ["..."]
    return inherited


def _pick(own: float | None, parent: Route | None, name: str, default: float) -> float:
    """The route's own value, else its parent's, else Alertmanager's default."""
    if own is not None:
        return own
    return getattr(parent, name) if parent is not None else default


def match_routes(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """Alertmanager's Route.Match: the deepest matching routes, in order."""
    if not matches_all(route.matchers, labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        matched = match_routes(child, labels)
        found += matched
        if matched and not child.continue_:
            break
    return found or [route]


class RouteCache:
    """match_routes over one tree, remembered by the values of the labels its matchers read
    (a missing one reads as "", as matchers read it): alerts that differ only in other labels
    take the same routes. At most `size` entries; full, it starts afresh."""

    def __init__(self, route: Route, size: int = 4096):
        self.route, self.size = route, size
        self.names = tuple(sorted(_read_names(route)))
        self._found: dict[tuple[str, ...], tuple[Route, ...]] = {}

    def __call__(self, labels: Mapping[str, str]) -> tuple[Route, ...]:
        key = tuple([labels.get(name, "") for name in self.names])
        found = self._found.get(key)
        if found is None:
            if len(self._found) >= self.size:
                self._found.clear()
            found = self._found[key] = tuple(match_routes(self.route, labels))
        return found


def _read_names(route: Route) -> set[str]:
    return {m.name for m in route.matchers}.union(*(_read_names(c) for c in route.routes))


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels an alert is grouped by on this route (absent ones left out)."""
    if route.group_all:
        return dict(labels)
    return {n: labels[n] for n in route.group_by if n in labels}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """`<route id>:{a="b", c="d"}`, the key of the aggregation group an alert falls into."""
    pairs = group_labels(route, labels)
    text = ", ".join(f'{n}="{pairs[n]}"' for n in sorted(pairs))
    return f"{route.id}:{{{text}}}"
