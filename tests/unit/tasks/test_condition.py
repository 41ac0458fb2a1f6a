"""`condition` tasks: Databricks' comparison operators, and the side of the graph followed."""

from __future__ import annotations

import pytest

from baton import tasks
from baton.model.spec import TaskSpec
from baton.tasks import condition
from baton.tasks.base import TaskFailed


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("EQUAL_TO", "a", "a", True),
        ("EQUAL_TO", 1, "1", True),  # a rendered template keeps its type; the text compares
        ("EQUAL_TO", True, "true", True),
        ("EQUAL_TO", "1.0", "1", False),
        ("NOT_EQUAL", "a", "b", True),
        ("GREATER_THAN", "10", 9, True),
        ("GREATER_THAN", "9", "10", False),  # numbers, not text
        ("GREATER_THAN_OR_EQUAL", 2, 2.0, True),
        ("LESS_THAN", "-1", "0", True),
        ("LESS_THAN_OR_EQUAL", 3, "2", False),
    ],
)
def test_operators(op: str, left: object, right: object, expected: bool) -> None:
    assert condition.holds_for(op, left, right) is expected


def test_the_result_is_the_side_followed(task_context) -> None:
    cfg = condition.ConditionConfig(op="EQUAL_TO", left="x", right="x", if_true=["a"])
    assert condition.execute(task_context(), cfg) == ["a"]
    cfg = condition.ConditionConfig(op="NOT_EQUAL", left="x", right="x", if_true=["a"])
    assert condition.execute(task_context(), cfg) == []


def test_ordering_a_non_number_fails_naming_the_side() -> None:
    with pytest.raises(TaskFailed, match="'right' is 'abc', not a number"):
        condition.holds_for("LESS_THAN", 1, "abc")


def test_a_condition_is_a_branch_whatever_its_fields_and_python_only_when_asked() -> None:
    assert tasks.task_type("condition").branches({})
    assert tasks.task_type("python").branches({"branch": True})
    assert not tasks.task_type("python").branches({})


def test_an_unknown_operator_is_a_definition_error() -> None:
    task = TaskSpec(key="c", type="condition", config={"op": "LIKE", "left": 1, "right": 2})
    with pytest.raises(Exception, match="op"):
        tasks.config_of(task)
