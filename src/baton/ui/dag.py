"""What the page's script needs to draw a DAG: the layout as compact JSON.

The boxes and edges are drawn as SVG in the browser, only those in view (and, zoomed far out,
without their text), so a 2,000-task flow costs the page what a screenful of it does. The
layout itself is computed here, once per flow version (see `layout`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from markupsafe import escape

from baton.model.spec import FlowSpec
from baton.ui import views
from baton.ui.layout import NODE_H, NODE_W, Layout, Point


class Folded(NamedTuple):
    """A flow's graph as drawn: each folded group is one node named after it."""

    order: list[str]
    upstream: dict[str, list[str]]
    members: dict[str, list[str]]  # of each folded group, its task keys in order


def groups_of(spec: FlowSpec) -> dict[str, list[str]]:
    """The task keys of each group (`group:` on tasks), in the order they were declared."""
    out: dict[str, list[str]] = {}
    for t in spec.tasks:
        if t.group is not None:
            out.setdefault(t.group, []).append(t.key)
    return out


def fold(
    order: Sequence[str], upstream: Mapping[str, Sequence[str]], groups: Mapping[str, list[str]]
) -> Folded:
    """The graph with each of `groups` drawn as one node. A group whose folding would make a
    cycle (a path leaving the group and coming back into it, maybe through another folded
    group) stays unfolded: a layered drawing needs a DAG, and its tasks then show as they
    are. Each pass folds what is left and unfolds the groups caught in a cycle, so the usual
    flow (nothing caught) costs one pass."""
    folding = dict(groups)
    while True:
        node = {k: k for k in order}
        for name, keys in folding.items():
            for k in keys:
                node[k] = name
        ups = _contracted(order, upstream, node)
        out, caught = _sorted(ups)
        if not caught & folding.keys():  # nothing caught: no fold made a cycle
            return Folded(out, ups, folding)
        folding = {n: keys for n, keys in folding.items() if n not in caught}


def _contracted(
    order: Sequence[str], upstream: Mapping[str, Sequence[str]], node: Mapping[str, str]
) -> dict[str, list[str]]:
    """The upstream nodes of each node, `node` mapping each task key to what it is drawn as."""
    sets: dict[str, dict[str, None]] = {}  # a dict keeps the order a set would lose
    for k in order:
        sets.setdefault(node[k], {})
    for k in order:
        mine = sets[node[k]]
        for u in upstream.get(k, ()):
            if node[u] != node[k]:
                mine[node[u]] = None
    return {n: list(us) for n, us in sets.items()}


def _sorted(ups: Mapping[str, list[str]]) -> tuple[list[str], set[str]]:
    """The nodes in topological order (Kahn's, keeping the given order where it can), and
    those on a cycle or between two (left when sources and sinks are peeled off)."""
    downs: dict[str, list[str]] = {n: [] for n in ups}
    for n, us in ups.items():
        for u in us:
            downs[u].append(n)
    out = _peel(ups, ups, downs)
    if len(out) == len(ups):
        return out, set()
    rest = {n: [u for u in us if u not in out] for n, us in ups.items() if n not in out}
    rest_downs = {n: [d for d in downs[n] if d in rest] for n in rest}
    sinks_first = _peel(rest, rest_downs, rest)  # peel from the other end
    return out, set(rest) - set(sinks_first)


def _peel(
    nodes: Mapping[str, list[str]],
    before: Mapping[str, list[str]],
    after: Mapping[str, list[str]],
) -> list[str]:
    """Kahn's algorithm: the nodes that can be taken off in order, each once all of its
    `before` nodes are taken."""
    waiting = {n: len(before[n]) for n in nodes}
    ready = deque(n for n in nodes if waiting[n] == 0)  # in the flow's own order
    out: list[str] = []
    while ready:
        n = ready.popleft()
        out.append(n)
        for d in after[n]:
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(d)
    return out


def drawing(lay: Layout, types: Mapping[str, str], folded: Folded) -> dict[str, Any]:
    """The drawing of a flow version (computed once per version and set of unfolded groups,
    kept by the UI): boxes `[key, x, y, type icon]` and edges `[x0, y0, x1, y1, path, from,
    to]`, their bounding box first, so the script finds those in view without reading the
    paths; `members` of each folded group, whose state is theirs rolled up."""
    return {
        "w": round(lay.width),
        "h": round(lay.height),
        "nw": NODE_W,
        "nh": NODE_H,
        "nodes": [
            [
                key,
                round(x),
                round(y),
                "group" if key in folded.members else views.type_icon(types.get(key, "")),
            ]
            for key, (x, y) in lay.nodes.items()
        ],
        "edges": [[*_edge(points), a, b] for a, b, points in lay.edges],
        "members": folded.members,
        "tasks": len(types),
    }


