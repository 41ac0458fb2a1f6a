"""Task types: the built-ins, one module each, registered here by name (a plain dict, not a
metaclass), and those other packages add through the entry point group `baton.task_types`
(`baton.tasks.plugins`). Every type declares the same things (`baton.tasks.base.TaskType`).

A type's module is imported the first time a task of that type is checked or run, so a flow
of python tasks never pays for importing what SQL or HTTP tasks need, nor for looking for
plugins.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import msgspec

from baton.errors import DefinitionError
from baton.model.context import TaskContext
from baton.model.names import did_you_mean
from baton.model.spec import TaskSpec, has_refs, validated
from baton.tasks import plugins, template
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
    "spark": "spark",
    "condition": "condition",
    "container": "container",
    "approval": "approval",
}
# The icons the UI draws (`#t-<icon>` in ui/templates/icons.html); a plugin's other icon
# shows as `plugin`.
ICONS = frozenset({*MODULES, "plugin"})

_loaded: dict[str, TaskType] = {}


def task_type(name: str, *, task: str | None = None) -> TaskType:
    """The task type called `name`; DefinitionError if there is none, or if it is a plugin
    that cannot be loaded (the error names it and says why)."""
    found = _loaded.get(name)
    if found is not None:
        return found
    module = MODULES.get(name)
    if module is not None:
        found = importlib.import_module(f"baton.tasks.{module}").TYPE
        assert isinstance(found, TaskType)
    else:
        ep = plugins.entry_points().get(name)
        if ep is None:
            hint = did_you_mean(name, names())
            raise DefinitionError(
                f"unknown task type '{name}'{hint}{' ' if hint else '; '}"
                f"installed types: {', '.join(names())}",
                task=task,
            )
        try:
            found = plugins.load(ep)
        except DefinitionError as exc:
            raise DefinitionError(exc.message, task=task) from None
    _loaded[name] = found
    return found


def names() -> list[str]:
    """Every installed type's name: the built-ins, then the plugins (sorted)."""
    return [*MODULES, *sorted(n for n in plugins.entry_points() if n not in MODULES)]


def is_known(name: str) -> bool:
    """Whether a type of this name is installed (a plugin's is not imported to tell)."""
    return name in MODULES or name in plugins.entry_points()


def installed() -> list[plugins.Plugin]:
    """Every task type for `baton plugins list`; a plugin that cannot be loaded is listed
    with the reason, and one that takes a built-in's name as refused."""
    version = _baton_version()
    listed = [plugins.Plugin(n, f"baton.tasks.{m}", version, True) for n, m in MODULES.items()]
    for name, ep in sorted(plugins.entry_points().items()):
        error = None
        if name in MODULES:
            error = f"the built-in type '{name}' has this name; the plugin is not used"
        else:
            try:
                error = _missing(task_type(name))
            except DefinitionError as exc:
                error = exc.message
        listed.append(plugins.describe(ep, error))
    return listed


def icon(name: str) -> str:
    """The UI icon of the task type `name`; a type this baton does not know shows python's,
    a plugin's own icon that the UI does not draw shows as `plugin`."""
    if not is_known(name):
        return "python"
    try:
        drawn = task_type(name).icon
    except DefinitionError:  # a broken plugin
        return "plugin"
    return drawn if drawn in ICONS else "plugin"


def runs_user_code(task: TaskSpec) -> bool:
    """Whether the task imports the flow's Python code (which the API server never does)."""
    return is_known(task.type) and task_type(task.type, task=task.key).user_code(task.config)


def check_installed(task: TaskSpec) -> None:
    """Refuse a task whose type's optional dependencies are not installed, naming what to
    install, rather than failing on a ModuleNotFoundError when it runs."""
    missing = _missing(task_type(task.type, task=task.key))
    if missing:
        raise DefinitionError(missing, task=task.key)


def _missing(kind: TaskType) -> str | None:
    """What a type needs that is not installed, and how to install it; None: nothing."""
    missing = [m for m in kind.requires if not _importable(m)]
    if not missing:
        return None
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"{kind.name} tasks need {', '.join(missing)}, which {verb} not installed: "
        + install_hint(kind.extra, missing)
    )


def install_hint(extra: str | None, missing: list[str]) -> str:
    """`pip install 'baton[notebook]'` (an extra of baton's, or `dist[extra]` of another
    distribution), else the missing modules themselves."""
    if extra is None:
        return "pip install " + " ".join(missing)
    return f"pip install '{extra if '[' in extra else f'baton[{extra}]'}'"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that fails to import
        return False


def _baton_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("baton")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "0+unknown"


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
