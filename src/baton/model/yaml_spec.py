"""YAML flow definitions -> FlowSpec, with errors that point at the line to fix.

The format is the one promised in shared/DESIGN.md section 5. Type-specific task fields are
collected into `TaskSpec.config` unchecked: the task-type registry validates them. Graph
checks (cycles, unknown upstreams) live in `model.graph`; duplicate task keys are also caught
here because only here do we know the line of each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar, get_args

import msgspec
import yaml

from baton.errors import DefinitionError
from baton.model import (
    assets,
    cache,
    graph,
    json_text,
    labels,
    names,
    namespaces,
    notifications,
    params,
    partitions,
    triggers,
)
from baton.model.compute import parse_compute, with_default
from baton.model.resources import Resources, parse_resources
from baton.model.retry import RETRY_OPTIONS, policy_fields
from baton.model.spec import (
    DEFAULT_QUEUE,
    FlowSpec,
    ParamSpec,
    ParamType,
    TaskSpec,
    declared_order,
    validated,
)
from baton.model.yaml_fields import Fields, is_int, kind, show

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_FLOW_KEYS = (
    "name",
    "namespace",
    "description",
    "tags",
    "owner",
    "params",
    "max_active_runs",
    "schedule",
    "triggers",
    "notifications",
    "assets",
    "partitions",
    "compute",
    "tasks",
)
_PARAM_KEYS = ("type", "items", "default", "required", "description")
_TASK_KEYS = frozenset(
    {
        "key",
        "type",
        "depends_on",
        "trigger_rule",
        *RETRY_OPTIONS,
        "timeout",
        "queue",
        "pool",
        "priority",
        "inputs",
        "outputs",
        "map_over",
        "cache",
        "resources",
        "group",
        "notifications",
    }
)
_YAML = "tag:yaml.org,2002:"
_PARAM_TYPES: tuple[str, ...] = get_args(ParamType)
_Model = TypeVar("_Model")
_T = TypeVar("_T")


def load_yaml_flow(text: str, *, file: str) -> FlowSpec:
    """Parse one YAML flow definition; `source` is left None for the caller to fill.

    Raises:
        DefinitionError: for malformed YAML or any invalid field, with the file and line.
    """
    try:
        loader = _Loader(text)  # already reads the text, so it may raise too
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        column = f" (column {mark.column + 1})" if mark else ""
        # As PyYAML words it: "while parsing X" (context), "expected Y, but found Z" (problem).
        problem = ", ".join(part for part in (e.context, e.problem) if part)
        raise DefinitionError(
            f"invalid YAML: {problem}{column}", file=file, line=mark.line + 1 if mark else None
        ) from None
    # No line known: a character YAML does not allow; `!!int x` (PyYAML raises ValueError).
    except (yaml.YAMLError, ValueError) as e:
        raise DefinitionError(f"invalid YAML: {e}", file=file) from None
    if (path := json_text.not_unicode_at(data)) is not None:  # a "\ud800" escape
        where = ".".join(map(str, path)).encode("utf-8", "backslashreplace").decode()
        raise DefinitionError(f"'{where}' is not valid Unicode (a lone surrogate)", file=file)
    return _Parser(file, loader).flow(data)


class _Loader(yaml.SafeLoader):
    """A safe loader that remembers, by object id, the line of each mapping and sequence
    and of each key or item inside it, so errors found after loading can point at a line.

    A side table keeps the loaded values plain dicts and lists: they flow into the spec as-is.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, dict[Any, int]] = {}
        self.item_lines: dict[int, list[int]] = {}
        self.start_lines: dict[int, int] = {}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    # Yield first, fill after: the same protocol as SafeConstructor, so anchors can recurse.
    data: dict[Any, Any] = {}
    yield data
    _refuse_duplicate_keys(node)
    data.update(loader.construct_mapping(node))  # also flattens `<<` merge keys into node
    loader.start_lines[id(data)] = node.start_mark.line + 1
    loader.key_lines[id(data)] = {
        loader.construct_object(key_node): key_node.start_mark.line + 1
        for key_node, _ in node.value
    }


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Iterator[list[Any]]:
    data: list[Any] = []
    yield data
    data.extend(loader.construct_sequence(node))
    loader.start_lines[id(data)] = node.start_mark.line + 1
    loader.item_lines[id(data)] = [item.start_mark.line + 1 for item in node.value]


