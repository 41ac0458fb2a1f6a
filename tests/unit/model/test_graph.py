from __future__ import annotations

import pytest

from baton.errors import DefinitionError
from baton.model.graph import validate
from baton.model.spec import FlowSpec, TaskSpec

TYPES = {"python", "shell"}


def spec(*tasks: TaskSpec, name: str = "f") -> FlowSpec:
    return FlowSpec(name=name, tasks=tasks)


def t(key: str, *depends_on: str, type: str = "python", map_over: str | None = None) -> TaskSpec:
    return TaskSpec(key=key, type=type, depends_on=depends_on, map_over=map_over)


def cycle_in(message: str) -> list[str]:
    return message.split("cycle: ", 1)[1].split(" -> ")


def assert_is_rotation(found: list[str], expected: list[str]) -> None:
    """`found` names the loop `expected` (closed: last == first), from any starting task."""
    assert found[0] == found[-1], found
    loop = found[:-1]
    assert len(loop) == len(expected)
    start = expected.index(loop[0])
    assert loop == expected[start:] + expected[:start]


def test_a_valid_graph() -> None:
    g = validate(
        spec(t("a"), t("b", "a"), t("c", "a"), t("d", "b", "c"), t("e", "a", type="shell")),
        TYPES,
    )
    assert g.upstream == {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c"), "e": ("a",)}
    assert g.downstream == {"a": ("b", "c", "e"), "b": ("d",), "c": ("d",), "d": (), "e": ()}
    assert g.leaves == {"d", "e"}
    assert sorted(g.order) == ["a", "b", "c", "d", "e"]


def test_topological_order_respects_every_edge() -> None:
    # A wide, deep graph declared in reverse order.
    tasks = [t(f"n{i}", *(f"n{j}" for j in range(i) if (i + j) % 3 == 0)) for i in range(30)]
    g = validate(spec(*reversed(tasks)), TYPES)
    position = {k: i for i, k in enumerate(g.order)}
    assert len(position) == 30
    for key, ups in g.upstream.items():
        for up in ups:
            assert position[up] < position[key], (up, key)


def test_duplicated_depends_on_counts_once() -> None:
    g = validate(spec(t("a"), t("b", "a", "a")), TYPES)
    assert g.upstream["b"] == ("a",)
    assert g.downstream["a"] == ("b",)


def test_a_cycle_is_named_in_execution_order() -> None:
    # a runs before b, b before c, c before a.
    with pytest.raises(DefinitionError, match="cycle") as err:
        validate(spec(t("a", "c"), t("b", "a"), t("c", "b"), t("z")), TYPES)
    assert err.value.flow == "f"
    assert_is_rotation(cycle_in(str(err.value)), ["a", "b", "c"])


def test_a_cycle_message_leaves_out_tasks_merely_downstream_of_it() -> None:
    with pytest.raises(DefinitionError) as err:
        validate(spec(t("a", "x"), t("x", "y"), t("y", "x")), TYPES)
    found = cycle_in(str(err.value))
    assert "a" not in found
    assert_is_rotation(found, ["x", "y"])


def test_a_self_dependency() -> None:
    with pytest.raises(DefinitionError, match="depends on itself") as err:
        validate(spec(t("a"), t("b", "b")), TYPES)
    assert err.value.task == "b"


def test_an_unknown_upstream_lists_the_tasks() -> None:
    with pytest.raises(DefinitionError) as err:
        validate(spec(t("extract"), t("load", "extrct")), TYPES)
    message = str(err.value)
    assert err.value.flow == "f"
    assert err.value.task == "load"
    assert "'extrct'" in message
    assert "check for typos" in message
    assert "extract, load" in message


def test_a_duplicate_key() -> None:
    with pytest.raises(DefinitionError, match="duplicate task key 'a'") as err:
        validate(spec(t("a"), t("b"), t("a")), TYPES)
    assert err.value.task == "a"


def test_an_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(DefinitionError) as err:
        validate(spec(t("a", type="pyhton")), TYPES)
    assert err.value.task == "a"
    assert "unknown task type 'pyhton'" in str(err.value)
    assert "python, shell" in str(err.value)


def test_map_over_must_be_upstream() -> None:
    with pytest.raises(DefinitionError, match="map_over 'a'") as err:
        validate(spec(t("a"), t("b"), t("c", "b", map_over="a")), TYPES)
    assert err.value.task == "c"
    validate(spec(t("a"), t("c", "a", map_over="a")), TYPES)


def test_a_flow_without_tasks() -> None:
    with pytest.raises(DefinitionError, match="no tasks"):
        validate(spec(), TYPES)


@pytest.mark.parametrize("name", ["", "has space", "two/slash/es", "/leading", "-leading"])
def test_invalid_flow_names(name: str) -> None:
    with pytest.raises(DefinitionError, match="invalid flow name"):
        validate(spec(t("a"), name=name), TYPES)


def test_invalid_task_key() -> None:
    with pytest.raises(DefinitionError, match="invalid task key") as err:
        validate(spec(t("a b")), TYPES)
    assert err.value.task == "a b"
