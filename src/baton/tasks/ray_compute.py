"""Compute backend `ray`: a python task's function runs on a Ray cluster while its task run
waits, holding no worker slot.

First run of an attempt: submit `remote_call.call(function, args, kwargs)` as a Ray task
named `baton-<attempt id>` (its declared resources as `num_cpus`, `num_gpus`, `memory`) and
defer. The ObjectRef's completion (its future's done-callback) wakes the task run through
the store (`TaskContext.watch_remote`); a slow re-check is the fallback. Resumed: the result
is read from that completed future, never by a blocking `ray.get` in the worker, and what
the function printed and logged is written into the attempt's log.

Ray keeps a task's result for the process that submitted it only (its ObjectRef): an
attempt resumed in another process (its own died), or after the connection to the cluster
broke, fails `lost` and the retry policy applies. A timeout or cancel cancels the Ray task
with force: the process running the function dies.

A process is one Ray driver (or client) of one cluster at a time, as Ray allows: a task
that names another address is refused while this process has work on the first.
`address: auto` is Ray's own: `RAY_ADDRESS`, else the cluster on this machine.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any, NoReturn

from baton.errors import TaskTimeout
from baton.model.context import TaskContext
from baton.model.resources import Resources
from baton.model.states import ErrorKind
from baton.tasks import compute, remote_call
from baton.tasks.base import TaskFailed

KEY_PREFIX = "baton-"

_lock = threading.Lock()  # guards _current and each connection's `pending`
_connecting = threading.Lock()
_current: _Connection | None = None


class _Connection:
    """This process's connection to a Ray cluster and the work it submitted there."""

    def __init__(self, address: str) -> None:
        import ray  # imported by the first task that runs on Ray

        # Sent by value: the cluster's workers need the task's modules, not baton.
        pickler: Any = ray.cloudpickle
        pickler.register_pickle_by_value(remote_call)
        self.address = address
        # Remote output comes back in the result: Ray's own forwarding would repeat it.
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        self.call: Any = ray.remote(remote_call.call)
        self.pending: dict[str, tuple[Any, Future[Any]]] = {}

    def alive(self) -> bool:
        import ray

        return bool(ray.is_initialized())

    def submit(self, key: str, *call: Any, options: dict[str, Any]) -> tuple[Any, Future[Any]]:
        ref = self.call.options(name=key, **options).remote(*call)
        held = (ref, ref.future())
        with _lock:
            self.pending[key] = held
        return held

    def take(self, key: str) -> tuple[Any, Future[Any]] | None:
        with _lock:
            return self.pending.get(key)

    def forget(self, key: str, *, cancel: bool = False) -> None:
        import ray

        with _lock:
            held = self.pending.pop(key, None)
        if cancel and held is not None and not held[1].done():
            ray.cancel(held[0], force=True)  # the process running the function dies


def submit(
    ctx: TaskContext, function: str, address: str, args: list[Any], kwargs: dict[str, Any]
) -> NoReturn:
    """Send the call to the Ray cluster and defer (the first run of an attempt)."""
    conn = _connection(address)
    key = KEY_PREFIX + ctx.attempt_id
    since = time.time()
    try:
        ref, future = conn.submit(key, function, args, kwargs, options=_options(ctx.resources))
    except Exception as exc:
        if conn.alive():  # arguments Ray cannot serialise, options it refuses
            raise TaskFailed(f"Ray refused task {key}: {type(exc).__name__}: {exc}") from None
        raise TaskFailed(
            f"the connection to the Ray cluster at {address} broke: {_first_line(exc)}",
            error_kind=ErrorKind.LOST,
        ) from None
    print(f"submitted to Ray at {address} as task {key} (task id {_task_id(ref)})", flush=True)
    ctx.on_interrupt(lambda _: compute.in_thread(lambda: _cancel(conn, key)))
    _defer(ctx, conn, future, {"key": key, "address": address, "since": since})


