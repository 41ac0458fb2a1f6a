"""What the UI and API know about task types comes from the types themselves."""

from __future__ import annotations

import pytest

from baton import tasks
from baton.model.names import task_run_name
from baton.model.spec import TaskSpec


@pytest.mark.parametrize("name", sorted(tasks.MODULES))
def test_every_type_has_its_own_icon(name: str) -> None:
    assert tasks.icon(name) == name


def test_an_unknown_type_shows_the_python_icon() -> None:
    assert tasks.icon("from_the_future") == tasks.icon("") == "python"


@pytest.mark.parametrize(
    ("type_", "config", "expected"),
    [
        ("python", {}, True),
        ("sensor", {"python": "flows:ready"}, True),
        ("sensor", {"sql": "select 1", "conn": "db"}, False),
        ("sensor", {"python": None}, False),
        ("shell", {"command": "true"}, False),
        ("from_the_future", {}, False),
    ],
)
def test_which_tasks_run_user_code(type_: str, config: dict[str, object], expected: bool) -> None:
    assert tasks.runs_user_code(TaskSpec(key="t", type=type_, config=config)) is expected


def test_a_task_run_is_named_key_dot_n() -> None:
    assert task_run_name("each", 2) == "each.2"
    assert task_run_name("each", -1) == task_run_name("each", None) == "each"
