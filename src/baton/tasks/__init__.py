"""Task types: one module each, registered here by name (a plain dict, not a metaclass).

A type's module is imported the first time a task of that type is checked or run, so a flow
of python tasks never pays for importing what SQL or HTTP tasks need.
"""

from __future__ import annotations

import importlib
from typing import Any

import msgspec

from baton.errors import DefinitionError
from baton.model.context import TaskContext
from baton.model.spec import TaskSpec, has_refs, validated
from baton.tasks import template
from baton.tasks.base import TaskConfig, TaskType

# type name -> the module under baton.tasks that defines its TYPE
MODULES: dict[str, str] = {
    "python": "python",
    "shell": "shell",
    "script": "script",
    "jar": "jar",
    "sql": "sql",
    "http": "http",
    "notebook": "notebook",
    "flow": "flow",
    "sensor": "sensor",
}

_loaded: dict[str, TaskType] = {}


def task_type(name: str, *, task: str | None = None) -> TaskType:
    """The task type called `name`; DefinitionError if there is none."""
    found = _loaded.get(name)
    if found is None:
        module = MODULES.get(name)
        if module is None:
            raise DefinitionError(
                f"unknown task type '{name}'; known types: {', '.join(sorted(MODULES))}",
                task=task,
            )
        found = importlib.import_module(f"baton.tasks.{module}").TYPE
        assert isinstance(found, TaskType)
        _loaded[name] = found
    return found


def icon(name: str) -> str:
    """The UI icon of the task type `name`; a type this baton does not know shows python's."""
    return task_type(name if name in MODULES else "python").icon


def runs_user_code(task: TaskSpec) -> bool:
    """Whether the task imports the flow's Python code (which the API server never does)."""
    return task.type in MODULES and task_type(task.type, task=task.key).user_code(task.config)


def config_of(task: TaskSpec, ctx: TaskContext | None = None) -> TaskConfig | None:
    """The task's type-specific fields, validated; a DefinitionError names the bad field.

    With a context, task results and params referenced in the config are put in first (a
    python task resolves its own arguments, so its config is taken as it is).
    """
    kind = task_type(task.type, task=task.key)
    config = task.config
    if ctx is not None and task.type != "python":
        config = template.render(ctx.resolve(config), ctx)
    elif (
        ctx is None and task.type != "python" and (has_refs(config) or template.is_template(config))
    ):
        # Values known only at run time: check the field names now, the values then.
        _check_names(task, kind, config)
        return None
    try:
        return validated(kind.config, config)
    except ValueError as exc:
        raise DefinitionError(
            f"invalid fields for a {task.type} task: {exc}", task=task.key
        ) from None


def _check_names(task: TaskSpec, kind: TaskType, config: dict[str, Any]) -> None:
    fields = msgspec.structs.fields(kind.config)
    known = {f.encode_name for f in fields}
    unknown = sorted(set(config) - known)
    missing = sorted(f.encode_name for f in fields if f.required and f.encode_name not in config)
    if unknown or missing:
        problems = [f"unknown field '{n}'" for n in unknown]
        problems += [f"missing required field '{n}'" for n in missing]
        raise DefinitionError(
            f"invalid fields for a {task.type} task: {'; '.join(problems)}", task=task.key
        )
