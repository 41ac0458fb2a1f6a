"""Task groups in the DAG drawing: a folded group is one node, its edges are the group's
edges to the rest, and a fold that would make a cycle is not made."""

from __future__ import annotations

import time

import pytest

from baton.errors import DefinitionError
from baton.model.graph import validate
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.yaml_spec import load_yaml_flow
from baton.ui import dag
from baton.ui.layout import layout


def _spec(*tasks: tuple[str, str | None, tuple[str, ...]]) -> FlowSpec:
    return FlowSpec(
        name="f",
        tasks=tuple(
            TaskSpec(key=k, type="shell", group=g, depends_on=ups, config={"command": "true"})
            for k, g, ups in tasks
        ),
    )


def test_a_folded_group_is_one_node_with_the_groups_edges():
    spec = _spec(
        ("start", None, ()),
        ("a", "extract", ("start",)),
        ("b", "extract", ("start",)),
        ("c", "extract", ("a", "b")),
        ("end", None, ("c", "b")),
    )
    graph = validate(spec, {"shell"})
    folded = dag.fold(graph.order, graph.upstream, dag.groups_of(spec))
    assert folded.order == ["start", "extract", "end"]
    assert folded.upstream == {"start": [], "extract": ["start"], "end": ["extract"]}
    assert folded.members == {"extract": ["a", "b", "c"]}


def test_a_fold_that_would_make_a_cycle_stays_unfolded():
    # a -> outside -> b, with a and b in one group: folded, the group would wait on itself.
    spec = _spec(("a", "g", ()), ("outside", None, ("a",)), ("b", "g", ("outside",)))
    graph = validate(spec, {"shell"})
    folded = dag.fold(graph.order, graph.upstream, dag.groups_of(spec))
    assert folded.members == {}
    assert folded.order == ["a", "outside", "b"]


def test_only_the_groups_that_can_fold_are_folded():
    spec = _spec(
        ("a", "loop", ()),
        ("x", None, ("a",)),
        ("b", "loop", ("x",)),
        ("c", "fine", ("b",)),
        ("d", "fine", ("c",)),
    )
    graph = validate(spec, {"shell"})
    folded = dag.fold(graph.order, graph.upstream, dag.groups_of(spec))
    assert folded.members == {"fine": ["c", "d"]}
    assert folded.order == ["a", "x", "b", "fine"]


def test_the_drawing_rolls_a_groups_states_up():
    spec = _spec(("a", "g", ()), ("b", "g", ("a",)), ("c", None, ("b",)))
    graph = validate(spec, {"shell"})
    folded = dag.fold(graph.order, graph.upstream, dag.groups_of(spec))
    drawn = dag.drawing(layout(folded.order, folded.upstream), {"c": "shell"}, folded)
    assert [n[0] for n in drawn["nodes"]] == ["g", "c"]
    assert drawn["nodes"][0][3] == "group"
    assert [e[5:] for e in drawn["edges"]] == [["g", "c"]]
    data = dag.data(drawn, {"a": ["succeeded"], "b": ["failed"], "c": ["upstream_failed"]}, "/x/")
    assert data["states"]["g"] == ["failed", 2]


def test_unfold_links_keep_the_other_groups_and_the_pages_query():
    groups = {"a": ["x"], "b": ["y"]}
    shown = dag.unfolded("b,nonsense", groups)
    assert shown == {"b"}
    links = dag.group_links(groups, shown, "/runs/r1", [("state", "failed"), ("unfold", "b")])
    assert links[0] == {
        "name": "a",
        "tasks": 1,
        "open": False,
        "href": "/runs/r1?state=failed&unfold=a,b",
    }
    assert links[1]["href"] == "/runs/r1?state=failed" and links[1]["open"]
    assert dag.unfolded("all", groups) == {"a", "b"}
    assert dag.unfolded("," * 100_000, groups) == frozenset()


@pytest.mark.parametrize(
    ("group_of", "folds"),
    [
        (lambda layer, i: f"band{layer // 5}", 10),  # bands of 5 layers: a chain of 10
        # halves of bands, with edges both ways between them: no fold can be made, each
        # one tried alone
        (lambda layer, i: f"half{layer // 5}_{i // 20}", 0),
    ],
)
def test_folding_2000_tasks_is_fast(group_of, folds: int):
    tasks = []
    for layer in range(50):
        for i in range(40):
            ups = () if layer == 0 else (f"t{layer - 1}_{i}", f"t{layer - 1}_{(i * 7 + 3) % 40}")
            tasks.append((f"t{layer}_{i}", group_of(layer, i), ups))
    spec = _spec(*tasks)
    graph = validate(spec, {"shell"})
    # The best of three: the fold's own cost, not a loaded machine's pauses (one run took
    # 0.56 s on a CI machine busy with the rest of the suite; alone it takes 0.23 s).
    took = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        folded = dag.fold(graph.order, graph.upstream, dag.groups_of(spec))
        took = min(took, time.perf_counter() - started)
    assert len(folded.members) == folds
    assert took < 0.5, f"{took:.2f}s"


def test_group_in_yaml_and_its_mistakes():
    spec = load_yaml_flow(
        "name: f\ntasks:\n  - {key: a, type: shell, command: 'true', group: extract}\n",
        file="f.yaml",
    )
    assert spec.tasks[0].group == "extract"
    with pytest.raises(DefinitionError, match="invalid group"):
        validate(_spec(("a", "not a name", ())), {"shell"})
    with pytest.raises(DefinitionError, match="group 'b' has the name of a task"):
        validate(_spec(("a", "b", ()), ("b", None, ())), {"shell"})


def test_a_flow_without_groups_keeps_its_content_hash():
    spec = _spec(("a", None, ()))
    assert "group" not in spec.to_json()
    assert '"group":"g"' in _spec(("a", "g", ())).to_json()


def test_group_on_python_tasks():
    from baton import flow, task

    @task(group="extract")
    def pull() -> int:
        return 1

    @flow
    def grouped() -> None:
        pull()

    assert grouped.spec.tasks[0].group == "extract"
