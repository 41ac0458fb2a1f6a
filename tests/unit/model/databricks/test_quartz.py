"""Quartz cron -> 5-field cron: what converts, and what is refused by name."""

from __future__ import annotations

import pytest

from baton.errors import DefinitionError
from baton.model import schedules
from baton.model.databricks import quartz


@pytest.mark.parametrize(
    ("expression", "cron"),
    [
        ("0 0 3 * * ?", "0 3 * * *"),
        ("0 30 6 ? * MON-FRI", "30 6 * * MON-FRI"),
        ("0 0/15 * * * ?", "0-59/15 * * * *"),
        ("0 0 12 ? * 2,4,6", "0 12 * * 1,3,5"),  # Quartz: 1 is Sunday; cron: 0
        ("0 0 12 ? * 1-7/2", "0 12 * * 0-6/2"),
        ("0 15 10 15 * ?", "15 10 15 * *"),
        ("0 0 8 ? JUL WED *", "0 8 * JUL WED"),
        ("0 0 0 1 1 ?", "0 0 1 1 *"),
    ],
)
def test_converts(expression: str, cron: str) -> None:
    assert quartz.to_cron(expression) == cron
    schedules.parse_schedule({"cron": cron})  # and baton reads what it gives


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("30 0 3 * * ?", "fires at second '30'"),
        ("0 15 10 L * ?", "uses L (last) in its day of month"),
        ("0 15 10 ? * 6L", "uses L (last) in its day of week"),
        ("0 15 10 15W * ?", "uses W (nearest weekday)"),
        ("0 15 10 ? * 6#3", "uses # (nth weekday)"),
        ("0 0 3 * * ? 2030", "names years ('2030')"),
        ("0 0 3 * *", "has 5 fields"),
        ("0 0 3 5 * MON", "gives both a day of month and a day of week"),
        ("0 0 3 ? * 8", "has day of week 8"),
        ("0 0 3 ? * $", "has '$' as its day of week"),
    ],
)
def test_what_cannot_convert_is_named(expression: str, named: str) -> None:
    with pytest.raises(DefinitionError, match=r"schedule\.quartz_cron_expression") as exc:
        quartz.to_cron(expression)
    assert named in str(exc.value)
