"""Typed access to the fields of loaded YAML mappings, and how a wrong value is shown.

Split from `model.yaml_spec` so the parser stays readable; `model.assets` uses the same
helpers. Errors go through a `Locator` (the YAML parser, which knows each key's line), so a
wrong value is always reported with its field and line.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn, Protocol

from baton.errors import DefinitionError
from baton.model.trigger_rules import TriggerRule

_TRIGGER_RULES = tuple(rule.value for rule in TriggerRule)


class Locator(Protocol):
    """Reports a problem at the line of a key or item of the loaded data."""

    def fail(self, message: str, *, line: int | None, task: str | None = None) -> NoReturn: ...

    def line_of(self, obj: object) -> int | None: ...

    def key_line(self, mapping: dict[Any, Any], key: object) -> int | None: ...

    def item_line(self, items: list[Any], index: int) -> int | None: ...


class NoLines:
    """A Locator for data that was not read from a file (Python definitions): no lines."""

    def fail(self, message: str, *, line: int | None, task: str | None = None) -> NoReturn:
        raise DefinitionError(message, task=task, line=line)

    def line_of(self, obj: object) -> int | None:
        return None

    def key_line(self, mapping: dict[Any, Any], key: object) -> int | None:
        return None

    def item_line(self, items: list[Any], index: int) -> int | None:
        return None


class Fields:
    """Typed access to one task's common fields; a wrong value names the field and line."""

    def __init__(self, parser: Locator, item: dict[str, Any], task: str) -> None:
        self.parser, self.item, self.task = parser, item, task

    def fail(self, field: str, expected: str) -> NoReturn:
        self.parser.fail(
            f"'{field}' must be {expected}, got {show(self.item[field])}",
            line=self.parser.key_line(self.item, field),
            task=self.task,
        )

    def text(self, field: str) -> str:
        value = self.item[field]
        if not isinstance(value, str) or not value:
            self.fail(field, "a non-empty string")
        return value

    def optional_text(self, field: str) -> str | None:
        return None if self.item.get(field) is None else self.text(field)

    def names(self, field: str) -> list[str]:
        """A list of strings; a single string stands for a list of one."""
        value = self.item.get(field)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(field, "a list of strings")
        for i, name in enumerate(value):
            if name in value[:i]:
                # A repeated upstream would be counted twice by the trigger rule counters.
                self.parser.fail(
                    f"'{field}' lists '{name}' twice",
                    line=self.parser.key_line(self.item, field),
                    task=self.task,
                )
        return list(value)

    def integer(self, field: str, *, default: int, minimum: int | None = None) -> int:
        value = self.item.get(field)
        if value is None:
            return default
        if not is_int(value) or (minimum is not None and value < minimum):
            self.fail(field, "an integer" + (f" >= {minimum}" if minimum is not None else ""))
        return int(value)

    def number(
        self,
        field: str,
        *,
        default: float,
        minimum: float,
        maximum: float | None = None,
        exclusive: bool = False,
    ) -> float:
        """A finite number of seconds or a fraction, in bounds; null means the default."""
        value = self.item.get(field)
        if value is None:
            return default
        if is_number(value):
            above = value > minimum if exclusive else value >= minimum
            if above and (maximum is None or value <= maximum):
                return float(value)
        bound = f"> {minimum:g}" if exclusive else f">= {minimum:g}"
        if maximum is not None:
            bound = f"between {minimum:g} and {maximum:g}"
        self.fail(field, f"a number {bound}")

    def optional_number(
        self, field: str, *, minimum: float, exclusive: bool = False
    ) -> float | None:
        if self.item.get(field) is None:
            return None
        return self.number(field, default=0.0, minimum=minimum, exclusive=exclusive)

    def backoff(self) -> float | bool:
        """A multiplier >= 1, or a boolean (which `policy_fields` reads)."""
        value = self.item.get("retry_backoff")
        if isinstance(value, bool):
            return value
        return self.number("retry_backoff", default=1.0, minimum=1.0)

    def trigger_rule(self) -> TriggerRule:
        value = self.item.get("trigger_rule")
        if value is None:
            return TriggerRule.ALL_SUCCESS
        if value not in _TRIGGER_RULES:
            self.fail("trigger_rule", "one of " + ", ".join(_TRIGGER_RULES))
        return TriggerRule(value)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite int or float; an int too large for a float is none (it would overflow)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def kind(value: object) -> str:
    """How a wrong value is described: its YAML kind, and the value when it is short."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return show(value)


def show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