def resume(ctx: TaskContext, state: dict[str, Any]) -> Any:
    """How the call ended (its result, or its error raised); defers again if it goes on."""
    key, address = state["key"], state["address"]
    with _lock:
        conn = _current
    held = conn.take(key) if conn is not None else None
    if conn is None or held is None:
        raise TaskFailed(
            f"the result of Ray task {key} at {address} is gone: the baton worker that "
            "submitted it restarted, or lost its connection to the cluster",
            error_kind=ErrorKind.LOST,
        )
    future = held[1]
    ctx.on_interrupt(lambda _: compute.in_thread(lambda: _cancel(conn, key)))
    if not future.done():
        if compute.timed_out(ctx, state):
            _cancel(conn, key)
            raise TaskTimeout(f"Ray task {key} did not end within {ctx.timeout:g}s")
        _defer(ctx, conn, future, state)
    conn.forget(key)
    return _outcome(future, key, address)


def _defer(
    ctx: TaskContext, conn: _Connection, future: Future[Any], state: dict[str, Any]
) -> NoReturn:
    key = state["key"]
    compute.defer(
        ctx,
        lambda wake: future.add_done_callback(lambda _: wake()),
        lambda: _cancel(conn, key),
        state,
        "ray",
    )


def _cancel(conn: _Connection, key: str) -> None:
    """Cancel the Ray task `key`; a cluster that is gone has nothing left to cancel."""
    try:
        conn.forget(key, cancel=True)
    except Exception as exc:
        print(f"baton: cancelling Ray task {key}: {exc}", file=sys.stderr, flush=True)


def _outcome(future: Future[Any], key: str, address: str) -> Any:
    import ray.exceptions

    exc = future.exception()
    if exc is None:
        return compute.outcome(future.result(), "Ray", key)
    name = type(exc).__name__
    if isinstance(exc, ray.exceptions.RayTaskError):  # the call itself could not run
        raise TaskFailed(f"Ray task {key} failed on the cluster: {name}: {exc}")
    if isinstance(exc, ray.exceptions.TaskCancelledError):
        raise TaskFailed(f"Ray task {key} was cancelled on the cluster")
    # Its worker or node died, its result was lost, or the connection broke: it may work
    # again, so the retry policy decides.
    raise TaskFailed(
        f"Ray task {key} at {address} was lost ({name}: {_first_line(exc)})",
        error_kind=ErrorKind.LOST,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


def _connection(address: str) -> _Connection:
    """This process's connection to the Ray cluster at `address`, made anew if the last
    one broke; a cluster that cannot be reached fails the attempt `lost` (it may come
    back)."""
    global _current
    import ray

    with _connecting:  # one connection, however many task threads ask at once
        with _lock:
            old = _current
        if old is not None and old.alive() and old.address == address:
            return old
        if old is not None and old.alive() and old.pending:
            raise TaskFailed(
                f"this baton worker drives the Ray cluster at {old.address}, and a process "
                f"can drive one Ray cluster at a time: run the tasks for {address} on "
                "another worker (a queue of their own)",
                retryable=False,
            )
        if old is not None or ray.is_initialized():
            ray.shutdown()
        try:
            made = _Connection(address)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ... to say so
            ray.shutdown()
            raise TaskFailed(
                f"cannot connect to the Ray cluster at {address}: {_first_line(exc)}",
                error_kind=ErrorKind.LOST,
            ) from None
        with _lock:
            _current = made
        return made


def _task_id(ref: Any) -> str:
    try:
        return str(ref.task_id().hex())
    except Exception:  # a Ray client's reference may not tell it
        return str(ref.hex())


def _options(need: Resources | None) -> dict[str, Any]:
    """A task's declared resources as Ray task options; only those it declares, so a task
    that declares none takes Ray's default (one CPU)."""
    if need is None:
        return {}
    amounts = {"num_cpus": need.cpu, "num_gpus": need.gpu, "memory": need.memory}
    return {k: v for k, v in amounts.items() if v}
