"""Compute backend `dask`: a python task's function runs on a Dask cluster while its task run
waits, holding no worker slot.

First run of an attempt: submit `remote_call.call(function, args, kwargs)` under the key
`baton-<attempt id>` (its declared resources as Dask worker resources), publish the future
as a dataset of that name, and defer. The future's done-callback wakes the task run through
the store (`TaskContext.watch_remote`); a slow re-check (`compute.RECHECK`) is the fallback.
Resumed: take the future (this process's, or the published one from the cluster when
another process resumes it), write what the function printed and logged into the attempt's
log, and return its result or raise its error.

A future the cluster no longer has (its scheduler restarted; the process that submitted it
died before publishing it), or that the client lost with its connection, fails the attempt
`lost`: the retry policy applies. A timeout or cancel cancels the future; Dask cannot stop
a function that is already running, so the attempt ends at once and its late result is
dropped with the released key.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from baton.errors import TaskTimeout
from baton.model.context import TaskContext
from baton.model.resources import Resources
from baton.model.states import ErrorKind
from baton.tasks import compute, remote_call
from baton.tasks.base import TaskFailed

CONNECT_TIMEOUT = 10.0  # seconds to connect to a scheduler
KEY_PREFIX = "baton-"

# One client per scheduler address per process, as Dask means clients to be used (each is
# a connection with its event loop thread), and the futures this process submitted, which
# keep their results on the cluster until read. Shared by the worker's task threads.
_lock = threading.Lock()
_connecting = threading.Lock()
_clients: dict[str, _Client] = {}


class _Client:
    """A Dask client and what this process holds on its cluster."""

    def __init__(self, address: str) -> None:
        import cloudpickle  # type: ignore[import-untyped]
        import distributed  # imported by the first task that runs on Dask

        # Sent by value: the cluster's workers need the task's modules, not baton.
        cloudpickle.register_pickle_by_value(remote_call)
        self.address = address
        connect: Any = distributed.Client
        self.client: Any = connect(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        self.futures: dict[str, Any] = {}
        self._published: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        threading.Thread(target=self._publish, name="baton-dask-publish", daemon=True).start()

    def alive(self) -> bool:
        return bool(self.client.status == "running")

    def submit(self, key: str, *call: Any, resources: dict[str, float]) -> Any:
        future = self.client.submit(
            remote_call.call, *call, key=key, pure=False, resources=resources or None
        )
        with _lock:
            self.futures[key] = future
        self._published.put((key, future))
        return future

    def find(self, key: str) -> Any:
        """The future of `key`: this process's, or the one published on the cluster; None
        when the cluster holds no such key."""
        with _lock:
            future = self.futures.get(key)
        if future is not None:
            return future
        try:
            return self.client.get_dataset(key)
        except KeyError:
            return None

    def knows(self, key: str) -> bool:
        """Whether the scheduler still has the task `key` (a future can wait forever for
        one the scheduler forgot: the client that submitted it closed too soon)."""
        return bool(self.client.run_on_scheduler(remote_call.has_task, key=key))

    def forget(self, key: str, *, cancel: bool = False) -> None:
        with _lock:
            future = self.futures.pop(key, None)
        if not cancel:
            self._published.put((key, None))
            return
        if future is None:  # submitted by another process: the published one
            future = self.find(key)
        # Now, not batched: the process may be exiting (a cancelled `baton run`). `force`:
        # the dataset wants the key too, and would keep it running.
        with contextlib.suppress(KeyError):
            self.client.unpublish_dataset(key)
        if future is not None:
            self.client.cancel([future], force=True)

    def _publish(self) -> None:
        """Publish and unpublish futures in batches, one scheduler round trip each, off the
        task threads: a thousand submissions do not wait for a thousand round trips."""
        while True:
            batch = [self._published.get()]
            while not self._published.empty():
                batch.append(self._published.get_nowait())
            put = {k: f for k, f in batch if f is not None}
            drop = [k for k, f in batch if f is None]
            for k in set(put) & set(drop):  # ended before it was published
                del put[k]
                drop.remove(k)
            try:
                if put:
                    self.client.publish_dataset(**put)
                if drop:
                    self.client.unpublish_dataset(drop)
            except Exception as exc:  # a lost cluster: the futures fail `lost` anyway
                if not self.alive():
                    return
                print(
                    f"baton: publishing Dask futures at {self.address}: {exc}",
                    file=sys.stderr,
                    flush=True,
                )


def submit(
    ctx: TaskContext, function: str, address: str, args: list[Any], kwargs: dict[str, Any]
) -> NoReturn:
    """Send the call to the Dask scheduler and defer (the first run of an attempt)."""
    client = _client(address)
    key = KEY_PREFIX + ctx.attempt_id
    since = time.time()
    future = client.submit(key, function, args, kwargs, resources=_resources(ctx.resources))
    print(f"submitted to the Dask scheduler at {address} as key {key}", flush=True)
    ctx.on_interrupt(lambda _: compute.in_thread(lambda: _cancel(client, key)))
    _defer(ctx, client, future, {"key": key, "address": address, "since": since})


def resume(ctx: TaskContext, state: dict[str, Any]) -> Any:
    """How the call ended (its result, or its error raised); defers again if it goes on."""
    key, address = state["key"], state["address"]
    with _lock:
        mine = _clients.get(address)
        held = mine.futures.get(key) if mine is not None else None
    if mine is not None and held is not None and held.done():
        # Ended, perhaps with its connection: how is known without connecting again.
        mine.forget(key)
        return _outcome(held, key, address)
    client = _client(address)
    future = client.find(key)
    if future is None or (not future.done() and not client.knows(key)):
        raise TaskFailed(
            f"the Dask cluster at {address} no longer has key {key} (its scheduler or the "
            "baton worker that submitted it restarted)",
            error_kind=ErrorKind.LOST,
        )
    ctx.on_interrupt(lambda _: compute.in_thread(lambda: _cancel(client, key)))
    if not future.done():
        if compute.timed_out(ctx, state):
            _cancel(client, key)
            raise TaskTimeout(f"Dask key {key} did not end within {ctx.timeout:g}s")
        _defer(ctx, client, future, state)
    client.forget(key)
    return _outcome(future, key, address)


def _defer(ctx: TaskContext, client: _Client, future: Any, state: dict[str, Any]) -> NoReturn:
    """Wait without a slot until the future ends (or the timeout, or the re-check)."""
    key = state["key"]

    def on_done(wake: Callable[[], None]) -> None:
        future.add_done_callback(lambda _: wake())

    compute.defer(ctx, on_done, lambda: _cancel(client, key), state, "dask")


def _cancel(client: _Client, key: str) -> None:
    """Cancel the future of `key`; a cluster that is gone has nothing left to cancel."""
    try:
        client.forget(key, cancel=True)
    except Exception as exc:
        print(f"baton: cancelling Dask key {key}: {exc}", file=sys.stderr, flush=True)


def _outcome(future: Any, key: str, address: str) -> Any:
    status = future.status
    if status == "finished":
        return compute.outcome(future.result(), "Dask", key)
    if status == "error":
        exc = future.exception()
        name = type(exc).__name__
        if name == "KilledWorker":  # the cluster's workers died running it
            raise TaskFailed(f"Dask key {key}: {name}: {exc}", error_kind=ErrorKind.LOST)
        raise TaskFailed(f"Dask key {key} failed on the cluster: {name}: {exc}")
    raise TaskFailed(
        f"the Dask cluster at {address} lost key {key} ({status}: the connection to its "
        "scheduler broke, or the scheduler restarted)",
        error_kind=ErrorKind.LOST,
    )


def _client(address: str) -> _Client:
    """This process's client of the scheduler at `address`, connected anew if the last one
    broke; a scheduler that cannot be reached fails the attempt `lost` (it may come back)."""
    with _connecting:  # one client per address, however many task threads ask at once
        with _lock:
            old = _clients.get(address)
        if old is not None and old.alive():
            return old
        try:
            made = _Client(address)
        except (OSError, TimeoutError) as exc:
            raise TaskFailed(
                f"cannot connect to the Dask scheduler at {address}: {exc}",
                error_kind=ErrorKind.LOST,
            ) from None
        with _lock:
            _clients[address] = made
    if old is not None:
        old.client.close(timeout=1)
    return made


def _resources(need: Resources | None) -> dict[str, float]:
    """A task's declared resources as Dask worker resources (CPU, MEMORY bytes, GPU); only
    those it declares, so a task that declares none runs on any worker."""
    if need is None:
        return {}
    amounts = {"CPU": need.cpu, "MEMORY": float(need.memory), "GPU": float(need.gpu)}
    return {k: v for k, v in amounts.items() if v}
