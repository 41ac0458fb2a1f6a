"""`@asset` and `asset_flow`: a flow written as the data it makes, as Dagster users write it.

    @asset(name="raw.orders")
    def orders(day: str = "today") -> list[dict]: ...

    @asset(name="warehouse.daily_totals", freshness={"max_lag": "1d"})
    def daily_totals(orders: list[dict]) -> dict: ...

    nightly = asset_flow("nightly", [orders, daily_totals], schedule="0 3 * * *")

An asset is a task (`Asset` is a `Task`) whose key and output are the asset's name (`name=`,
or the function's). In `asset_flow`, a parameter names an upstream asset of the list by its
function name or by the last segment of its `name=` (`orders` above): the upstream's return
value is passed in, as a task result is, and the upstream becomes a dependency and an input.
Any other parameter is a flow param (with its default, if it has one), shared by every asset
taking it; one named like a run-context value (`logical_date`, ...) gets the run's value.

`asset_flow` builds its function and traces it with `@flow`, so the flow runs wherever a
`@flow` does (`baton.run_flow`, `baton run`, `baton deploy`). Catalog fields go through
`model.assets`' parser: a wrong one fails as it would in YAML.
"""

from __future__ import annotations

import graphlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, Unpack, overload

import msgspec

from baton.errors import DefinitionError
from baton.model import assets as assets_mod
from baton.model import decorators
from baton.model import params as params_mod
from baton.model.assets import AssetSpec, CheckSpec, FreshnessSpec
from baton.model.decorators import RUN_CONTEXT, Flow, Isolation, Task, TaskOptions, TaskRef
from baton.model.graph import validate
from baton.model.partitions import PartitionsSpec
from baton.model.spec import ParamSpec as FlowParam
from baton.model.yaml_fields import NoLines

P = ParamSpec("P")
R = TypeVar("R")

Freshness = FreshnessSpec | Mapping[str, Any]
Check = CheckSpec | Mapping[str, Any]


class Asset(Task[P, R]):
    """A function that materializes one asset: a Task whose key and output are its name.

    Outside a flow it is a plain function call, as a task is. `spec` is its catalog entry.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        checks: Check | Iterable[Check] = (),
        freshness: Freshness | None = None,
        description: str | None = None,
        owner: str | None = None,
        tags: str | Iterable[str] = (),
        notifications: Sequence[Mapping[str, Any]] = (),
        isolation: Isolation = "thread",
        **options: Unpack[TaskOptions],
    ) -> None:
        asset_name = name if name is not None else fn.__name__
        given = sorted(set(options) & {"inputs", "outputs"})
        if given:
            raise DefinitionError(
                f"an asset's {' and '.join(given)} come from its parameters and its name:"
                " drop the option",
                task=str(asset_name),
            )
        if not assets_mod.is_name(asset_name):
            raise DefinitionError(
                f"invalid asset name {asset_name!r} (of {fn.__qualname__}):"
                f" use {assets_mod.NAME_RULE}"
            )
        self.spec = _catalog_entry(
            asset_name, checks, freshness, description, owner, tags, notifications
        )
        options["outputs"] = [asset_name]
        super().__init__(fn, name=asset_name, isolation=isolation, **options)

    def __repr__(self) -> str:
        return f"<Asset {self.name}>"


@overload
def asset(fn: Callable[P, R], /) -> Asset[P, R]: ...
@overload
def asset(
    *,
    name: str | None = None,
    checks: Check | Iterable[Check] = (),
    freshness: Freshness | None = None,
    description: str | None = None,
    owner: str | None = None,
    tags: str | Iterable[str] = (),
    notifications: Sequence[Mapping[str, Any]] = (),
    isolation: Isolation = "thread",
    **options: Unpack[TaskOptions],
) -> Callable[[Callable[P, R]], Asset[P, R]]: ...
def asset(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function the producer of an asset: `@asset` or `@asset(name="warehouse.orders")`.

    Args:
        name: the asset's name (dotted, e.g. `warehouse.orders`); the function's by default.
        checks: data-quality checks, as `CheckSpec`s or mappings as in YAML
            (`{"name": "no_nulls", "sql": "...", "conn": "warehouse"}`).
        freshness: a `FreshnessSpec` or a mapping (`{"max_lag": "6h"}`, or `{"cron":
            "0 7 * * *", "timezone": "Europe/Paris", "max_lag": "1h"}`).
        description: what the asset holds.
        owner: who answers for it.
        tags: labels to find it by.
        notifications: entries as a flow's, on the asset's events (`stale`, `check_failed`).

    Every task option (`retries`, `timeout`, `retry=Retry(...)`, `queue`, ...) and `isolation`
    apply as with `@task`; `inputs` and `outputs` do not: they are the asset's parameters
    and name.

    Raises:
        DefinitionError: a bad name or catalog field, said as the YAML parser says it.
    """
    if fn is not None:
        return Asset(fn)
    return lambda f: Asset(f, **options)


