"""Running a python task on a compute backend other than the worker (`model.compute`):
the check made when its flow is loaded, the hand-over to the backend's module, and what
every backend's module does alike (refuse a `context` argument, wait without a slot, read
how the call ended from what `remote_call.call` handed back)."""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from baton import tasks
from baton.errors import DefinitionError, Skip
from baton.model.compute import BACKENDS, Backend, is_address, parse_compute, split_address
from baton.model.context import TaskContext
from baton.tasks.base import Defer, TaskFailed

CONNECT_TIMEOUT = 2.0  # seconds a load-time check waits for a scheduler to accept
RECHECK = 30.0  # seconds: a waiting task looks at its remote work again, woken or not


def check(config: dict[str, Any]) -> None:
    """Refuse, when the flow is loaded, a python task whose backend is not installed or
    whose literal address cannot be reached (an address from the environment is checked by
    the worker that runs it). The backend's modules are not imported to tell."""
    compute = parse_compute(config.get("compute"))
    if compute is None or compute["backend"] == "local":
        return
    backend = BACKENDS[compute["backend"]]
    missing = [m for m in backend.requires if importlib.util.find_spec(m) is None]
    if missing:
        raise DefinitionError(
            f"compute backend {backend.name} needs {', '.join(missing)}, which is not "
            f"installed: {tasks.install_hint(backend.extra, missing)}"
        )
    address = compute.get("address")
    if address is not None and address not in backend.keywords:  # `auto`: known when run
        problem = unreachable(address, backend)
        if problem is not None:
            raise DefinitionError(f"'compute.address' {address}: {problem}")


def unreachable(address: str, backend: Backend) -> str | None:
    """Why nothing accepts a TCP connection at `address` (None: something does)."""
    import socket  # only flows with a compute address pay for it

    where = split_address(address, backend.schemes)
    if where is None:
        return f"not a {backend.name} address such as {backend.example}"
    try:
        socket.create_connection(where, timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return (
            f"cannot connect to {where[0]}:{where[1]} ({reason}): "
            f"is the {backend.name} cluster running?"
        )
    return None


def address_of(compute: dict[str, Any]) -> str:
    """The task's scheduler address, or its backend's default from this worker's
    environment; TaskFailed (no retry) when there is neither, or the environment's is not
    an address of the backend."""
    backend = BACKENDS[compute["backend"]]
    if compute.get("address"):
        return str(compute["address"])  # checked when the flow was loaded
    address = os.environ.get(backend.address_env) if backend.address_env else None
    if not address:
        raise TaskFailed(
            f"compute backend {backend.name} has no address: set compute.address in the task "
            f"or the flow, or {backend.address_env} in the worker's environment",
            retryable=False,
        )
    if not is_address(address, backend):
        raise TaskFailed(
            f"{backend.address_env} must be a {backend.name} address such as "
            f"{backend.example}, got {address!r}",
            retryable=False,
        )
    return address


def execute(
    ctx: TaskContext,
    function: str,
    config: str | dict[str, Any],
    args: list[Any],
    kwargs: dict[str, Any],
) -> Any:
    """Run (or go on waiting for) the call on the task's backend (`config`: its `compute`):
    its module's `submit` sends it and defers, its `resume` reads how it ended or defers
    again."""
    compute = parse_compute(config)
    assert compute is not None
    module = BACKENDS[compute["backend"]].module
    assert module is not None
    runner = importlib.import_module(f"baton.tasks.{module}")
    if ctx.resume_state is None:  # the first run of the attempt: `submit` defers
        _refuse_context(ctx, args, kwargs, compute["backend"].capitalize())
        runner.submit(ctx, function, address_of(compute), args, kwargs)
    return runner.resume(ctx, ctx.resume_state)


def _refuse_context(ctx: TaskContext, args: list[Any], kwargs: dict[str, Any], on: str) -> None:
    """The attempt's `context` stays in the baton worker: a task sent to a cluster cannot
    take it."""
    if any(a is ctx for a in (*args, *kwargs.values())):
        raise TaskFailed(
            f"a task that runs on {on} cannot take the attempt's `context`: it stays in the "
            "baton worker",
            retryable=False,
        )


def defer(
    ctx: TaskContext,
    on_done: Callable[[Callable[[], None]], object],
    stop: Callable[[], object],
    state: dict[str, Any],
    backend: str,
) -> NoReturn:
    """Wait without a slot until the remote work ends (`on_done(callback)` registers its
    completion callback), its timeout comes (`state["since"]` + the task's timeout), or the
    re-check; `stop` cancels the work if the task run stops waiting (a cancelled run)."""
    if ctx.watch_remote is not None:
        wake = ctx.watch_remote(stop)
        on_done(wake)
    wake_at = time.time() + recheck(backend)
    if ctx.timeout is not None:
        wake_at = min(wake_at, state["since"] + ctx.timeout)
    raise Defer(wake_at=wake_at, state=state)


def timed_out(ctx: TaskContext, state: dict[str, Any]) -> bool:
    """Whether a deferred attempt's timeout has come."""
    return ctx.timeout is not None and time.time() >= state["since"] + ctx.timeout


def in_thread(stop: Callable[[], object]) -> None:
    """Call `stop` in a thread of its own: an interrupt comes from the worker's loop, which
    must not wait for the cluster."""
    threading.Thread(target=stop, daemon=True).start()


def recheck(backend: str) -> float:
    """Seconds between looks at remote work nobody woke its task for
    (BATON_<BACKEND>_RECHECK): after the worker that submitted it died, how long until
    another resumes it."""
    name = f"BATON_{backend.upper()}_RECHECK"
    text = os.environ.get(name)
    if text is None:
        return RECHECK
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise TaskFailed(f"{name} must be a number of seconds > 0, got {text!r}", retryable=False)
    return seconds


def outcome(done: dict[str, Any], on: str, key: str) -> Any:
    """The task's result from what `remote_call.call` handed back for `key` on the cluster
    (`on`: Dask, Ray), after writing what the function printed and logged into the
    attempt's log; its error raised as a user error carrying the remote exception's class
    names."""
    log = done["log"]
    print(log, end="" if log.endswith("\n") or not log else "\n")
    if done["ok"]:
        print(f"{on} key {key} succeeded")
        return done["value"]
    if "baton.errors.Skip" in done["types"]:
        raise Skip(done["error"].partition(": ")[2])
    raise TaskFailed(
        f"{done['error']} (on {on}, key {key})",
        error_types=tuple(done["types"]),
        traceback=done["traceback"],
    )
