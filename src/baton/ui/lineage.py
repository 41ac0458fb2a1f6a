"""The lineage graph's drawing: assets and the tasks between them, laid out left to right
(upstream first) by the flows' DAG layout, for the template to draw as an inline SVG.

Laid out on the server: a lineage a few hops deep is tens to hundreds of nodes, and every
node is a plain link (to its asset's page, or its task's flow), so it works without script.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from baton.ui import dag, layout

LABEL = 22  # characters of a name shown in its box; the title has all of it


def drawing(graph: Mapping[str, Any], focus: str) -> dict[str, Any]:
    """What the template draws of a lineage (the read model's `{nodes, edges}` as JSON)."""
    nodes: Sequence[Mapping[str, Any]] = graph.get("nodes") or []
    ids = [str(n["id"]) for n in nodes]
    known = set(ids)
    ups: dict[str, list[str]] = {i: [] for i in ids}
    for e in graph.get("edges") or []:
        a, b = str(e["from"]), str(e["to"])
        if a in known and b in known and a != b and a not in ups[b]:
            ups[b].append(a)
    order = _order(ids, ups)
    rank = {k: i for i, k in enumerate(order)}
    # Across flows, lineage can loop (a writes b, b writes a): the edges going back are
    # left out of the layout, which needs a DAG, and drawn all the same below.
    forward = {k: [u for u in us if rank[u] < rank[k]] for k, us in ups.items()}
    lay = layout.layout(order, forward)
    boxes = []
    for n in nodes:
        key = str(n["id"])
        x, y = lay.nodes[key]
        boxes.append({"x": round(x), "y": round(y), **_node(n, focus)})
    paths = [dag.curve(points) for _, _, points in lay.edges]
    for k, us in ups.items():  # the edges left out: straight, dashed
        for u in us:
            if rank[u] > rank[k]:
                (x0, y0), (x1, y1) = lay.nodes[u], lay.nodes[k]
                paths.append(
                    f"M{x0 + layout.NODE_W:.0f} {y0 + layout.NODE_H / 2:.0f}"
                    f"L{x1:.0f} {y1 + layout.NODE_H / 2:.0f}"
                )
    return {
        "w": round(lay.width),
        "h": round(lay.height),
        "nw": layout.NODE_W,
        "nh": layout.NODE_H,
        "nodes": boxes,
        "paths": paths,
        "assets": sum(1 for n in nodes if n.get("kind") == "asset"),
        "tasks": sum(1 for n in nodes if n.get("kind") != "asset"),
    }


def _node(n: Mapping[str, Any], focus: str) -> dict[str, Any]:
    if n.get("kind") == "asset":
        name = str(n.get("name") or n["id"])
        return {
            "kind": "asset",
            "id": str(n["id"]),
            "label": _short(name),
            "title": name,
            "sub": n.get("freshness") or "",
            "href": "/assets/" + quote(name, safe=""),
            "focus": name == focus,
        }
    flow, task = str(n.get("flow") or ""), str(n.get("task") or n["id"])
    return {
        "kind": "task",
        "id": str(n["id"]),
        "label": _short(task),
        "title": f"{flow} / {task}",
        "sub": _short(flow, LABEL + 4),
        "href": "/flows/" + quote(flow, safe=""),
        "focus": False,
    }


def _short(text: str, size: int = LABEL) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _order(ids: list[str], ups: Mapping[str, list[str]]) -> list[str]:
    """A topological order (Kahn's); when only loops are left, the first node left goes
    next as if its remaining upstream were not there."""
    downs: dict[str, list[str]] = {i: [] for i in ids}
    waiting = {i: len(ups[i]) for i in ids}
    for k, us in ups.items():
        for u in us:
            downs[u].append(k)
    ready = deque(i for i in ids if waiting[i] == 0)
    placed: set[str] = set()
    order: list[str] = []
    rest = iter(ids)
    while len(order) < len(ids):
        if not ready:
            ready.append(next(i for i in rest if i not in placed))
        k = ready.popleft()
        if k in placed:
            continue
        placed.add(k)
        order.append(k)
        for d in downs[k]:
            waiting[d] -= 1
            if waiting[d] == 0 and d not in placed:
                ready.append(d)
    return order