def asset_flow(
    name: str,
    assets: Sequence[Asset[Any, Any]],
    *,
    description: str | None = None,
    max_active_runs: int | None = None,
    schedule: str | Mapping[str, Any] | None = None,
    triggers: Sequence[Mapping[str, Any]] = (),
    notifications: Sequence[Mapping[str, Any]] = (),
    partitions: PartitionsSpec | None = None,
) -> Flow:
    """A flow materializing `assets`, each after the assets its parameters name.

    Args:
        name: the flow's name.
        assets: the `@asset` functions, in any order.
        description, max_active_runs, schedule, triggers, notifications, partitions: as for
            `@flow` (the assets share the flow's partitions).

    Raises:
        DefinitionError: an entry that is not an asset, an asset listed twice, a parameter
            matching several assets (or its own), or one naming an asset left out of the list.
    """
    try:
        plan = _Plan.of(name, assets)
    except DefinitionError as exc:
        raise exc.located(flow=name) from None
    traced = decorators.flow(
        name=name,
        description=description,
        max_active_runs=max_active_runs,
        schedule=schedule,
        triggers=triggers,
        notifications=notifications,
        partitions=partitions,
    )(plan.function())
    tasks = tuple(msgspec.structs.replace(t, inputs=plan.inputs[t.key]) for t in traced.spec.tasks)
    spec = msgspec.structs.replace(
        traced.spec, tasks=tasks, assets=tuple(a.spec for a in plan.order)
    )
    validate(spec, {t.type for t in spec.tasks})
    return Flow(traced.fn, spec, traced.tasks)


@dataclass(frozen=True, slots=True)
class _Arg:
    """Where one parameter's value comes from: an upstream asset, or a flow param."""

    param: str
    positional: bool
    upstream: str | None  # the upstream asset's name, else the flow param `param`


@dataclass
class _Plan:
    """How the flow function calls the assets: their order, arguments and flow params."""

    order: list[Asset[Any, Any]]
    calls: dict[str, list[_Arg]]
    inputs: dict[str, tuple[str, ...]]
    params: dict[str, inspect.Parameter]

    @classmethod
    def of(cls, flow: str, assets: Sequence[Asset[Any, Any]]) -> _Plan:
        listed = _listed(flow, assets)
        by_alias: dict[str, list[Asset[Any, Any]]] = {}
        for a in listed:
            for alias in dict.fromkeys((a.fn.__name__, a.name.rpartition(".")[2])):
                by_alias.setdefault(alias, []).append(a)
        calls: dict[str, list[_Arg]] = {}
        params: dict[str, tuple[inspect.Parameter, str]] = {}
        for a in listed:
            resolved = (
                _resolve(flow, a, p, by_alias, params) for p in a.signature.parameters.values()
            )
            calls[a.name] = [arg for arg in resolved if arg is not None]
        inputs = {
            key: tuple(dict.fromkeys(arg.upstream for arg in args if arg.upstream))
            for key, args in calls.items()
        }
        order = _ordered(listed, inputs)
        return cls(order, calls, inputs, {n: p for n, (p, _) in params.items()})

    def function(self) -> Callable[..., Any]:
        """The flow function: calls each asset with its upstreams' results and flow params."""

        def materialize(**values: Any) -> None:
            results: dict[str, TaskRef] = {}
            for a in self.order:
                args, kwargs = [], {}
                for arg in self.calls[a.name]:
                    value = results[arg.upstream] if arg.upstream else values[arg.param]
                    if arg.positional:
                        args.append(value)
                    else:
                        kwargs[arg.param] = value
                results[a.name] = a(*args, **kwargs)

        materialize.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in self.params.values()]
        )
        return materialize


def _listed(flow: str, assets: Sequence[Asset[Any, Any]]) -> list[Asset[Any, Any]]:
    """The list's assets, checked: assets only, each once."""
    if isinstance(assets, Asset) or not isinstance(assets, Sequence | set | frozenset):
        raise DefinitionError(
            f"asset_flow takes a list of @asset functions, e.g. asset_flow({flow!r}, [a, b])"
        )
    if not assets:
        raise DefinitionError("asset_flow needs at least one asset")
    seen: dict[str, Asset[Any, Any]] = {}
    for i, a in enumerate(assets):
        if not isinstance(a, Asset):
            what = "a @task: make it an @asset" if isinstance(a, Task) else repr(a)
            raise DefinitionError(f"entry {i + 1} of the asset list is not an @asset ({what})")
        if a.name in seen:
            raise DefinitionError(f"asset '{a.name}' is listed twice")
        seen[a.name] = a
    return list(seen.values())


