"""What the page's script needs to draw a DAG: the layout as compact JSON.

The boxes and edges are drawn as SVG in the browser, only those in view (and, zoomed far out,
without their text), so a 2,000-task flow costs the page what a screenful of it does. The
layout itself is computed here, once per flow version (see `layout`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from markupsafe import escape

from baton.model.spec import FlowSpec
from baton.ui import views
from baton.ui.layout import NODE_H, NODE_W, Layout, Point


def drawing(lay: Layout, types: Mapping[str, str]) -> dict[str, Any]:
    """The drawing of a flow version (computed once, kept by the UI): boxes
    `[key, x, y, type icon]` and edges `[x0, y0, x1, y1, path]`, their bounding box first,
    so the script finds those in view without reading the paths."""
    return {
        "w": round(lay.width),
        "h": round(lay.height),
        "nw": NODE_W,
        "nh": NODE_H,
        "nodes": [
            [key, round(x), round(y), views.type_icon(types.get(key, ""))]
            for key, (x, y) in lay.nodes.items()
        ],
        "edges": [_edge(points) for _, _, points in lay.edges],
    }


def data(
    drawn: Mapping[str, Any], states: Mapping[str, list[str]], href: str | None
) -> dict[str, Any]:
    """A drawing with the state and count of each key's task runs (a mapped task has
    several), and where a box links to (`href` + key; none without a run)."""
    return {
        **drawn,
        "states": {k: [views.rollup(v), len(v)] for k, v in states.items()},
        "href": href,
    }


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
