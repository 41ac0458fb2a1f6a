"""The worker loop: claim ready task runs, run them, report how they ended.

One loop thread owns the store connection. Attempts run in a thread pool and hand their
Outcome back through a queue; the loop records a batch of outcomes and claims the next
ready tasks in the same transaction, so a successor starts as soon as its upstream ends
(no poll interval between them). Timers (retries, timeouts, cancel requests, leases) are
the only periodic work, with, in cluster mode, shipping running attempts' logs to the store
(the rest of an attempt's log goes in the transaction that records how it ended).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from baton.engine.planner import Outcome
from baton.engine.service import Engine, new_id
from baton.errors import StoreCannotWrite, StoreError, TaskCancelled, TaskTimeout
from baton.execution import fencing, loader, logs, lost, results, runner, secrets, threads
from baton.execution.loader import LoadedFlow
from baton.model.context import NO_ITEM, TaskContext
from baton.model.params import coerce_params
from baton.model.spec import PARAM_KEY
from baton.model.states import RUN_TERMINAL, RunState
from baton.model.times import iso
from baton.settings import Settings
from baton.store import dialect
from baton.store.store import Claimed, Row, Store
from baton.tasks import process

TIMER_INTERVAL = 0.2  # seconds between checks for retries due, cancels and leases
INTERRUPT_GRACE = 5.0  # how long a stopped task with child processes has to report
RECONNECT_MIN = 0.1  # first wait before reconnecting to the database, doubled up to MAX
RECONNECT_MAX = 5.0
THREAD_GRACE = 1.0  # how long a stopped thread has to report before it is abandoned
EXIT_GRACE = 3.0  # how long the worker waits at exit for abandoned threads to let go
LOG_SHIP_INTERVAL = 1.0  # seconds between copies of running attempts' logs to the store


@dataclass
class _Stopping:
    job: runner.Job
    outcome: Outcome
    report_by: float


class Worker:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        flows: Mapping[str, LoadedFlow] | None = None,
        *,
        concurrency: int = 16,
        queues: Sequence[str] = ("default",),
        run_ids: Sequence[str] | None = None,
        name: str | None = None,
        project_dir: str | None = None,
    ) -> None:
        self.engine = engine
        self.project_dir = project_dir
        self.settings = settings
        self._flows: dict[str, LoadedFlow] = dict(flows or {})
        self.concurrency = max(1, concurrency)
        self.queues = list(queues)
        # A worker scoped to runs also works on the sub-flow runs they start.
        self._roots = list(run_ids) if run_ids is not None else None
        self.run_ids = list(run_ids) if run_ids is not None else None
        self._scope_lock = threading.Lock()
        self.id = new_id()
        self.name = name or f"{lost.hostname()}:{os.getpid()}"
        self._outcomes: queue.SimpleQueue[Outcome | None] = queue.SimpleQueue()
        self._cancel_requested = False
        self._active: dict[str, runner.Job] = {}
        self._stopping: dict[str, _Stopping] = {}
        self._abandoned: list[runner.Job] = []  # interrupted attempts, whatever they reported
        self._threads = threads.TaskThreads()
        self._guard = fencing.Guard(
            settings.work_dir, settings.lease_seconds, settings.heartbeat_seconds, self._fenced
        )
        # Cluster mode: a server or CLI on another machine reads logs from the store.
        self._shipper = logs.Shipper() if settings.cluster else None

    def request_cancel(self) -> None:
        """Cancel this worker's runs; safe to call from a signal handler."""
        self._cancel_requested = True
        self._outcomes.put(None)  # wakes the loop

    # -- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, grace: float = 30.0) -> None:
        """Work until `stop` is set or, for a worker scoped to runs, all of them ended.

        Once `stop` is set the worker claims nothing more; attempts still running after
        `grace` seconds are handed back (queued again for another worker) and stopped.
        A broken database connection is retried with backoff: outcomes not yet recorded
        are kept and reported once it is back.
        """
        logs.install()
        store = self.engine.store
        self._register()
        if self.run_ids is None:
            self.engine.store.listen(self.wake)
        next_timers = 0.0
        next_heartbeat = time.monotonic() + self.settings.heartbeat_seconds
        next_ship = time.monotonic() + LOG_SHIP_INTERVAL
        done: list[Outcome] = []
        undispatched: list[Claimed] = []
        drain_until: float | None = None
        backoff = RECONNECT_MIN
        self._guard.start()
        try:
            while True:
                self._drain(done)
                if stop is not None and stop.is_set() and drain_until is None:
                    drain_until = time.monotonic() + grace
                draining = drain_until is not None
                try:
                    if self._cancel_requested and self._roots is not None:
                        self._cancel_requested = False
                        for run_id in self._roots:
                            self.engine.cancel(run_id)
                        next_timers = 0.0
                    free = 0 if draining else self.concurrency - len(self._active)
                    ended = [o.attempt_id for o in done]
                    asked = fencing.now()
                    claimed = self.engine.claim(
                        worker_id=self.id,
                        queues=self.queues,
                        limit=free - len(undispatched),
                        run_ids=self._scope(),
                        lease=self.settings.lease_seconds,
                        outcomes=done,
                        logs=self._shipper.collect(ended, final=True) if self._shipper else (),
                    )
                    if self._shipper is not None:
                        self._shipper.confirm(ended, ended=True)
                    done = []
                    self._guard.claimed([c.attempt_id for c in claimed], asked)
                    undispatched += claimed
                    while undispatched:
                        self._start(undispatched[0])
                        undispatched.pop(0)
                    mono = time.monotonic()
                    timers_ran = mono >= next_timers
                    if timers_ran:
                        next_retry = self._timers()
                        next_timers = mono + TIMER_INTERVAL
                        if next_retry is not None:
                            next_timers = min(next_timers, mono + max(next_retry - time.time(), 0))
                    if time.monotonic() >= next_heartbeat:
                        self._heartbeat([o.attempt_id for o in done])
                        next_heartbeat = time.monotonic() + self.settings.heartbeat_seconds
                    if self._shipper is not None and time.monotonic() >= next_ship:
                        self._ship_logs(self._shipper)
                        next_ship = time.monotonic() + LOG_SHIP_INTERVAL
                    if drain_until is not None and (
                        not self._active or time.monotonic() >= drain_until
                    ):
                        self._hand_back()
                        break
                    if (
                        not self._active
                        and not self._stopping
                        and not claimed
                        and self.run_ids is not None
                        and self._all_done()
                    ):
                        break
                except self.engine.store.errors as exc:
                    if (fault := dialect.local_fault(exc)) is not None:
                        raise self._cannot_write(fault) from None
                    backoff = self._reconnect(exc, backoff, stop)
                    continue
                backoff = RECONNECT_MIN
                if (
                    (claimed or timers_ran)
                    and not draining
                    and len(self._active) < self.concurrency
                ):
                    continue  # more may be ready: claim again before waiting
                wait_until = min([next_timers, *self._deadlines()])
                if drain_until is not None:
                    wait_until = min(wait_until, drain_until)
                try:
                    o = self._outcomes.get(timeout=max(wait_until - time.monotonic(), 0))
                except queue.Empty:
                    continue
                if o is not None:
                    self._accept(o, done)
        finally:
            self.engine.store.unlisten()
            with contextlib.suppress(*store.errors), store.transaction() as tx:
                tx.stop_worker(self.id, time.time())
            self._threads.shutdown()
            # A thread stopped inside native code (a database driver) must leave it before
            # the interpreter exits, or the exit can abort the process: wait a little.
            deadline = time.monotonic() + EXIT_GRACE
            for job in self._abandoned:
                job.done.wait(max(deadline - time.monotonic(), 0))
            self._guard.close()  # kills the processes of attempts that still run

    def wake(self) -> None:
        """Make the loop look for work now (another process queued some)."""
        self._outcomes.put(None)

    def _register(self) -> None:
        with self.engine.store.transaction() as tx:
            tx.register_worker(
                {
                    "id": self.id,
                    "name": self.name,
                    "host": lost.hostname(),
                    "pid": os.getpid(),
                    "queues": self.queues,
                    "concurrency": self.concurrency,
                    "started_at": time.time(),
                }
            )

    def _heartbeat(self, unreported: list[str]) -> None:
        running = [*self._active, *self._stopping, *unreported]
        asked = fencing.now()
        with self.engine.store.transaction() as tx:
            now = time.time()
            tx.renew_leases(self.id, running, now, now + self.settings.lease_seconds)
        self._guard.renewed(running, asked)

    def _fenced(self, attempt_id: str) -> None:
        """Its lease ends before this worker could renew it (fencing.Fence): its processes
        are killed now, before another worker may run it again; it ends `lost`."""
        stopping = self._stopping.get(attempt_id)
        job = self._active.get(attempt_id) or (stopping.job if stopping else None)
        if job is None:
            return
        job.lost = f"worker {self.name} could not renew its lease in time: it stopped it"
        process.kill_groups(self.settings.work_dir, attempt_id)
        job.ctx.interrupt(TaskCancelled)
        print(
            f"baton worker {self.name}: could not renew the lease of {job.claimed.task_key}"
            f" (attempt {attempt_id}) in time: stopped it",
            file=sys.stderr,
            flush=True,
        )

    def _cannot_write(self, fault: str) -> StoreCannotWrite:
        """The store refuses writes for good (a full disk): stop what runs, say what to do."""
        for job in list(self._active.values()):
            self._interrupt(job, TaskCancelled, runner.cancelled(job))
        then = f"`baton runs resume {self._roots[0]}`" if self._roots else "start the worker again"
        return StoreCannotWrite(
            f"the store {self.engine.store.shown_url} cannot record anything ({fault}): "
            f"free space on its disk, then {then}"
        )

    def _ship_logs(self, shipper: logs.Shipper) -> None:
        """Store what running attempts' logs gained (cluster mode)."""
        attempt_ids = shipper.attempts()
        rows = shipper.collect(attempt_ids, final=False)
        if rows:
            with self.engine.store.transaction() as tx:
                tx.append_log_chunks(rows)
            shipper.confirm(attempt_ids)

    def _hand_back(self) -> None:
        """Give the attempts still running back to the queue, then stop them."""
        jobs = list(self._active.values())
        if not jobs:
            return
        if self._shipper is not None:
            self._ship_logs(self._shipper)  # what they printed so far stays theirs
        self.engine.hand_back(
            [j.claimed for j in jobs], f"handed back: worker {self.name} stopped before it ended"
        )
        for job in jobs:
            self._interrupt(job, TaskCancelled, runner.cancelled(job))

    def _reconnect(self, exc: BaseException, backoff: float, stop: threading.Event | None) -> float:
        """Wait, then open a new connection; the next, longer wait."""
        print(
            f"baton worker {self.name}: database error ({self.engine.store.describe(exc)});"
            f" retrying in {backoff:.1f}s",
            file=sys.stderr,
            flush=True,
        )
        if stop is not None:
            stop.wait(backoff)
        else:
            time.sleep(backoff)
        with contextlib.suppress(*self.engine.store.errors, StoreError):
            self.engine.store.reconnect()
        return min(backoff * 2, RECONNECT_MAX)

    def _drain(self, into: list[Outcome]) -> None:
        while True:
            try:
                o = self._outcomes.get_nowait()
            except queue.Empty:
                return
            if o is not None:
                self._accept(o, into)

    def _accept(self, o: Outcome, into: list[Outcome]) -> None:
        self._guard.ended(o.attempt_id)
        # An outcome counts once: a stopped attempt may still report after the loop
        # recorded its timeout or cancel for it.
        if (
            self._active.pop(o.attempt_id, None) is not None
            or self._stopping.pop(o.attempt_id, None) is not None
        ):
            into.append(o)

    def _scope(self) -> list[str] | None:
        with self._scope_lock:
            return None if self.run_ids is None else list(self.run_ids)

    def _all_done(self) -> bool:
        """Whether every run in scope ended (sub-flow runs included)."""
        read = self.engine.store.read()
        return all(read.run(r)["state"] in RUN_TERMINAL for r in self._scope() or ())

    def _deadlines(self) -> list[float]:
        return [j.deadline for j in self._active.values() if j.deadline is not None] + [
            s.report_by for s in self._stopping.values() if s.report_by < math.inf
        ]

    # -- timers --------------------------------------------------------------------------

    def _timers(self) -> float | None:
        """Timeouts, cancel requests, lost attempts and due retries; the next retry time."""
        mono = time.monotonic()
        self._abandoned = [j for j in self._abandoned if not j.done.is_set()]
        for job in list(self._active.values()):
            if job.deadline is not None and mono >= job.deadline:
                self._interrupt(job, TaskTimeout, runner.timed_out(job))
        if self._active:
            cancelling = set(
                self.engine.store.read().active_runs(
                    {j.claimed.run_id for j in self._active.values()}, RunState.CANCELLING
                )
            )
            for job in list(self._active.values()):
                if job.claimed.run_id in cancelling:
                    self._interrupt(job, TaskCancelled, runner.cancelled(job))
        for s in self._stopping.values():
            if mono >= s.report_by:
                # The task did not stop in time (a thread blocked in C): record it as ended.
                # Whichever report arrives first counts (_drain); the other is dropped.
                s.report_by = math.inf
                self._outcomes.put(s.outcome)
        if self.run_ids is None:
            return None  # leases and retry times are `baton server`'s timers
        lost.end_lost(
            self.engine,
            self.settings,
            lost.lost_attempts(self.engine.store, self._scope(), self.id),
            "its worker stopped (process died)",
        )
        return self.engine.wake_due(self._scope())

    def _interrupt(self, job: runner.Job, kind: type[Any], outcome: Outcome) -> None:
        del self._active[job.claimed.attempt_id]
        # A child process is killed, which may take a SIGTERM grace; a thread cannot be
        # killed: past THREAD_GRACE the attempt ends anyway and the thread is abandoned.
        grace = INTERRUPT_GRACE if job.ctx.children else THREAD_GRACE
        stopping = _Stopping(job, outcome, time.monotonic() + grace)
        self._stopping[job.claimed.attempt_id] = stopping
        self._abandoned.append(job)
        job.ctx.interrupt(kind)

    # -- dispatch ------------------------------------------------------------------------

    def _start(self, c: Claimed) -> None:
        """Dispatch a claimed attempt, unless its lease ran out before it could start (its
        claim went unstarted through a store outage): the server fails it as lost and it
        runs again elsewhere, never alongside a retry."""
        if self._guard.holds(c.attempt_id):
            self._dispatch(c)
            return
        self._guard.ended(c.attempt_id)
        print(
            f"baton worker {self.name}: the lease of {c.task_key} (attempt {c.attempt_id}) "
            "ended before it could start: left to be retried",
            file=sys.stderr,
            flush=True,
        )

    def _dispatch(self, c: Claimed) -> None:
        compiled, params = self.engine.run_info(c.run_id)
        meta = self.engine.run_meta(c.run_id)
        task = compiled.tasks[c.task_key]
        flow = self._flows.get(c.run_id)
        if flow is None:
            flow = self._flows[c.run_id] = loader.for_run(compiled.spec, self.project_dir)
        upstream = self._upstream_results(c.run_id, compiled.graph.upstream[c.task_key])
        item: Any = NO_ITEM
        if c.map_index >= 0:
            if task.map_over is not None:
                item = upstream[task.map_over][c.map_index]
            else:
                items = task.config.get("map_items")
                if isinstance(items, dict) and PARAM_KEY in items:
                    items = params[items[PARAM_KEY]]
                item = items[c.map_index] if isinstance(items, list) else None
        name = c.task_key if c.map_index < 0 else f"{c.task_key}.{c.map_index}"
        path = logs.log_path(self.settings, c.run_id, name, c.attempt)
        if self._shipper is not None:
            if c.resume_state is None:
                self._shipper.add(c.attempt_id, path)
            else:
                self._shipper.resume(self.engine.store, c.attempt_id, path)
        source = loader.source_path(compiled.spec, self.project_dir)
        ctx = TaskContext(
            run_id=c.run_id,
            flow=compiled.spec.name,
            task_key=c.task_key,
            map_index=None if c.map_index < 0 else c.map_index,
            attempt=c.attempt,
            attempt_id=c.attempt_id,
            params=params,
            upstream=upstream,
            item=item,
            log_path=path,
            flow_dir=os.path.dirname(source) if source else os.getcwd(),
            work_dir=self.settings.work_dir,
            load_function=flow.load_function,
            timeout=task.timeout,
            logical_date=iso(meta.logical_date),
            data_interval_start=iso(meta.data_interval_start),
            data_interval_end=iso(meta.data_interval_end),
            trigger_info=meta.trigger_info,
            resume_state=json.loads(c.resume_state) if c.resume_state else None,
            start_run=functools.partial(self._start_child, c),
            run_status=self._run_status,
            cancel_run=self._cancel_run,
        )
        deadline = time.monotonic() + task.timeout if task.timeout else None
        job = runner.Job(
            c,
            task,
            ctx,
            self.settings.results_dir,
            deadline,
            load_secrets=functools.partial(secrets.Secrets.load, self.settings),
        )
        self._active[c.attempt_id] = job
        self._threads.submit(functools.partial(self._run_job, job))

    # -- what `flow` tasks do, from their own thread (and so their own connection) -----

    def _start_child(
        self, parent: Claimed, path: str, flow_name: str | None, params: Mapping[str, Any]
    ) -> str:
        """Start a sub-flow run for a `flow` task; this worker works on it too."""
        child = loader.pick(loader.load_file(path), flow_name, file=path)
        values = coerce_params(child.spec.params, params, flow=child.spec.name)
        store = Store(self.engine.store.url)
        try:
            engine = Engine(store)
            root = store.read().run(parent.run_id)["root_run_id"] or parent.run_id
            run_id = engine.create_run(
                engine.register(child.spec),
                values,
                trigger="flow",
                parent_run_id=parent.run_id,
                parent_task_run_id=parent.task_run_id,
                root_run_id=root,
            )
        finally:
            store.close()
        self._flows[run_id] = child
        with self._scope_lock:
            if self.run_ids is not None:
                self.run_ids.append(run_id)
                self.queues = sorted(set(self.queues) | {t.queue for t in child.spec.tasks})
        return run_id

    def _run_status(self, run_id: str) -> dict[str, Any]:
        store = Store(self.engine.store.url)
        try:
            read = store.read()
            run = read.run(run_id)
            tasks = read.task_runs(run_id)
        finally:
            store.close()
        return {
            "id": run_id,
            "flow": run["flow_name"],
            "state": run["state"],
            "tasks": {
                r["task_key"] if r["map_index"] < 0 else f"{r['task_key']}[{r['map_index']}]": {
                    "state": r["state"],
                    "error": r["error"],
                }
                for r in tasks
            },
        }

    def _cancel_run(self, run_id: str) -> bool:
        store = Store(self.engine.store.url)
        try:
            return Engine(store).cancel(run_id)
        finally:
            store.close()

    def _run_job(self, job: runner.Job) -> None:
        self._outcomes.put(runner.run_attempt(job))

    def _upstream_results(self, run_id: str, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        values: dict[str, Any] = {}
        for row in self.engine.store.read().results(run_id, keys):
            value = results.decode(row) if row["state"] == "succeeded" else None
            if row["map_index"] < 0:
                values[row["task_key"]] = value
            else:
                values.setdefault(row["task_key"], []).append(value)
        return values


def describe(r: Row) -> dict[str, Any]:
    """A row of `Tx.workers` as `baton workers --json` and the API show it."""
    return {
        "id": r["id"],
        "name": r["name"],
        "host": r["host"],
        "pid": r["pid"],
        "queues": json.loads(r["queues"]),
        "concurrency": r["concurrency"],
        "running": r["running"],
        "tasks": [
            {
                "run_id": t["run_id"],
                "task_key": t["task_key"],
                "map_index": t["map_index"] if t["map_index"] >= 0 else None,
                "attempt": t["number"],
                "started_at": iso(t["started_at"]),
            }
            for t in r["tasks"]
        ],
        "started_at": iso(r["started_at"]),
        "heartbeat_at": iso(r["heartbeat_at"]),
        "stopped_at": iso(r["stopped_at"]),
    }
