"""What the page's script needs to draw a DAG: the layout as compact JSON.

The boxes and edges are drawn as SVG in the browser, only those in view (and, zoomed far out,
without their text), so a 2,000-task flow costs the page what a screenful of it does. The
layout itself is computed here, once per flow version (see `layout`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def _edge(points: list[Point]) -> list[Any]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return [round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)), _curve(points)]


def _curve(points: list[Point]) -> str:
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
