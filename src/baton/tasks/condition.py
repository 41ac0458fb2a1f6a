"""`condition` tasks: compare two values and follow one side of the graph.

    - key: is_big
      type: condition
      op: GREATER_THAN            # EQUAL_TO, NOT_EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL,
      left: "{{ upstream.count }}"  # LESS_THAN, LESS_THAN_OR_EQUAL
      right: "100"
      if_true: [load_all]         # downstream keys to follow when it holds
      if_false: [load_sample]     # ... and when it does not

It is a branch: the downstream tasks of the side not taken end `skipped` (a downstream task
named on neither side is skipped too, as a `@task(branch=True)` skips what it did not choose),
and the result is the list of keys followed. The operator names are Databricks' (a
`condition_task` imports as one): equality compares the values as text, so `1` equals "1";
the ordering operators compare numbers, and a value that is not one fails the task.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec

from baton.model.context import TaskContext
from baton.tasks.base import TaskConfig, TaskFailed, TaskType

Op = Literal[
    "EQUAL_TO",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
]
Key = Annotated[str, msgspec.Meta(min_length=1)]
_ORDER: dict[str, Callable[[float, float], bool]] = {
    "GREATER_THAN": operator.gt,
    "GREATER_THAN_OR_EQUAL": operator.ge,
    "LESS_THAN": operator.lt,
    "LESS_THAN_OR_EQUAL": operator.le,
}


class ConditionConfig(TaskConfig, frozen=True):
    op: Op
    left: Any
    right: Any
    if_true: list[Key] = []
    if_false: list[Key] = []


def execute(ctx: TaskContext, cfg: ConditionConfig) -> list[str]:
    holds = holds_for(cfg.op, cfg.left, cfg.right)
    print(f"{_text(cfg.left)!r} {cfg.op} {_text(cfg.right)!r}: {str(holds).lower()}")
    return list(cfg.if_true if holds else cfg.if_false)


def holds_for(op: str, left: Any, right: Any) -> bool:
    if op == "EQUAL_TO":
        return _text(left) == _text(right)
    if op == "NOT_EQUAL":
        return _text(left) != _text(right)
    return _ORDER[op](_number(left, "left"), _number(right, "right"))


def _text(value: Any) -> str:
    # Templates render `{{ x }}` to the value's own type; Databricks compares the text.
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any, side: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TaskFailed(
            f"'{side}' is {value!r}, not a number: the ordering operators compare numbers",
            retryable=False,
        ) from None


def _always(config: dict[str, Any]) -> bool:
    return True


TYPE = TaskType(
    name="condition", config=ConditionConfig, execute=execute, icon="condition", branches=_always
)
