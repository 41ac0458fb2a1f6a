"""Task types: one module each, registered here by name (a plain dict, not a metaclass)."""

from __future__ import annotations

from pydantic import ValidationError

from baton.errors import DefinitionError
from baton.model.spec import TaskSpec
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
        return task_type.config.model_validate(task.config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
            for e in exc.errors()
        )
        raise DefinitionError(
            f"invalid fields for a {task.type} task: {problems}", task=task.key
        ) from None
