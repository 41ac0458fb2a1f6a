"""Task types from other packages: the entry point group `baton.task_types`.

A package adds `type: dbt` by declaring, in its pyproject.toml,

    [project.entry-points."baton.task_types"]
    dbt = "baton_dbt:DbtTask"

where `DbtTask` is a `baton.TaskType(...)`, or a class with the same attributes (`config`,
`execute`, and optionally `icon`, `user_code`, `code`, `requires`, `extra`) that is
instantiated without arguments. The entry point's name is the type's name. A plugin is
imported the first time a task of its type is checked or run (or by `baton plugins list`),
never before: one that fails to import, or is not a task type, is reported by its name and
breaks nothing else. A built-in type's name cannot be taken by a plugin.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

from baton.errors import DefinitionError
from baton.tasks.base import TaskConfig, TaskType

if TYPE_CHECKING:
    from importlib import metadata

GROUP = "baton.task_types"


class Plugin(NamedTuple):
    """One installed task type, as `baton plugins list` shows it."""

    name: str
    module: str  # where it is defined (`baton.tasks.shell`, `baton_dbt`)
    version: str  # of the distribution that brings it
    builtin: bool
    error: str | None = None  # why it cannot be used (it failed to import, ...)


@functools.cache
def entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed plugins by type name (read once per process: installing a package
    while baton runs takes a restart, as with any Python package)."""
    # Imported here: it costs a `baton run` of built-in types ~20 ms it does not need.
    from importlib import metadata

    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # two distributions, one name: the first one wins
    return found


def load(ep: metadata.EntryPoint) -> TaskType:
    """The task type an entry point names; a DefinitionError naming the plugin and saying
    why if it cannot be had."""
    where = f"plugin '{ep.name}' ({ep.value}"
    dist = distribution(ep)
    where += f", from {dist.name} {dist.version})" if dist is not None else ")"
    try:
        # What it prints as it is imported must not mix with baton's output (`--json`).
        with contextlib.redirect_stdout(sys.stderr):
            found = ep.load()
    except (Exception, SystemExit) as exc:  # whatever its import raises is its own fault
        raise DefinitionError(
            f"{where} could not be imported: {type(exc).__name__}: {exc}"
        ) from None
    try:
        return _as_type(ep.name, found, dist)
    except Exception as exc:
        raise DefinitionError(f"{where} is not a task type: {exc}") from None


def describe(ep: metadata.EntryPoint, error: str | None) -> Plugin:
    dist = distribution(ep)
    return Plugin(
        ep.name,
        ep.value.partition(":")[0].strip(),
        dist.version if dist is not None else "",
        False,
        error,
    )


def distribution(ep: metadata.EntryPoint) -> metadata.Distribution | None:
    return getattr(ep, "dist", None)


def _as_type(name: str, found: Any, dist: metadata.Distribution | None) -> TaskType:
    if isinstance(found, TaskType):
        kind = found
    else:
        if not inspect.isclass(found):
            raise TypeError(f"expected a baton.TaskType or a class, got {type(found).__name__}")
        obj = found()
        fields = {f: getattr(obj, f) for f in TaskType._fields if hasattr(obj, f)}
        fields.setdefault("icon", "plugin")
        fields["name"] = name
        missing = [f for f in ("config", "execute") if f not in fields]
        if missing:
            raise TypeError(f"{found.__name__} has no {' and no '.join(missing)}")
        kind = TaskType(**fields)
    if not (inspect.isclass(kind.config) and issubclass(kind.config, TaskConfig)):
        raise TypeError("its config must be a subclass of baton.TaskConfig")
    if not callable(kind.execute):
        raise TypeError("its execute must be callable")
    requires = tuple(kind.requires)
    if not all(isinstance(r, str) and r for r in requires):
        raise TypeError("its requires must be module names")
    # Its extra is one of its own distribution's (`pip install 'baton-dbt[snowflake]'`).
    extra = kind.extra
    if extra is not None and dist is not None and "[" not in extra:
        extra = f"{dist.name}[{extra}]"
    return kind._replace(name=name, requires=requires, extra=extra)
