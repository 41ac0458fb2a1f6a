"""Task types: one module each, registered here by name (a plain dict, not a metaclass)."""

from __future__ import annotations

from baton.errors import DefinitionError
from baton.model.spec import TaskSpec, validated
from baton.tasks import python, shell
from baton.tasks.base import TaskConfig, TaskType

TYPES: dict[str, TaskType] = {t.name: t for t in (python.TYPE, shell.TYPE)}


def config_of(task: TaskSpec) -> TaskConfig:
    """The task's type-specific fields, validated; a DefinitionError names the bad field."""
    task_type = TYPES.get(task.type)
    if task_type is None:
        raise DefinitionError(
            f"unknown task type '{task.type}'; known types: {', '.join(sorted(TYPES))}",
            task=task.key,
        )
    try:
        return validated(task_type.config, task.config)
    except ValueError as exc:
        raise DefinitionError(
            f"invalid fields for a {task.type} task: {exc}", task=task.key
        ) from None