def data(
    drawn: Mapping[str, Any], states: Mapping[str, list[str]], href: str | None
) -> dict[str, Any]:
    """A drawing with the state and count of each key's task runs (a mapped task has
    several; a folded group, those of its tasks), and where a box links to (`href` + key;
    none without a run)."""
    rolled = {k: [views.rollup(v), len(v)] for k, v in states.items()}
    for name, keys in drawn["members"].items():
        inside = [s for k in keys for s in states.get(k, ())]
        if inside:
            rolled[name] = [views.rollup(inside), len(inside)]
    return {**drawn, "states": rolled, "href": href}


MAX_UNFOLDED = 100  # groups named in `?unfold=`: more is no view a person asked for


def unfolded(query: str, groups: Mapping[str, list[str]]) -> frozenset[str]:
    """The groups a page's `?unfold=a,b` (or `all`) shows task by task; unknown names are
    ignored (an old link to a renamed group still opens the page)."""
    if query == "all":
        return frozenset(groups)
    return frozenset(n for n in query.split(",")[:MAX_UNFOLDED] if n in groups)


def group_links(
    groups: Mapping[str, list[str]],
    shown: frozenset[str],
    path: str,
    query: Sequence[tuple[str, str]],
) -> list[dict[str, Any]]:
    """A link per group that folds or unfolds it, keeping the page's other query
    parameters and the other groups as they are."""
    kept = [(k, v) for k, v in query if k != "unfold"]
    out = []
    for name, keys in groups.items():
        after = shown - {name} if name in shown else shown | {name}
        params = kept + ([("unfold", ",".join(sorted(after)))] if after else [])
        out.append(
            {
                "name": name,
                "tasks": len(keys),
                "open": name in shown,
                "href": f"{path}?{urlencode(params, safe=',')}" if params else path,
            }
        )
    return out


CHIP_H = 12.0  # a chip straddles its box's top (reads) or bottom (writes) edge
CHIP_CHAR = 5.6  # px per character of the chips' 9px monospace font (0.6 em), with room
CHIP_LABEL = 20  # characters of an asset name on a chip; its title has all of it


def chips(spec: FlowSpec) -> dict[str, str]:
    """The asset chips of each task that reads or writes assets: SVG (escaped here) that the
    script draws over the task's box, the assets it reads along its top edge and those it
    writes along its bottom edge, as many as fit, then `+N`."""
    out = {}
    for t in spec.tasks:
        if t.outputs or t.inputs:
            out[t.key] = _chip_row("in", t.inputs, 0.0) + _chip_row("out", t.outputs, NODE_H)
    return out


def _chip_row(kind: str, assets: Sequence[str], edge: float) -> str:
    x, y, end = 8.0, edge - CHIP_H / 2, NODE_W - 8
    verb = "writes" if kind == "out" else "reads"
    parts = []
    for i, name in enumerate(assets):
        label = name if len(name) <= CHIP_LABEL else name[: CHIP_LABEL - 1] + "…"
        w = len(label) * CHIP_CHAR + 10
        if x + w > end - (30 if i < len(assets) - 1 else 0):
            rest = ", ".join(assets[i:])
            parts.append(
                f'<g class="chip more {kind}"><title>{verb} {escape(rest)}</title>'
                f'<rect x="{x:.0f}" y="{y:.0f}" width="26" height="{CHIP_H:.0f}" rx="6"/>'
                f'<text x="{x + 13:.0f}" y="{y + 9:.0f}" text-anchor="middle">'
                f"+{len(assets) - i}</text></g>"
            )
            break
        parts.append(
            f'<a class="chip {kind}" href="/assets/{escape(quote(name, safe=""))}">'
            f"<title>{verb} asset {escape(name)}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{CHIP_H:.0f}" rx="6"/>'
            f'<text x="{x + 5:.0f}" y="{y + 9:.0f}">{escape(label)}</text></a>'
        )
        x += w + 4
    return "".join(parts)


def _edge(points: list[Point]) -> list[Any]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return [round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)), curve(points)]


def curve(points: list[Point]) -> str:
    """A path through the points: straight across a column, an S-curve between columns."""
    (x, y), rest = points[0], points[1:]
    d = [f"M{x:.0f} {y:.0f}"]
    for i, (nx, ny) in enumerate(rest):
        if i % 2 == 1:  # through a column, where a box would be: (left, y) -> (right, y)
            d.append(f"H{nx:.0f}")
        else:
            mid = (x + nx) / 2
            d.append(f"C{mid:.0f} {y:.0f} {mid:.0f} {ny:.0f} {nx:.0f} {ny:.0f}")
        x, y = nx, ny
    return "".join(d)
