"""Jinja2 templates in task fields: `"{{ params.day }}"`, `"{{ upstream.extract }}"`.

Every string field of a task that is not python may be a template, rendered when the attempt
starts with `params`, `upstream` (results by key), `item` (a mapped task's element),
`run_id`, `task_key` and `attempt`; a scheduled or backfilled run adds `logical_date`,
`data_interval_start`, `data_interval_end` (ISO-8601 UTC) and `ds` (the logical date as
YYYY-MM-DD, Airflow's name), and an event-triggered run `trigger` (what fired it, e.g.
`trigger.path` for a file). A field that is one expression keeps the value's type
(`port: "{{ params.port }}"` gives an int); text around it makes a string.
"""

from __future__ import annotations

from typing import Any

from baton.model.context import NO_ITEM, TaskContext
from baton.tasks.base import TaskFailed


def is_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_template(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_template(v) for v in value)
    return False


def render(value: Any, ctx: TaskContext) -> Any:
    """`value` with every template in it rendered for this attempt."""
    if not is_template(value):
        return value
    from jinja2 import StrictUndefined, TemplateError  # only templates pay for Jinja2
    from jinja2.nativetypes import NativeEnvironment

    env = NativeEnvironment(undefined=StrictUndefined, autoescape=False)
    names = {
        "params": ctx.params,
        "upstream": ctx.upstream,
        "item": None if ctx.item is NO_ITEM else ctx.item,
        "run_id": ctx.run_id,
        "task_key": ctx.task_key,
        "attempt": ctx.attempt,
        "logical_date": ctx.logical_date,
        "data_interval_start": ctx.data_interval_start,
        "data_interval_end": ctx.data_interval_end,
        "ds": ctx.logical_date[:10] if ctx.logical_date else None,
        "trigger": ctx.trigger_info,
    }

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if not (isinstance(v, str) and is_template(v)):
            return v
        try:
            return env.from_string(v).render(**names)
        except TemplateError as exc:
            raise TaskFailed(f"cannot render {v!r}: {exc}", retryable=False) from None

    return walk(value)
