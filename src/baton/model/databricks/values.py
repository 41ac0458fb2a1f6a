"""Databricks dynamic value references (`{{job.parameters.day}}`) -> baton templates.

Databricks puts `{{...}}` references in task parameters; baton renders Jinja2 templates in
task fields (`baton.tasks.template`) with `params`, `upstream`, `item`, `run_id`,
`task_key`, `attempt` and, for scheduled runs, the data interval. Each reference becomes the
equivalent expression; one with no equivalent is reported, and left as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from baton.model.databricks.report import Report

_REFERENCE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Parts of a run's time: a slice of the ISO-8601 text baton renders.
_TIME_PARTS = {
    "iso_datetime": "",
    "iso_date": "[:10]",
    "year": "[0:4]",
    "month": "[5:7]",
    "day": "[8:10]",
    "hour": "[11:13]",
    "minute": "[14:16]",
    "second": "[17:19]",
}
_RUN_NAMES = {
    "job.run_id": "run_id",
    "run_id": "run_id",
    "task.name": "task_key",
    "task_key": "task_key",
    "task.execution_count": "attempt",
    "task_retry_count": "attempt - 1",
}


@dataclass
class Scope:
    """What a reference in one task may name."""

    path: str  # the task's path in the job, for messages
    job_name: str
    params: frozenset[str]
    # key -> its baton type, for tasks whose values may be read; None: not a task
    task_type: Callable[[str], str | None]
    in_for_each: bool = False
    needs: list[str] = field(default_factory=list)  # tasks whose values are read


def translate(value: Any, scope: Scope, report: Report) -> Any:
    """`value` (a string, or lists and mappings of them) with each reference translated."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: _one(m.group(1), m.group(0), scope, report), value)
    if isinstance(value, list):
        return [translate(v, scope, report) for v in value]
    if isinstance(value, dict):
        return {k: translate(v, scope, report) for k, v in value.items()}
    return value


def _one(ref: str, written: str, scope: Scope, report: Report) -> str:
    expression = _expression(ref, scope, report)
    if expression is None:
        report.unsupported_field(scope.path, f"the reference {written} has no baton equivalent")
        return written
    return "{{ " + expression + " }}"


def _expression(ref: str, scope: Scope, report: Report) -> str | None:
    parts = ref.split(".")
    if ref in _RUN_NAMES:
        return _RUN_NAMES[ref]
    if ref == "job.name":
        return repr(scope.job_name)
    if parts[:2] == ["job", "parameters"] and len(parts) == 3:
        name = parts[2]
        if name not in scope.params:
            return None
        return _get("params", name)
    if (parts[:2] in (["job", "start_time"], ["job", "trigger"]) or ref in ("start_date",)) and (
        (part := _time_part(parts)) is not None
    ):
        report.note(
            scope.path,
            f"{{{{{ref}}}}} is the scheduled time (data_interval_end) of a scheduled run;"
            " a run started by hand has none, and rendering it then fails the task",
        )
        return f"data_interval_end{_TIME_PARTS[part]}"
    if parts[0] == "tasks" and len(parts) == 4 and parts[2] == "values":
        task, key = parts[1], parts[3]
        kind = scope.task_type(task)
        if kind is None:
            return None
        scope.needs.append(task)
        # A notebook's values come from its `result` cell; any other task's are its result.
        base = _get("upstream", task) + (".result" if kind == "notebook" else "")
        return _get(base, key)
    if scope.in_for_each and parts[0] == "input":
        rest = parts[1:]
        expression = "item"
        for part in rest:
            expression = _get(expression, part)
        return expression
    if ref.startswith("secrets/") and ref.count("/") == 2:
        return None  # handled by `secret_references` before templates are read
    return None


def as_text(value: Any) -> Any:
    """A field that is one `{{ expression }}` rendered as text, not as the value's type.

    Rendering reads a field that is one expression back as a Python literal, so `30` or
    `"30" | string` both give the int; a JSON string literal reads back as the text.
    """
    if isinstance(value, str):
        whole = re.fullmatch(r"\{\{ (.*) \}\}", value)
        if whole and "}}" not in whole.group(1):
            return "{{ (" + whole.group(1) + ") | string | tojson }}"
    return value


def param(name: str) -> str:
    """The expression of job parameter `name`."""
    return _get("params", name)


def _get(base: str, name: str) -> str:
    """`base.name`, or `base['name']` where Jinja would find a dict method first
    (`upstream.count` is dict.count, not the task `count`)."""
    if _IDENTIFIER.fullmatch(name) and not hasattr(dict, name):
        return f"{base}.{name}"
    return f"{base}[{name!r}]"


def _time_part(parts: list[str]) -> str | None:
    if parts == ["start_date"]:
        return "iso_date"
    if parts[:2] == ["job", "trigger"]:
        parts = parts[1:] if parts[2:3] == ["time"] else []
    return parts[2] if len(parts) == 3 and parts[2] in _TIME_PARTS else None


_SECRET = re.compile(r"\{\{\s*secrets/([^/{}\s]+)/([^/{}\s]+)\s*\}\}")


def secret_references(value: Any) -> Any:
    """`{{secrets/scope/key}}` -> `${secret:SCOPE_KEY}`: baton reads secrets from the
    environment of the worker (or its secrets backend) by one name."""
    if isinstance(value, str):
        return _SECRET.sub(
            lambda m: "${secret:" + _secret_name(m.group(1), m.group(2)) + "}", value
        )
    if isinstance(value, list):
        return [secret_references(v) for v in value]
    if isinstance(value, dict):
        return {k: secret_references(v) for k, v in value.items()}
    return value


def _secret_name(scope: str, key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", f"{scope}_{key}").upper()
