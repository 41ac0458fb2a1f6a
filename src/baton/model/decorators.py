"""`@task` and `@flow`: Python functions compiled to a FlowSpec by tracing.

A flow function is called once, when it is decorated, with a `ParamRef` for each of its
arguments. Inside it, calling a task returns a `TaskRef` instead of running anything, so the
whole DAG is known before any task runs. Outside a flow, a task is a plain function call,
which keeps tasks easy to unit-test.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, ParamSpec, TypedDict, TypeVar, Unpack, cast, overload

import msgspec

from baton.errors import DefinitionError, InputError
from baton.model import cache as model_cache
from baton.model import labels, namespaces
from baton.model import notifications as notifications_mod
from baton.model import params as params_mod
from baton.model.graph import validate
from baton.model.partitions import PartitionsSpec
from baton.model.resources import parse_resources
from baton.model.retry import RETRY_OPTIONS, Retry, policy_fields
from baton.model.spec import (
    DEFAULT_QUEUE,
    FlowSpec,
    TaskSpec,
    declared_order,
    param_ref,
    ref,
    validated,
)
from baton.model.spec import ParamSpec as FlowParam
from baton.model.trigger_rules import TriggerRule

P = ParamSpec("P")
R = TypeVar("R")

Isolation = Literal["thread", "process"]

# Parameters a python task gets from its run when nothing else binds them (tasks.python).
RUN_CONTEXT = (
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "trigger",
    "partition",
    "context",  # the attempt's TaskContext (`context.partition`, `context.add_partitions`)
)


@dataclass(frozen=True, slots=True)
class TaskRef:
    """What calling a task inside a flow returns: a stand-in for its future result."""

    key: str


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A flow argument while the flow is traced: a stand-in for the run's param value."""

    name: str


@dataclass
class _Tracer:
    flow: str
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    objects: dict[str, Task[Any, Any]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        t: Task[Any, Any],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        map_items: Any = None,
        mapped: bool = False,
    ) -> TaskRef:
        n = self.calls.get(t.name, 0)
        self.calls[t.name] = n + 1
        key = t.name if n == 0 else f"{t.name}__{n}"
        wait_for = kwargs.pop("wait_for", ()) if "wait_for" not in t.parameters else ()
        try:  # a wrong call is a definition error, not a failure at run time
            bound = t.signature.bind_partial(*([None] if mapped else []), *args, **kwargs)
            given = {n: None for n in RUN_CONTEXT if n in t.parameters and n not in bound.arguments}
            t.signature.bind(*bound.args, **bound.kwargs, **given)  # the run passes these
        except TypeError as exc:
            raise DefinitionError(
                f"calls {t.name}() with the wrong arguments: {exc}", flow=self.flow, task=key
            ) from None
        deps: list[str] = []
        config: dict[str, Any] = {"function": t.reference}
        encoded_args = [self.encode(a, key, deps) for a in args]
        encoded_kwargs = {k: self.encode(v, key, deps) for k, v in kwargs.items()}
        if encoded_args:
            config["args"] = encoded_args
        if encoded_kwargs:
            config["kwargs"] = encoded_kwargs
        map_over = None
        if mapped:
            if isinstance(map_items, TaskRef):
                map_over = map_items.key
                deps.append(map_items.key)
            else:
                config["map_items"] = self.encode(map_items, key, deps)
        deps += self.wait_for(wait_for, key)
        if t.isolation != "thread":
            config["isolation"] = t.isolation
        if t.branch:
            config["branch"] = True
        if t.compute is not None:
            config["compute"] = t.compute
        self.tasks[key] = TaskSpec(
            key=key,
            type="python",
            config=config,
            depends_on=tuple(dict.fromkeys(deps)),
            map_over=map_over,
            **t.spec_fields,
        )
        self.objects[key] = t
        return TaskRef(key)

    def wait_for(self, refs: Any, key: str) -> list[str]:
        """The keys of the tasks in a `wait_for=` argument (one result or a list of them)."""
        keys = []
        for result in refs if isinstance(refs, list | tuple) else (refs,):
            if not isinstance(result, TaskRef):
                raise DefinitionError(
                    "wait_for takes task results (what calling a task returns)",
                    flow=self.flow,
                    task=key,
                )
            keys.append(result.key)
        return keys

    def encode(self, value: Any, key: str, deps: list[str]) -> Any:
        if isinstance(value, TaskRef):
            deps.append(value.key)
            return ref(value.key)
        if isinstance(value, ParamRef):
            return param_ref(value.name)
        if isinstance(value, list | tuple):
            return [self.encode(v, key, deps) for v in value]
        if isinstance(value, dict):
            return {str(k): self.encode(v, key, deps) for k, v in value.items()}
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise DefinitionError(
                f"argument {value!r} is not JSON-serialisable; pass it as a flow param or "
                "build it inside the task",
                flow=self.flow,
                task=key,
            ) from None
        return value