def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
    """PyYAML keeps the last of two equal keys; a definition that says `retries` twice is
    a mistake, so it is refused. Keys brought in by a `<<` merge may be overridden."""
    seen: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _YAML + "merge":
            continue
        same = (key_node.tag, key_node.value)
        if same in seen:
            raise yaml.constructor.ConstructorError(
                problem=f"duplicate key '{key_node.value}' (first on line {seen[same]})",
                problem_mark=key_node.start_mark,
            )
        seen[same] = key_node.start_mark.line + 1


# Plain scalars are read close to YAML 1.2, whose values are JSON's. YAML 1.1 (PyYAML's
# default) turns `on: failure` into the key True, the country code NO into False,
# `at: 12:30` into 750 (base 60), `0755` into 493 (octal) and dates into date objects.
# Here booleans are true/false only; integers are decimal, 0x or 0b; the rest stays a string.
_SCALARS = {
    "bool": (r"true|True|TRUE|false|False|FALSE", "tTfF"),
    "int": (r"[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0b[01_]+", "-+0123456789"),
    "float": (
        r"[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
}


def _refuse_tag(loader: _Loader, node: yaml.Node) -> NoReturn:
    raise yaml.constructor.ConstructorError(
        problem=f"the tag {node.tag.replace(_YAML, '!!')} is not supported: a flow holds"
        " JSON values only",
        problem_mark=node.start_mark,
    )


def _configure_loader() -> None:
    _Loader.add_constructor(_YAML + "map", _construct_mapping)
    _Loader.add_constructor(_YAML + "seq", _construct_sequence)
    # Explicit tags that would put non-JSON values (bytes, sets, dates) into the spec.
    for name in ("binary", "set", "omap", "pairs", "timestamp"):
        _Loader.add_constructor(_YAML + name, _refuse_tag)
    replaced = {_YAML + name for name in (*_SCALARS, "timestamp", "value")}
    _Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in replaced]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for name, (pattern, first) in _SCALARS.items():
        _Loader.add_implicit_resolver(_YAML + name, re.compile(f"^(?:{pattern})$"), list(first))


_configure_loader()


