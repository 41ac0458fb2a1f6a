"""A layered (Sugiyama-style) layout of a flow's DAG, left to right, for the UI to draw.

Hand-written rather than taken from a library: grandalf, the pure-Python Sugiyama on PyPI,
is unmaintained since 2023 and spends seconds on a 2,000-task flow; this one lays out 2,000
tasks in well under 100 ms (tests/unit/ui/test_layout.py measures it). The steps:

1. Layers: a task sits one column right of its furthest upstream (longest path); a task
   with no upstream moves right, next to its first downstream, so it draws no long edge.
2. Long edges get a chain of dummy points, one per column they cross, so they are ordered
   like tasks and never cut through a box (up to a budget, past which the longest edges
   are drawn straight).
3. Order in each column: a few sweeps that sort each column by the barycentre (mean
   position) of its neighbours in the column before, down and then up.
4. Rows: each column is placed as close as it can to its neighbours' rows while keeping
   its order and spacing (isotonic regression, pool-adjacent-violators: optimal and
   linear), alternating sweeps as in step 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NODE_W = 180.0
NODE_H = 36.0
COL_GAP = 56.0
ROW_GAP = 14.0
DUMMY_H = 6.0  # the room an edge passing through a column takes
MARGIN = 16.0
ORDER_SWEEPS = 4
PLACE_SWEEPS = 4
DUMMY_BUDGET = 20_000  # dummy points at most: past that, the longest edges are drawn straight

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each task's box goes (its top-left corner; every box is NODE_W x NODE_H), and
    each edge's points, from the right middle of its source to the left middle of its
    target."""

    width: float
    height: float
    nodes: dict[str, Point]
    edges: list[tuple[str, str, list[Point]]]


def layout(order: Sequence[str], upstream: Mapping[str, Sequence[str]]) -> Layout:
    """Lay out a DAG given its keys in topological order and each key's upstream keys."""
    n = len(order)
    index = {k: i for i, k in enumerate(order)}
    ups = [[index[u] for u in upstream.get(k, ())] for k in order]
    downs: list[list[int]] = [[] for _ in range(n)]
    for v, us in enumerate(ups):
        for u in us:
            downs[u].append(v)
    layer = _layers(ups, downs)

    # Dummy chains: node ids n.. are points of long edges, one per column crossed.
    edges = [(u, v) for v in range(n) for u in ups[v]]
    long_edges = sorted(
        (e for e in edges if layer[e[1]] - layer[e[0]] > 1), key=lambda e: layer[e[1]] - layer[e[0]]
    )
    chains: dict[tuple[int, int], list[int]] = {}
    up_adj = [list(us) for us in ups]
    down_adj = [list(ds) for ds in downs]
    budget = DUMMY_BUDGET
    for u, v in long_edges:
        span = layer[v] - layer[u] - 1
        if span > budget:
            break
        budget -= span
        chain = list(range(len(layer), len(layer) + span))
        layer += [layer[u] + 1 + i for i in range(span)]
        up_adj += [[p] for p in [u, *chain[:-1]]]
        down_adj += [[q] for q in [*chain[1:], v]]
        down_adj[u][down_adj[u].index(v)] = chain[0]
        up_adj[v][up_adj[v].index(u)] = chain[-1]
        chains[u, v] = chain
    total = len(layer)

    columns: list[list[int]] = [[] for _ in range(max(layer, default=-1) + 1)]
    for i in range(total):  # real nodes in topological order, then dummies by edge
        columns[layer[i]].append(i)
    pos = [0.0] * total
    for col in columns:
        for p, i in enumerate(col):
            pos[i] = p
    for _ in range(ORDER_SWEEPS):
        for col in columns[1:]:
            _sort_by_barycentre(col, up_adj, pos)
        for col in reversed(columns[:-1]):
            _sort_by_barycentre(col, down_adj, pos)

    height = [NODE_H if i < n else DUMMY_H for i in range(total)]
    y = [0.0] * total  # the centre of each node
    for col in columns:
        top = 0.0
        for i in col:
            y[i] = top + height[i] / 2
            top += height[i] + ROW_GAP
    for sweep in range(PLACE_SWEEPS):
        down = sweep % 2 == 0
        for col in columns if down else reversed(columns):
            _place(col, up_adj if down else down_adj, y, height)
    top = min((y[i] - height[i] / 2 for i in range(total)), default=0.0)
    shift = MARGIN - top

    def x_of(i: int) -> float:
        return MARGIN + layer[i] * (NODE_W + COL_GAP)

    nodes = {order[i]: (x_of(i), y[i] - NODE_H / 2 + shift) for i in range(n)}
    out: list[tuple[str, str, list[Point]]] = []
    for u, v in edges:
        points = [(x_of(u) + NODE_W, y[u] + shift)]
        for d in chains.get((u, v), ()):
            points += [(x_of(d), y[d] + shift), (x_of(d) + NODE_W, y[d] + shift)]
        points.append((x_of(v), y[v] + shift))
        out.append((order[u], order[v], points))
    bottom = max((y[i] + height[i] / 2 + shift for i in range(total)), default=0.0)
    return Layout(
        width=MARGIN * 2 + len(columns) * (NODE_W + COL_GAP) - COL_GAP if columns else 0.0,
        height=bottom + MARGIN if total else 0.0,
        nodes=nodes,
        edges=out,
    )


def _layers(ups: list[list[int]], downs: list[list[int]]) -> list[int]:
    """Longest path from the sources; then each source moves next to its nearest downstream."""
    layer = [0] * len(ups)
    for v, us in enumerate(ups):  # topological order: upstream layers are known
        if us:
            layer[v] = max(layer[u] for u in us) + 1
    for v, us in enumerate(ups):
        if not us and downs[v]:
            layer[v] = min(layer[d] for d in downs[v]) - 1
    return layer


def _sort_by_barycentre(col: list[int], adj: list[list[int]], pos: list[float]) -> None:
    """Sort a column by the mean position of each node's neighbours in the column before
    (a node without any keeps its place), then renumber its positions."""

    def key(i: int) -> float:
        near = adj[i]
        return sum(pos[j] for j in near) / len(near) if near else pos[i]

    col.sort(key=key)
    for p, i in enumerate(col):
        pos[i] = p


def _place(col: list[int], adj: list[list[int]], y: list[float], height: list[float]) -> None:
    """Move a column's nodes as near as they can get to the mean row of their neighbours,
    keeping their order and the gaps between them (least squares: pool adjacent violators).

    With offsets o_i (where node i would sit if all were packed from 0) the rows are
    y_i = z_i + o_i with z non-decreasing; the best z is the isotonic regression of the
    targets t_i - o_i.
    """
    offsets: list[float] = []
    top = 0.0
    for i in col:
        offsets.append(top + height[i] / 2)
        top += height[i] + ROW_GAP
    blocks: list[list[float]] = []  # [mean, weight, count]
    for i, o in zip(col, offsets, strict=True):
        near = adj[i]
        target = sum(y[j] for j in near) / len(near) if near else y[i]
        weight = 1.0 if near else 0.25  # a node with no neighbour there gives way
        blocks.append([target - o, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks[-1]
            w = w1 + w2
            blocks[-1] = [(m1 * w1 + m2 * w2) / w, w, c1 + c2]
    k = 0
    for mean, _, count in blocks:
        for _ in range(int(count)):
            y[col[k]] = mean + offsets[k]
            k += 1