_tracing: contextvars.ContextVar[_Tracer | None] = contextvars.ContextVar(
    "baton_tracing", default=None
)


class Task(Generic[P, R]):
    """A Python function that runs as one node of a flow."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        isolation: Isolation = "thread",
        branch: bool = False,
        compute: str | Mapping[str, Any] | None = None,
        **options: Unpack[TaskOptions],
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.reference = f"{fn.__module__}:{fn.__qualname__}"
        self.signature = inspect.signature(fn)
        self.parameters = frozenset(self.signature.parameters)
        if isolation not in ("thread", "process"):
            raise DefinitionError(
                f"isolation must be 'thread' or 'process', not {isolation!r}", task=self.name
            )
        self.isolation = isolation
        self.branch = branch
        try:
            self.compute = _compute(compute)
        except DefinitionError as exc:
            raise DefinitionError(exc.message, task=self.name) from None
        self.spec_fields = spec_fields(self.name, **options)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        tracer = _tracing.get()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return cast(R, tracer.add(self, args, dict(kwargs)))

    def map(self, items: Any, *args: Any, **kwargs: Any) -> list[R]:
        """One run of this task per item (passed as the first argument), decided at run time."""
        tracer = _tracing.get()
        if tracer is None:
            return [self.fn(item, *args, **kwargs) for item in items]
        return cast(list[R], tracer.add(self, args, dict(kwargs), map_items=items, mapped=True))

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


class TaskOptions(TypedDict, total=False):
    """The options every task takes, whatever its type (see `task` for their meaning)."""

    retries: int
    retry_delay: float
    retry_backoff: float | bool
    max_retry_delay: float | None
    retry_jitter: float
    retry_on: Iterable[type[BaseException] | str]
    retry: Retry  # all of the above as one object (then none of them may be given)
    timeout: float | None
    trigger_rule: TriggerRule | str
    queue: str
    pool: str | None
    priority: int
    inputs: Iterable[str]
    outputs: Iterable[str]
    cache: bool | Mapping[str, Any] | None
    cache_key: Callable[..., Any] | str | None
    cache_ttl: float | str | None
    cache_include_code: bool | None
    refresh_cache: bool
    resources: Mapping[str, Any] | None
    group: str | None


def spec_fields(key: str, **options: Unpack[TaskOptions]) -> dict[str, Any]:
    """The common TaskSpec fields from a task's options, checked."""
    unknown = set(options) - set(TaskOptions.__annotations__)
    if unknown:
        raise DefinitionError(f"unknown task option(s): {', '.join(sorted(unknown))}", task=key)
    fields = {
        "key": key,
        "type": "python",
        "retry": policy_fields(**_retry_options(key, options)),
        "timeout": options.get("timeout"),
        "trigger_rule": str(options.get("trigger_rule", TriggerRule.ALL_SUCCESS)),
        "queue": options.get("queue", DEFAULT_QUEUE),
        "pool": options.get("pool"),
        "priority": options.get("priority", 0),
        "inputs": list(options.get("inputs", ())),
        "outputs": list(options.get("outputs", ())),
        "group": options.get("group"),
    }
    try:
        resources = parse_resources(options.get("resources"))
    except DefinitionError as exc:
        raise DefinitionError(str(exc), task=key) from None
    cache = model_cache.from_task_args(
        key,
        cache=options.get("cache"),
        cache_key=options.get("cache_key"),
        cache_ttl=options.get("cache_ttl"),
        cache_include_code=options.get("cache_include_code"),
        refresh_cache=options.get("refresh_cache", False),
    )
    try:
        checked = validated(TaskSpec, fields)
    except ValueError as exc:
        raise DefinitionError(f"invalid task options: {exc}", task=key) from None
    return {f: getattr(checked, f) for f in fields if f not in ("key", "type")} | {
        "cache": cache,
        "resources": resources,
    }


def _retry_options(key: str, options: TaskOptions) -> dict[str, Any]:
    """The retry options, from `retry=Retry(...)` or from the separate keyword arguments."""
    given = {k: v for k, v in options.items() if k in RETRY_OPTIONS}
    if "retry" not in options:
        return given
    retry = options["retry"]
    if not isinstance(retry, Retry):
        raise DefinitionError(f"retry must be a baton.Retry(...), not {retry!r}", task=key)
    if given:
        raise DefinitionError(
            f"give the retry policy either as retry=Retry(...) or as the options "
            f"{', '.join(sorted(given))}, not both",
            task=key,
        )
    return retry.options()


