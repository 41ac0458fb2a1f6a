"""The DAG layout: columns by dependency, boxes that never overlap, edges that pass boxes by,
and fast enough for 2,000 tasks."""

from __future__ import annotations

import itertools
import random
import time

from baton.ui import layout
from baton.ui.layout import NODE_H, NODE_W


def lay(edges: dict[str, list[str]], order: list[str] | None = None) -> layout.Layout:
    keys = order or list(edges)
    return layout.layout(keys, edges)


def column(lay_: layout.Layout, key: str) -> int:
    return round((lay_.nodes[key][0] - layout.MARGIN) / (NODE_W + layout.COL_GAP))


def test_each_task_sits_right_of_its_upstream_tasks():
    result = lay({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})
    assert [column(result, k) for k in "abcd"] == [0, 1, 1, 2]
    for src, dst, points in result.edges:
        assert points[0] == (result.nodes[src][0] + NODE_W, result.nodes[src][1] + NODE_H / 2)
        assert points[-1] == (result.nodes[dst][0], result.nodes[dst][1] + NODE_H / 2)


def test_a_chain_is_one_straight_row():
    keys = [f"t{i}" for i in range(5)]
    result = lay({k: keys[i - 1 : i] for i, k in enumerate(keys)}, keys)
    assert len({y for _, y in result.nodes.values()}) == 1
    assert result.height == NODE_H + 2 * layout.MARGIN


def test_a_task_without_upstream_moves_next_to_its_downstream():
    # `config` feeds only the last step: it is drawn beside it, not three columns away.
    result = lay({"a": [], "b": ["a"], "c": ["b"], "config": [], "d": ["c", "config"]})
    assert column(result, "config") == column(result, "d") - 1


def test_a_long_edge_passes_through_the_columns_it_crosses_between_the_boxes():
    result = lay({"a": [], "b": ["a"], "c": ["b"], "d": ["c", "a"]})
    (points,) = [p for s, d, p in result.edges if (s, d) == ("a", "d")]
    assert len(points) == 2 + 2 * 2  # through the columns of b and c
    for key in "bc":
        x, y = result.nodes[key]
        through = [py for px, py in points if x <= px <= x + NODE_W]
        assert through and all(py < y or py > y + NODE_H for py in through), key


def test_boxes_in_a_column_never_overlap():
    order, upstream = random_dag(300, seed=3)
    result = layout.layout(order, upstream)
    columns: dict[float, list[float]] = {}
    for x, y in result.nodes.values():
        columns.setdefault(x, []).append(y)
    for ys in columns.values():
        ys.sort()
        assert all(b - a >= NODE_H + layout.ROW_GAP - 1e-6 for a, b in itertools.pairwise(ys))
    assert all(y >= 0 and y + NODE_H <= result.height for _, y in result.nodes.values())


def test_past_the_budget_the_longest_edges_are_drawn_straight(monkeypatch):
    monkeypatch.setattr(layout, "DUMMY_BUDGET", 1)
    result = lay({"a": [], "b": ["a"], "c": ["b"], "d": ["c", "a"]})
    (points,) = [p for s, d, p in result.edges if (s, d) == ("a", "d")]
    assert len(points) == 2


def test_an_empty_graph_has_no_size():
    assert layout.layout([], {}) == layout.Layout(0.0, 0.0, {}, [])


def test_two_thousand_tasks_are_laid_out_fast():
    for order, upstream in (random_dag(2000, seed=1), fan(2000)):
        # CPU time, best of three: the suite's other processes share the two cores, and
        # wall time would measure them too.
        times = []
        for _ in range(3):
            started = time.process_time()
            result = layout.layout(order, upstream)
            times.append(time.process_time() - started)
        assert len(result.nodes) == 2000 + (2 if order[0] == "root" else 0)
        assert min(times) < 0.5, f"{min(times):.2f}s"  # ~50 ms on a quiet 2-core machine


def random_dag(n: int, seed: int) -> tuple[list[str], dict[str, list[str]]]:
    rng = random.Random(seed)
    order = [f"n{i}" for i in range(n)]
    upstream = {
        order[i]: sorted(
            {order[rng.randrange(max(0, i - 60), i)] for _ in range(rng.randint(1, 3))}
        )
        for i in range(1, n)
    }
    return order, upstream


def fan(n: int) -> tuple[list[str], dict[str, list[str]]]:
    middle = [f"t{i}" for i in range(n)]
    return ["root", *middle, "join"], {**{k: ["root"] for k in middle}, "join": middle}
