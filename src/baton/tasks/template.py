"""Jinja2 templates in task fields: `"{{ params.day }}"`, `"{{ upstream.extract }}"`.

Every string field of a task that is not python may be a template, rendered when the attempt
starts with `params`, `upstream` (results by key), `item` (a mapped task's element),
`run_id`, `task_key` and `attempt`; a scheduled or backfilled run adds `logical_date`,
`data_interval_start`, `data_interval_end` (ISO-8601 UTC) and `ds` (the logical date as
YYYY-MM-DD, Airflow's name), an event-triggered run `trigger` (what fired it, e.g.
`trigger.path` for a file), and a run of a partitioned flow `partition` (its key; a time
partition's interval is the data interval). A field that is one expression keeps the value's type
(`port: "{{ params.port }}"` gives an int); text around it makes a string.

A secret reference (`${secret:NAME}`) is a value known only at run time too; the worker puts
secret values in before rendering, as literals (see `literal`), never as template text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from baton.model.context import NO_ITEM, TaskContext
from baton.tasks.base import TaskFailed

SECRET_REF = "${secret:"  # how a secret reference starts (baton.execution.secrets resolves it)


def is_template(value: Any) -> bool:
    """Whether `value` holds what is known only when the attempt runs: a Jinja2 template or
    a secret reference; a field holding one is checked by name only until then."""
    return _holds(value, lambda s: is_jinja(s) or SECRET_REF in s)


def is_jinja(text: str) -> bool:
    return "{{" in text or "{%" in text


def literal(text: str) -> str:
    """A template that renders to `text` as it is: `{{` or `{%` in it is not syntax."""
    return "{{ " + repr(text) + " }}"  # Jinja reads Python's string escapes


def _holds(value: Any, found: Callable[[str], bool]) -> bool:
    if isinstance(value, str):
        return found(value)
    if isinstance(value, dict):
        return any(_holds(v, found) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds(v, found) for v in value)
    return False


def render(value: Any, ctx: TaskContext) -> Any:
    """`value` with every template in it rendered for this attempt."""
    if not _holds(value, is_jinja):
        return value
    from jinja2 import StrictUndefined, TemplateError, Undefined  # only templates pay for it
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
        "partition": ctx.partition,
    }

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if not (isinstance(v, str) and is_jinja(v)):
            return v
        try:
            out = env.from_string(v).render(**names)
            if isinstance(out, Undefined):
                # A field that is one expression gets its value unrendered: an unknown name
                # would reach the task as an Undefined object. Rendering it raises, naming it.
                str(out)
        except TemplateError as exc:
            raise TaskFailed(f"cannot render {v!r}: {exc}", retryable=False) from None
        return out

    return walk(value)