def typed_task(
    type_name: str,
    key: str,
    config: dict[str, Any],
    *,
    wait_for: Iterable[TaskRef] | TaskRef = (),
    keep_none: Collection[str] = (),
    **options: Unpack[TaskOptions],
) -> TaskRef:
    """Add a task of another type than python (shell, sql, http...) to the flow being traced.

    Its config may hold task results (`TaskRef`) and flow params (`ParamRef`) anywhere:
    they are encoded, and the tasks they come from become upstream tasks. Task types offer
    this as a constructor, e.g. `shell_task("echo hi", key="hello")`.
    """
    tracer = _tracing.get()
    if tracer is None:
        raise DefinitionError(
            f"{type_name} task '{key}' can only be created inside a @flow function", task=key
        )
    if key in tracer.tasks:
        raise DefinitionError(f"duplicate task key '{key}'", flow=tracer.flow, task=key)
    deps: list[str] = []
    # None means "the type's default", except for the fields where None itself is a
    # setting (e.g. skip_exit_code=None turns skipping off).
    encoded = {
        k: tracer.encode(v, key, deps) for k, v in config.items() if v is not None or k in keep_none
    }
    deps += tracer.wait_for(wait_for, key)
    tracer.tasks[key] = TaskSpec(
        key=key,
        type=type_name,
        config=encoded,
        depends_on=tuple(dict.fromkeys(deps)),
        **spec_fields(key, **options),
    )
    return TaskRef(key)


