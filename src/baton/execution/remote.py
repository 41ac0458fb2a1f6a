"""Task runs of this worker waiting for remote work (a compute backend such as Dask): wake
each when its work ends, and stop the work of those that no longer wait for it.

A backend submits a task's function to its cluster, registers the attempt here
(`TaskContext.watch_remote(stop)`) and defers: the task run is `waiting`, holding no worker
slot. The cluster's done-callback calls the `wake` it was handed, which queues the task run
through the store at once (no poll between the work's end and its result being read), and
wakes the worker loop so that it claims it now. A done-callback can come before the worker
has recorded the deferral (the work was quick): the wake is tried again, briefly, until the
task run is waiting or has moved on.

The task run can stop waiting without its work ending: its run is cancelled (the store ends
the attempt cancelled at once). Each second, while anything is watched, one read finds
those and calls their `stop` (cancel the remote work), so a cancelled run frees its cluster.

One thread with its own store connection does all this, started by the first watch: a
worker that runs no remote task starts nothing. The process looks one last time as it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from baton.engine.service import Engine
from baton.model.states import TaskState
from baton.store.store import Claimed, Store

CHECK_INTERVAL = 1.0  # seconds between looks for watched task runs that stopped waiting
RETRY_INTERVAL = 0.02  # seconds before an early wake (deferral not recorded yet) is retried
EARLY_PATIENCE = 60.0  # then an early wake is dropped: the task run's own wake_at comes
_GOING_ON = frozenset({TaskState.RUNNING, TaskState.QUEUED, TaskState.WAITING})


@dataclass
class _Watch:
    attempt_id: str
    stop: Callable[[], object]


class Waits:
    """The remote work this worker's task runs wait for (see the module docstring)."""

    def __init__(self, url: str, on_queued: Callable[[], object]) -> None:
        self._url = url
        self._on_queued = on_queued  # the worker loop's wake-up
        self._woken: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._watched: dict[int, _Watch] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, claimed: Claimed, stop: Callable[[], object]) -> Callable[[], None]:
        """Watch the attempt's remote work: `stop` it if its task run stops waiting for it.
        Returns the function to call (from any thread) when the work ended."""
        with self._lock:
            self._watched[claimed.task_run_id] = _Watch(claimed.attempt_id, stop)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="baton-remote-waits", daemon=True
                )
                self._thread.start()
                # The process may end before the next look (`baton run` ends with its
                # cancelled run): one last look then.
                atexit.register(self._last_check)
        return lambda: self._woken.put(claimed.task_run_id)

    def _last_check(self) -> None:
        try:
            store = Store(self._url)
            try:
                self._check(store)
            finally:
                store.close()
        except Exception as exc:  # the database or the cluster is gone: nothing to do then
            print(f"baton: stopping remote work at exit: {exc}", file=sys.stderr, flush=True)

    def _serve(self) -> None:
        store = None
        early: dict[int, float] = {}  # woken before their deferral was recorded: since when
        next_check = time.monotonic() + CHECK_INTERVAL
        while True:
            wait = RETRY_INTERVAL if early else max(next_check - time.monotonic(), 0)
            try:
                early.setdefault(self._woken.get(timeout=wait), time.monotonic())
                while True:
                    early.setdefault(self._woken.get_nowait(), time.monotonic())
            except queue.Empty:
                pass
            try:
                store = store or Store(self._url)
                early = self._wake(Engine(store), early)
                if time.monotonic() >= next_check:
                    self._check(store)
                    next_check = time.monotonic() + CHECK_INTERVAL
            except Exception as exc:
                # The database is away, or a race lost (TransitionError): try again; until
                # then the task runs' own wake_at brings them back anyway.
                print(f"baton: waking waiting task runs: {exc}", file=sys.stderr, flush=True)
                if store is not None:
                    with contextlib.suppress(Exception):
                        store.close()
                store = None
                time.sleep(RETRY_INTERVAL * 10)  # a broken connection: no busy loop

    def _wake(self, engine: Engine, woken: dict[int, float]) -> dict[int, float]:
        """Queue the woken task runs that wait; those still running are kept to try again
        (their deferral is on its way), the rest dropped (they moved on)."""
        if not woken:
            return woken
        with self._lock:
            attempts = {i: w.attempt_id for i in woken if (w := self._watched.get(i))}
        # Read first: a write transaction only for what is waiting (SQLite has one writer).
        rows = engine.store.read().task_runs_by_id(list(attempts))
        ready = {
            r.id: attempts[r.id]
            for r in rows
            if r.state == TaskState.WAITING and r.resume_attempt == attempts[r.id]
        }
        queued = engine.wake(ready, "its remote work ended") if ready else set()
        if queued:
            self._on_queued()
        with self._lock:
            for i in queued:
                self._watched.pop(i, None)
        now = time.monotonic()
        return {
            r.id: woken[r.id]
            for r in rows
            if r.id not in queued
            and (r.state == TaskState.RUNNING or r.id in ready)  # lost a race: again
            and now - woken[r.id] < EARLY_PATIENCE
        }

    def _check(self, store: Store) -> None:
        """Stop the remote work of watched task runs that no longer wait for it."""
        with self._lock:
            watched = dict(self._watched)
        if not watched:
            return
        gone = []
        rows = {r.id: r for r in store.read().task_runs_by_id(list(watched))}
        for i, w in watched.items():
            r = rows.get(i)
            if (
                r is None
                or r.state not in _GOING_ON
                or (r.state == TaskState.WAITING and r.resume_attempt != w.attempt_id)
            ):
                gone.append(i)
        for i in gone:
            with self._lock:
                w_ = self._watched.pop(i, None)
            if w_ is not None:
                try:
                    w_.stop()
                except Exception as exc:  # the cluster may be gone too: nothing left to stop
                    print(f"baton: stopping remote work: {exc}", file=sys.stderr, flush=True)