def _resolve(
    flow: str,
    a: Asset[Any, Any],
    p: inspect.Parameter,
    by_alias: dict[str, list[Asset[Any, Any]]],
    params: dict[str, tuple[inspect.Parameter, str]],
) -> _Arg | None:
    """Where parameter `p` of asset `a` gets its value (None: from the run itself); records
    the flow params it makes."""
    where = f"parameter '{p.name}' of asset '{a.name}'"
    if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
        raise DefinitionError(
            f"asset parameters must be named (they name upstream assets or flow params),"
            f" not {'*' if p.kind == p.VAR_POSITIONAL else '**'}{p.name}",
            task=a.name,
        )
    positional = p.kind == p.POSITIONAL_ONLY
    matches = by_alias.get(p.name, [])
    if a in matches:
        raise DefinitionError(
            f"{where} is named after the asset itself: an asset cannot read itself;"
            " rename the parameter",
            task=a.name,
        )
    if len(matches) > 1:
        raise DefinitionError(
            f"{where} matches several assets ({', '.join(m.name for m in matches)}): a"
            " parameter names an upstream by its function name or the last part of its name=;"
            " rename one of them",
            task=a.name,
        )
    if matches:
        return _Arg(p.name, positional, matches[0].name)
    elsewhere = a.fn.__globals__.get(p.name)
    if isinstance(elsewhere, Asset):
        raise DefinitionError(
            f"{where} names asset '{elsewhere.name}', which is not in asset_flow '{flow}':"
            " add it to the list (or rename the parameter to make it a flow param)",
            task=a.name,
        )
    if p.name in RUN_CONTEXT:
        return None  # the run passes its own value (tasks.python)
    _add_param(p, a.name, params)
    return _Arg(p.name, positional, None)


def _add_param(
    p: inspect.Parameter, asset_name: str, params: dict[str, tuple[inspect.Parameter, str]]
) -> None:
    """Record flow param `p`; assets sharing a param must agree on its type and default."""
    p = p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
    if p.name not in params:
        params[p.name] = (p, asset_name)
        return
    first, owner = params[p.name]
    if _param_spec(first) != _param_spec(p):
        raise DefinitionError(
            f"flow param '{p.name}' is declared differently by assets '{owner}' and"
            f" '{asset_name}' (type or default): declare it the same way in both",
            task=asset_name,
        )


def _param_spec(p: inspect.Parameter) -> FlowParam:
    # What `@flow` makes of the parameter: assets agreeing on it make the same flow param.
    has_default = p.default is not inspect.Parameter.empty
    return FlowParam(
        type=params_mod.param_type_of(p.annotation),
        items=params_mod.item_type_of(p.annotation),
        default=p.default if has_default else None,
        required=not has_default,
    )


def _ordered(
    listed: list[Asset[Any, Any]], inputs: dict[str, tuple[str, ...]]
) -> list[Asset[Any, Any]]:
    """The assets, each after its upstreams (list order otherwise)."""
    sorter = graphlib.TopologicalSorter({a.name: inputs[a.name] for a in listed})
    try:
        names = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        raise DefinitionError(f"the assets form a cycle: {' -> '.join(cycle)}") from None
    by_name = {a.name: a for a in listed}
    return [by_name[n] for n in names]


def _catalog_entry(
    name: str,
    checks: Check | Iterable[Check],
    freshness: Freshness | None,
    description: str | None,
    owner: str | None,
    tags: str | Iterable[str],
    notifications: Sequence[Mapping[str, Any]],
) -> AssetSpec:
    """The asset's catalog entry, read by the YAML parser's rules (so by its messages)."""
    item: dict[str, Any] = {"name": name}
    if description is not None:
        item["description"] = description
    if owner is not None:
        item["owner"] = owner
    item["tags"] = tags if isinstance(tags, str) or not isinstance(tags, Iterable) else list(tags)
    if freshness is not None:
        item["freshness"] = _plain(freshness)
    many = [checks] if isinstance(checks, CheckSpec | Mapping) else checks
    item["checks"] = [_plain(c) for c in many]
    item["notifications"] = [_plain(n) for n in notifications]
    [entry] = assets_mod.parse_assets({"assets": [item]}, NoLines())
    return entry


def _plain(value: object) -> object:
    """A spec object or mapping as the plain data a YAML file would hold."""
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value  # the parser says what it expected