class _Parser:
    """Checks loaded YAML data field by field; the first problem raises, with its line."""

    def __init__(self, file: str, loader: _Loader) -> None:
        self.file = file
        self.loader = loader
        self.flow_name: str | None = None

    # -- locating and reporting ------------------------------------------------------------

    def fail(self, message: str, *, line: int | None, task: str | None = None) -> NoReturn:
        raise DefinitionError(message, file=self.file, flow=self.flow_name, task=task, line=line)

    def line_of(self, obj: object) -> int | None:
        return self.loader.start_lines.get(id(obj))

    def key_line(self, mapping: dict[Any, Any], key: object) -> int | None:
        return self.loader.key_lines.get(id(mapping), {}).get(key, self.line_of(mapping))

    def item_line(self, items: list[Any], index: int) -> int | None:
        lines = self.loader.item_lines.get(id(items))
        return lines[index] if lines else self.line_of(items)

    # -- the flow --------------------------------------------------------------------------

    def flow(self, data: object) -> FlowSpec:
        if data is None:
            self.fail("the file is empty; a flow needs at least 'name' and 'tasks'", line=None)
        if not isinstance(data, dict):
            self.fail(
                f"a flow file must be a mapping with 'name' and 'tasks', got {kind(data)}",
                line=self.line_of(data) or 1,
            )
        if isinstance(data.get("name"), str) and _NAME.fullmatch(data["name"]):
            self.flow_name = data["name"]  # known early, so every error below names the flow
        self.check_flow_keys(data)
        if "name" not in data:
            self.fail("the flow has no 'name'", line=self.line_of(data))
        self.flow_name = self.name(data, "name", "flow name")
        if data.get("namespace") is not None:
            namespace = self.name(data, "namespace", "namespace")
            self.flow_name = namespaces.full_name(namespace, self.flow_name)
        if "tasks" not in data:
            self.fail("the flow has no 'tasks'", line=self.line_of(data))
        params = self.params(data)
        spec = {
            "name": self.flow_name,
            "description": self.optional_str(data, "description"),
            "tags": self.labelled(data, "tags", labels.check_tags),
            "owner": self.labelled(data, "owner", labels.check_owner),
            "params": params,
            "param_order": declared_order(params),
            "tasks": self.with_compute(data, self.tasks(data)),
            "max_active_runs": self.max_active_runs(data),
            "schedule": self.schedule(data),
            "triggers": self.triggers(data),
            "notifications": self.notifications(data),
            "assets": assets.parse_assets(data, self),
            "partitions": partitions.parse_partitions(data, self),
        }
        built = self.build(FlowSpec, spec, line=self.line_of(data))
        try:  # the graph checks, here too, so that their errors can point at a line
            graph.validate(built, {t.type for t in built.tasks})
        except DefinitionError as exc:
            items = data["tasks"] if isinstance(data["tasks"], list) else []
            lines = {i.get("key"): self.line_of(i) for i in items if isinstance(i, dict)}
            self.fail(exc.message, line=lines.get(exc.task), task=exc.task)
        return built

    def with_compute(self, data: dict[str, Any], tasks: list[TaskSpec]) -> list[TaskSpec]:
        """The tasks, the flow's `compute` the default of its python tasks."""
        try:
            default = parse_compute(data.get("compute"))
        except DefinitionError as exc:
            self.fail(exc.message, line=self.key_line(data, "compute"))
        if default is None:
            return tasks
        return [
            msgspec.structs.replace(t, config=with_default(t.config, default))
            if t.type == "python"
            else t
            for t in tasks
        ]

    def check_flow_keys(self, data: dict[Any, Any]) -> None:
        for key in data:
            if key not in _FLOW_KEYS:
                hint = names.did_you_mean(str(key), _FLOW_KEYS)
                self.fail(
                    f"unknown key {key!r} (allowed: {', '.join(_FLOW_KEYS)}){hint}",
                    line=self.key_line(data, key),
                )

    def max_active_runs(self, data: dict[str, Any]) -> int | None:
        value = data.get("max_active_runs")
        if value is None or (is_int(value) and value >= 1):
            return value
        self.fail(
            f"'max_active_runs' must be an integer >= 1, got {show(value)}",
            line=self.key_line(data, "max_active_runs"),
        )

    def schedule(self, data: dict[str, Any]) -> str | dict[str, Any] | None:
        """The schedule in its canonical form, so equal schedules make equal versions."""
        value = data.get("schedule")
        if value is None:
            return None
        from baton.model import schedules  # croniter costs ~50 ms: only schedules pay it

        try:
            return schedules.parse_schedule(value).to_builtins()
        except DefinitionError as exc:
            self.fail(exc.message, line=self.key_line(data, "schedule"))

    def triggers(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        items = self.list_of_mappings(data, "triggers")
        for i, item in enumerate(items):
            try:
                triggers.parse_trigger(i + 1, item)
            except DefinitionError as exc:
                self.fail(exc.message, line=self.item_line(items, i))
        return items  # stored as written: a version's hash does not depend on model.triggers

    def notifications(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        items = self.list_of_mappings(data, "notifications")
        checked = []
        for i, item in enumerate(items):
            try:
                checked.append(notifications.entry(i + 1, item))
            except DefinitionError as exc:
                self.fail(exc.message, line=self.item_line(items, i))
        return checked

    def list_of_mappings(self, data: dict[str, Any], field: str) -> list[dict[str, Any]]:
        items = data.get(field)
        if items is None:
            return []
        if not isinstance(items, list):
            self.fail(
                f"'{field}' must be a list of mappings, got {kind(items)}",
                line=self.key_line(data, field),
            )
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(
                    f"each entry of '{field}' must be a mapping, got {kind(item)}",
                    line=self.item_line(items, i),
                )
            for key in item:
                if not isinstance(key, str):
                    self.fail(
                        f"keys in '{field}' must be strings, got {key!r}",
                        line=self.key_line(item, key),
                    )
        return items

    # -- params ----------------------------------------------------------------------------

    def params(self, data: dict[str, Any]) -> dict[str, ParamSpec]:
        declared = data.get("params")
        if declared is None:
            return {}
        if not isinstance(declared, dict):
            self.fail(
                f"'params' must be a mapping of param names, got {kind(declared)}",
                line=self.key_line(data, "params"),
            )
        return {self.param_name(declared, n): self.param(declared, n) for n in declared}

    def param_name(self, declared: dict[Any, Any], name: object) -> str:
        # '=' would make the param impossible to pass as `-p name=value`.
        if not isinstance(name, str) or not name or "=" in name:
            self.fail(
                f"param names must be non-empty strings without '=', got {name!r}",
                line=self.key_line(declared, name),
            )
        return name

    def param(self, declared: dict[str, Any], name: str) -> ParamSpec:
        value = declared[name]
        if not isinstance(value, dict):
            # The short form `n_rows: 1000`: the default, its type inferred.
            return ParamSpec(type=params.param_type_of_value(value), default=value)
        # A mapping is always the long form; an object default is written {default: {...}}.
        for key in value:
            if key not in _PARAM_KEYS:
                self.fail(
                    f"param '{name}' has unknown key {key!r} (allowed: {', '.join(_PARAM_KEYS)};"
                    " to give an object as the default, write {default: {...}})",
                    line=self.key_line(value, key),
                )
        default = value.get("default")
        declared_type = value.get("type")
        if declared_type is None:
            param_type = params.param_type_of_value(default)
        elif declared_type in _PARAM_TYPES:
            param_type = declared_type
        else:
            self.fail(
                f"param '{name}' has unknown type {show(declared_type)}"
                f" (valid: {', '.join(_PARAM_TYPES)})",
                line=self.key_line(value, "type"),
            )
        if default is not None and not params.matches_type(default, param_type):
            self.fail(
                f"param '{name}' is of type {param_type} but its default is {show(default)}",
                line=self.key_line(value, "default"),
            )
        items = value.get("items")
        if items is not None and (param_type != "array" or items not in _PARAM_TYPES):
            self.fail(
                f"'items' of param '{name}' gives the element type of an array param, one of "
                f"{', '.join(_PARAM_TYPES)}; got {show(items)} for a {param_type} param",
                line=self.key_line(value, "items"),
            )
        if (
            items is not None
            and default is not None
            and not all(params.matches_type(v, items) for v in default)
        ):
            self.fail(
                f"param '{name}' holds {items} values but its default is {show(default)}",
                line=self.key_line(value, "default"),
            )
        required = value.get("required", False)
        if not isinstance(required, bool):
            self.fail(
                f"'required' of param '{name}' must be true or false, got {show(required)}",
                line=self.key_line(value, "required"),
            )
        if required and default is not None:
            self.fail(
                f"param '{name}' is required, so it cannot have a default; drop one of them",
                line=self.key_line(declared, name),
            )
        description = value.get("description")
        if description is not None and not isinstance(description, str):
            self.fail(
                f"'description' of param '{name}' must be a string, got {show(description)}",
                line=self.key_line(value, "description"),
            )
        return ParamSpec(
            type=param_type,
            items=None if items in (None, "any") else items,
            default=default,
            required=required,
            description=description,
        )

    # -- tasks -----------------------------------------------------------------------------

    def tasks(self, data: dict[str, Any]) -> list[TaskSpec]:
        items = data["tasks"]
        if not isinstance(items, list) or not items:
            self.fail(
                f"'tasks' must be a non-empty list of task mappings, got {kind(items)}",
                line=self.key_line(data, "tasks"),
            )
        first_lines: dict[str, int | None] = {}
        tasks = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(
                    f"each task must be a mapping with 'key' and 'type', got {kind(item)}",
                    line=self.item_line(items, i),
                )
            task = self.task(item)
            if task.key in first_lines:
                first = first_lines[task.key]
                self.fail(
                    f"duplicate task key '{task.key}' (first defined on line {first})",
                    line=self.key_line(item, "key"),
                    task=task.key,
                )
            first_lines[task.key] = self.key_line(item, "key")
            tasks.append(task)
        return tasks

    def task(self, item: dict[Any, Any]) -> TaskSpec:
        known = item.get("key") if isinstance(item.get("key"), str) else None
        for required in ("key", "type"):
            if required not in item:
                close = names.closest(required, item)
                hint = f" (is '{close}' a typo?)" if close else ""
                self.fail(f"a task has no '{required}'{hint}", line=self.line_of(item), task=known)
        key = self.name(item, "key", "task key")
        field = Fields(self, item, key)
        type_ = field.text("type")
        config: dict[str, Any] = {}
        for name, value in item.items():
            if not isinstance(name, str):
                self.fail(
                    f"task field names must be strings, got {name!r}",
                    line=self.key_line(item, name),
                    task=key,
                )
            if name not in _TASK_KEYS:
                config[name] = value
        depends_on = field.names("depends_on")
        inputs, outputs = field.names("inputs"), field.names("outputs")
        assets.check_task_assets(item, key, self)
        map_over = field.optional_text("map_over")
        if map_over is not None and map_over not in depends_on:
            depends_on.append(map_over)  # mapping over a task's result needs that result
        # Each field checked here, so that a wrong one is named with its line.
        retry = policy_fields(
            retries=field.integer("retries", default=0, minimum=0),
            retry_delay=field.number("retry_delay", default=0.0, minimum=0.0),
            retry_backoff=field.backoff(),
            max_retry_delay=field.optional_number("max_retry_delay", minimum=0.0),
            retry_jitter=field.number("retry_jitter", default=0.0, minimum=0.0, maximum=1.0),
            retry_on=field.names("retry_on"),
        )
        spec = {
            "key": key,
            "type": type_,
            "config": config,
            "depends_on": tuple(depends_on),
            "trigger_rule": field.trigger_rule(),
            "retry": retry,
            "timeout": field.optional_number("timeout", minimum=0.0, exclusive=True),
            "queue": field.optional_text("queue") or DEFAULT_QUEUE,
            "pool": field.optional_text("pool"),
            "priority": field.integer("priority", default=0),
            "inputs": tuple(inputs),
            "outputs": tuple(outputs),
            "map_over": map_over,
            "cache": cache.parse_cache(item, key, self),
            "resources": self.resources(item, key),
            "group": field.optional_text("group"),
            "notifications": self.task_notifications(item, key),
        }
        return self.build(TaskSpec, spec, line=self.line_of(item), task=key)

    def task_notifications(self, item: dict[str, Any], key: str) -> tuple[dict[str, Any], ...]:
        try:
            return notifications.task_entries(self.list_of_mappings(item, "notifications"), key)
        except DefinitionError as exc:
            self.fail(exc.message, line=self.key_line(item, "notifications"), task=key)

    def resources(self, item: dict[str, Any], key: str) -> Resources | None:
        try:
            return parse_resources(item.get("resources"))
        except DefinitionError as exc:
            self.fail(str(exc), line=self.key_line(item, "resources"), task=key)

    # -- shared ----------------------------------------------------------------------------

    def name(self, mapping: dict[str, Any], field: str, what: str) -> str:
        value = mapping[field]
        if isinstance(value, str) and _NAME.fullmatch(value):
            return value
        self.fail(
            f"{what} must be letters, digits, '_', '.' or '-', got {show(value)}",
            line=self.key_line(mapping, field),
        )

    def labelled(self, data: dict[str, Any], field: str, check: Callable[[object], _T]) -> _T:
        try:
            return check(data.get(field))
        except DefinitionError as exc:
            self.fail(exc.message, line=self.key_line(data, field))

    def optional_str(self, mapping: dict[str, Any], field: str) -> str | None:
        value = mapping.get(field)
        if value is None or isinstance(value, str):
            return value
        self.fail(
            f"'{field}' must be a string, got {show(value)}", line=self.key_line(mapping, field)
        )

    def build(
        self,
        model: type[_Model],
        fields: dict[str, Any],
        *,
        line: int | None,
        task: str | None = None,
    ) -> _Model:
        # Every field was checked above; this is a safety net so no raw validation error escapes.
        try:
            return validated(model, fields)
        except ValueError as e:
            self.fail(f"invalid field: {e}", line=line, task=task)