class Flow:
    """A traced flow: its FlowSpec and the Task objects behind its keys."""

    def __init__(self, fn: Callable[..., Any], spec: FlowSpec, tasks: dict[str, Task[Any, Any]]):
        self.__doc__ = fn.__doc__
        self.fn = fn
        self.spec = spec
        self.tasks = tasks

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"<Flow {self.name}: {len(self.spec.tasks)} tasks>"


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def task(
    *,
    name: str | None = None,
    isolation: Isolation = "thread",
    branch: bool = False,
    compute: str | Mapping[str, Any] | None = None,
    **options: Unpack[TaskOptions],
) -> Callable[[Callable[P, R]], Task[P, R]]: ...
def task(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a task: `@task` or `@task(retries=3, retry_delay=1, timeout=60)`.

    Options: name, retries, retry_delay (s), retry_backoff (multiplier, True = 2),
    max_retry_delay, retry_jitter (fraction), retry_on (exception types) or all of these as
    retry=Retry(retries=3, delay=1, backoff=2, max_delay=60, jitter=0.1, on=(IOError,)),
    timeout (s), trigger_rule, queue, pool, priority, inputs, outputs (asset names), group
    (the UI folds a group's tasks into one box), isolation
    ("thread" or "process"), branch (the task returns the downstream key or keys to follow),
    cache (True, or a dict of the YAML `cache:` fields), cache_key (a function or a template
    such as "{{ params.day }}"), cache_ttl ("1h" or seconds), cache_include_code,
    refresh_cache: see `baton.model.cache`; compute (where it runs: "dask", "ray", or
    {"backend": "dask", "address": "tcp://host:8786"}; see `baton.model.compute`).
    """
    if fn is not None:
        return Task(fn)
    return lambda f: Task(f, **options)


@overload
def flow(fn: Callable[..., Any], /) -> Flow: ...
@overload
def flow(
    *,
    name: str | None = None,
    namespace: str | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
    owner: str | None = None,
    max_active_runs: int | None = None,
    schedule: str | Mapping[str, Any] | None = None,
    triggers: Sequence[Mapping[str, Any]] = (),
    notifications: Sequence[Mapping[str, Any]] = (),
    partitions: PartitionsSpec | None = None,
    compute: str | Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Flow]: ...
def flow(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a flow; its arguments (typed, with defaults) are the flow's params.

    Options: name, namespace (default `default`: the flow's full name is then
    `namespace/name`), description, tags (short names, e.g. `["finance", "daily"]`) and
    owner (an email or team) for finding the flow, max_active_runs, schedule (`"0 3 * * *"`,
    `"@daily"`, `"every 15m"`, or a mapping `{cron|every, timezone, start, end, catchup}`)
    and triggers (`[{file: "in/*.csv"}, {asset: "raw.events"}, {assets: [a, b]}, {flow: "ingest",
    states: ["succeeded"]}, {webhook: True}]`): see `baton.model.schedules` and
    `baton.model.triggers`; notifications
    (`[{on: ["failure", "sla"], email: ["oncall@example.com"], sla: 3600}, {webhook: URL,
    format: "slack"}]`): see `baton.model.notifications`; partitions (`daily("2024-01-01")`,
    `static(["eu", "us"])`, `dynamic("customers")`: see `baton.model.partitions`), so that
    every run processes one partition key; compute: the default `compute` of its python
    tasks (see `task`).
    """
    if fn is not None:
        return _trace(fn)
    return lambda f: _trace(f, **options)


def _trace(
    fn: Callable[..., Any],
    name: str | None = None,
    namespace: str | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
    owner: str | None = None,
    max_active_runs: int | None = None,
    schedule: str | Mapping[str, Any] | None = None,
    triggers: Sequence[Mapping[str, Any]] = (),
    notifications: Sequence[Mapping[str, Any]] = (),
    partitions: PartitionsSpec | None = None,
    compute: str | Mapping[str, Any] | None = None,
) -> Flow:
    flow_name = name or fn.__name__
    if namespace is not None:
        try:
            flow_name = namespaces.full_name(namespaces.check_namespace(namespace), flow_name)
        except InputError as exc:
            raise DefinitionError(str(exc), flow=flow_name) from None
    try:
        flow_tags, flow_owner = labels.check_tags(tags), labels.check_owner(owner)
    except DefinitionError as exc:
        raise exc.located(flow=flow_name) from None
    try:
        default = _compute(compute)
    except DefinitionError as exc:
        raise exc.located(flow=flow_name) from None
    if partitions is not None and not isinstance(partitions, PartitionsSpec):
        raise DefinitionError(
            f"partitions must be made by daily(...), hourly(...), weekly(...), monthly(...), "
            f"static([...]) or dynamic(name) from baton, not {type(partitions).__name__}",
            flow=flow_name,
        )
    when = _when(flow_name, schedule, triggers)
    try:
        notices = notifications_mod.validate(notifications)
    except DefinitionError as exc:
        raise exc.located(flow=flow_name) from None
    sig = inspect.signature(fn)
    flow_params: dict[str, FlowParam] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DefinitionError(
                f"flow params must be named arguments, not *{p.name}", flow=flow_name
            )
        has_default = p.default is not inspect.Parameter.empty
        flow_params[p.name] = FlowParam(
            type=params_mod.param_type_of(p.annotation),
            items=params_mod.item_type_of(p.annotation),
            default=p.default if has_default else None,
            required=not has_default,
        )
    tracer = _Tracer(flow_name)
    token = _tracing.set(tracer)
    try:
        fn(**{n: ParamRef(n) for n in flow_params})
    except DefinitionError as exc:
        raise exc.located(flow=flow_name) from None
    except Exception as exc:
        raise DefinitionError(
            f"tracing the flow function failed ({type(exc).__name__}: {exc}). A flow function "
            "only wires tasks together: calling a task returns a reference, not its result, "
            "so compute with results inside tasks",
            flow=flow_name,
        ) from exc
    finally:
        _tracing.reset(token)
    spec = FlowSpec(
        name=flow_name,
        description=description or inspect.getdoc(fn),
        tags=flow_tags,
        owner=flow_owner,
        params=flow_params,
        param_order=declared_order(flow_params),
        tasks=tuple(_with_compute(t, default) for t in tracer.tasks.values()),
        max_active_runs=max_active_runs,
        schedule=when[0],
        triggers=when[1],
        notifications=notices,
        partitions=partitions,
    )
    validate(spec, {t.type for t in spec.tasks})  # types are checked where they are known
    return Flow(fn, spec, tracer.objects)


def _compute(value: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`compute=` in its stored form (`baton.model.compute`)."""
    if value is None:
        return None
    from baton.model import compute  # only flows that name one pay for it

    return compute.parse_compute(dict(value) if isinstance(value, Mapping) else value)


def _with_compute(task: TaskSpec, default: dict[str, Any] | None) -> TaskSpec:
    if task.type != "python" or default is None:
        return task
    from baton.model import compute  # imported already, for the default

    return msgspec.structs.replace(task, config=compute.with_default(task.config, default))


def _when(
    flow_name: str, schedule: str | Mapping[str, Any] | None, triggers: Sequence[Mapping[str, Any]]
) -> tuple[str | dict[str, Any] | None, tuple[dict[str, Any], ...]]:
    """The flow's schedule in its canonical form and its triggers, checked, as JSON values."""
    if schedule is None and not triggers:
        return None, ()
    from baton.model import schedules  # croniter costs ~50 ms: only scheduled flows pay it
    from baton.model import triggers as triggers_mod  # ~3 ms: neither does `baton run`

    if isinstance(triggers, Mapping | str):
        raise DefinitionError(
            "triggers must be a list, e.g. triggers=[{'asset': 'raw.events'}]", flow=flow_name
        )
    try:
        canonical = None if schedule is None else schedules.parse_schedule(schedule).to_builtins()
        triggers_mod.validate_triggers(triggers)
    except DefinitionError as exc:
        raise exc.located(flow=flow_name) from None
    return canonical, tuple(json.loads(json.dumps(dict(t))) for t in triggers)
