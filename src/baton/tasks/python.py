"""`python` tasks: call a function, in a worker thread or (isolation: process) a subprocess.

Arguments come from the FlowSpec: decorated flows record them explicitly (`args`, `kwargs`,
with references to upstream results and params); YAML tasks without `args` bind the
function's parameters by name to upstream task keys and flow params. Either way, a parameter
left unbound that is named `logical_date`, `data_interval_start`, `data_interval_end`,
`trigger` or `partition` gets the run's own (ISO-8601 UTC strings, the dict saying what fired
an event-triggered run, the partition key; None when the run has none), and one named
`context` the attempt's TaskContext, as Airflow hands context by name.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec

from baton.errors import DefinitionError
from baton.model.context import NO_ITEM, TaskContext
from baton.model.decorators import RUN_CONTEXT
from baton.tasks.base import Code, TaskConfig, TaskFailed, TaskType, always_user_code


class PythonConfig(TaskConfig, frozen=True):
    function: Annotated[str, msgspec.Meta(pattern=r"^[\w.]+:[\w.<>]+$")]  # module:function
    args: list[Any] | None = None
    kwargs: dict[str, Any] = {}
    map_items: Any = None
    isolation: Literal["thread", "process"] = "thread"
    branch: bool = False
    compute: str | dict[str, Any] | None = None  # where it runs (`baton.model.compute`)

    def __post_init__(self) -> None:
        if self.compute is None:
            return
        from baton.model.compute import parse_compute  # only remote tasks pay for it

        try:
            parse_compute(self.compute)
        except DefinitionError as exc:
            raise ValueError(exc.message) from None


def execute(ctx: TaskContext, cfg: PythonConfig) -> Any:
    fn = ctx.load_function(cfg.function)
    args, kwargs = bind(fn, cfg, ctx)
    if cfg.compute is not None and cfg.compute not in ("local", {"backend": "local"}):
        from baton.tasks import compute  # only remote tasks pay for it

        return compute.execute(ctx, cfg.function, cfg.compute, args, kwargs)
    if cfg.isolation == "process":
        return _in_subprocess(ctx, cfg.function, args, kwargs)
    result = fn(*args, **kwargs)
    if inspect.iscoroutine(result):
        import asyncio  # only async tasks pay for importing it

        result = asyncio.run(result)
    return result


def bind(
    fn: Callable[..., Any], cfg: PythonConfig, ctx: TaskContext
) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments: resolved references, the mapped item first, by-name binding."""
    args = [ctx.resolve(a) for a in cfg.args or ()]
    kwargs = {k: ctx.resolve(v) for k, v in cfg.kwargs.items()}
    if ctx.item is not NO_ITEM:
        args.insert(0, ctx.item)
    by_name = cfg.args is None  # else the flow recorded the call's arguments
    run = {
        "logical_date": ctx.logical_date,
        "data_interval_start": ctx.data_interval_start,
        "data_interval_end": ctx.data_interval_end,
        "trigger": dict(ctx.trigger_info) if ctx.trigger_info is not None else None,
        "partition": ctx.partition,
        "context": ctx,
    }
    params = list(inspect.signature(fn).parameters.values())[len(args) :]
    for p in params:
        if p.name in kwargs or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            continue
        if by_name and p.name in ctx.upstream:
            kwargs[p.name] = ctx.upstream[p.name]
        elif by_name and p.name in ctx.params:
            kwargs[p.name] = ctx.params[p.name]
        elif p.name in RUN_CONTEXT:
            kwargs[p.name] = run[p.name]
        elif by_name and p.default is inspect.Parameter.empty:
            raise TaskFailed(
                f"parameter '{p.name}' of {fn.__qualname__} matches no upstream task and no "
                f"flow param (upstream: {', '.join(ctx.upstream) or 'none'}; params: "
                f"{', '.join(ctx.params) or 'none'})"
            )
    return args, kwargs


def _in_subprocess(ctx: TaskContext, function: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    import pickle  # only isolated tasks pay for these imports

    from baton.tasks import process

    os.makedirs(ctx.work_dir, exist_ok=True)
    base = os.path.join(ctx.work_dir, ctx.attempt_id)
    with open(base + ".in", "wb") as f:
        pickle.dump((function, sys.path, args, kwargs), f)
    try:
        code = process.run(
            ctx, [sys.executable, "-m", "baton.tasks.child", base + ".in", base + ".out"]
        )
        try:
            with open(base + ".out", "rb") as f:
                status, payload = pickle.load(f)
        except FileNotFoundError:
            raise TaskFailed(
                f"the task's process exited with code {code} before reporting"
            ) from None
    finally:
        for suffix in (".in", ".out"):
            if os.path.exists(base + suffix):
                os.remove(base + suffix)
    if status == "ok":
        return payload
    if status == "skip":
        from baton.errors import Skip

        raise Skip(payload)
    message, error_types, tb = payload
    raise TaskFailed(message, error_types=error_types, traceback=tb)


def code(ctx: TaskContext, config: dict[str, Any]) -> Code:
    return "python", ctx.load_function(config["function"])


TYPE = TaskType(
    "python", PythonConfig, execute, icon="python", user_code=always_user_code, code=code
)
