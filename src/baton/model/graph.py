"""Validation and the compiled shape of a flow's DAG."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection
from typing import NamedTuple

from baton.errors import DefinitionError
from baton.model import assets, namespaces
from baton.model.spec import FlowSpec, TaskSpec

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class Graph(NamedTuple):
    """Upstream and downstream keys of every task, and a topological order."""

    upstream: dict[str, tuple[str, ...]]
    downstream: dict[str, tuple[str, ...]]
    order: tuple[str, ...]

    @property
    def leaves(self) -> frozenset[str]:
        return frozenset(k for k, d in self.downstream.items() if not d)


def _check_group(flow: str, t: TaskSpec, keys: set[str]) -> None:
    if t.group is None:
        return
    if not isinstance(t.group, str) or not NAME_RE.match(t.group):
        raise DefinitionError(
            f"invalid group {t.group!r}: use letters, digits, '_', '.', '-'", flow=flow, task=t.key
        )
    if t.group in keys:  # the UI draws a folded group as a box named after it
        raise DefinitionError(
            f"group '{t.group}' has the name of a task; name it differently", flow=flow, task=t.key
        )


def validate(spec: FlowSpec, known_types: Collection[str]) -> Graph:
    """Check a FlowSpec and compile its graph; every problem raises a DefinitionError."""
    if not namespaces.FULL_NAME_RE.fullmatch(spec.name):
        raise DefinitionError(
            f"invalid flow name '{spec.name}': use letters, digits, '_', '.', '-' "
            "(and one '/' after its namespace)"
        )
    if not spec.tasks:
        raise DefinitionError("the flow has no tasks", flow=spec.name)
    keys: set[str] = set()
    for t in spec.tasks:
        if not NAME_RE.match(t.key):
            raise DefinitionError(
                f"invalid task key '{t.key}': use letters, digits, '_', '.', '-'",
                flow=spec.name,
                task=t.key,
            )
        if t.key in keys:
            raise DefinitionError(f"duplicate task key '{t.key}'", flow=spec.name, task=t.key)
        keys.add(t.key)
        if t.type not in known_types:
            raise DefinitionError(
                f"unknown task type '{t.type}'; known types: {', '.join(sorted(known_types))}",
                flow=spec.name,
                task=t.key,
            )
    for t in spec.tasks:
        _check_group(spec.name, t, keys)
        for up in t.depends_on:
            if up not in keys:
                raise DefinitionError(
                    f"depends on unknown task '{up}' (check for typos; "
                    f"tasks are: {', '.join(sorted(keys))})",
                    flow=spec.name,
                    task=t.key,
                )
            if up == t.key:
                raise DefinitionError("depends on itself", flow=spec.name, task=t.key)
        if t.map_over is not None and t.map_over not in t.depends_on:
            raise DefinitionError(
                f"map_over '{t.map_over}' must be one of its upstream tasks",
                flow=spec.name,
                task=t.key,
            )
    _validate_assets(spec)
    upstream = {t.key: tuple(dict.fromkeys(t.depends_on)) for t in spec.tasks}
    downstream: dict[str, list[str]] = {k: [] for k in upstream}
    for key, ups in upstream.items():
        for up in ups:
            downstream[up].append(key)
    order = _topological_order(spec.name, upstream, downstream)
    return Graph(upstream, {k: tuple(v) for k, v in downstream.items()}, order)


def _validate_assets(spec: FlowSpec) -> None:
    """Declared assets: each once per flow, each check once per asset. (The YAML parser finds
    these too, with lines; this covers flows built in Python.)"""
    declared: set[str] = set()
    for asset in spec.assets:
        if not assets.is_name(asset.name):
            raise DefinitionError(
                f"invalid asset name {asset.name!r}: use {assets.NAME_RULE}", flow=spec.name
            )
        if asset.name in declared:
            raise DefinitionError(f"asset '{asset.name}' is declared twice", flow=spec.name)
        declared.add(asset.name)
        checks: set[str] = set()
        for check in asset.checks:
            if check.name in checks:
                raise DefinitionError(
                    f"asset '{asset.name}': check '{check.name}' is defined twice",
                    flow=spec.name,
                )
            checks.add(check.name)


def _topological_order(
    flow: str, upstream: dict[str, tuple[str, ...]], downstream: dict[str, list[str]]
) -> tuple[str, ...]:
    remaining = {k: len(v) for k, v in upstream.items()}
    ready = deque(k for k, n in remaining.items() if n == 0)  # FIFO keeps definition order
    order: list[str] = []
    while ready:
        key = ready.popleft()
        order.append(key)
        for d in downstream[key]:
            remaining[d] -= 1
            if remaining[d] == 0:
                ready.append(d)
    if len(order) < len(upstream):
        cycle = _find_cycle({k for k, n in remaining.items() if n > 0}, upstream)
        raise DefinitionError(f"the tasks form a cycle: {' -> '.join(cycle)}", flow=flow)
    return tuple(order)


def _find_cycle(stuck: set[str], upstream: dict[str, tuple[str, ...]]) -> list[str]:
    """Walk upstream edges inside the stuck set until a key repeats: that loop is a cycle."""
    key = min(stuck)
    path: list[str] = []
    seen: dict[str, int] = {}
    while key not in seen:
        seen[key] = len(path)
        path.append(key)
        key = next(u for u in upstream[key] if u in stuck)
    loop = path[seen[key] :]
    loop.reverse()  # we walked upstream; show the cycle in execution order
    return [*loop, loop[0]]
