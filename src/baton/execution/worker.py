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
from dataclasses import dataclass, field
from typing import Any

from baton.engine import partitions
from baton.engine.planner import Outcome
from baton.engine.run_facts import RunMeta
from baton.engine.service import Engine, new_id
from baton.errors import StoreCannotWrite, StoreError, TaskCancelled, TaskTimeout
from baton.execution import (
    caching,
    capacity,
    checks,
    container_sweep,
    fencing,
    loader,
    logs,
    lost,
    placement,
    remote,
    results,
    runner,
    secrets,
    subflows,
    threads,
)
from baton.execution.context import NO_ITEM, TaskContext
from baton.execution.loader import LoadedFlow
from baton.model.names import task_run_name
from baton.model.resources import Resources
from baton.model.spec import PARAM_KEY
from baton.model.states import RUN_TERMINAL, RunState
from baton.model.times import iso
from baton.settings import Settings
from baton.store import dialect
from baton.store.store import Claimed
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


@dataclass
class _Loop:
    """What the worker loop carries from one turn to the next."""

    next_heartbeat: float
    next_ship: float  # when running attempts' logs are next copied to the store
    next_timers: float = 0.0
    done: list[Outcome] = field(default_factory=list)  # outcomes not recorded yet
    undispatched: list[Claimed] = field(default_factory=list)  # claimed, not started yet
    probes: list[caching.Probe] = field(default_factory=list)  # keys to look up in the cache
    drain_until: float | None = None  # set once `stop` is: when what still runs is handed back
    backoff: float = RECONNECT_MIN  # the next wait before reconnecting to the database


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
        resources: Resources | None = None,
    ) -> None:
        """`resources`: the capacity its running tasks share (default: the machine's)."""
        self.engine = engine
        self.ledger = capacity.Ledger(resources or capacity.machine())
        self._notices = placement.Notices()  # why a task of its runs cannot be placed
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
        self._outcomes: queue.SimpleQueue[Outcome | caching.Probe | None] = queue.SimpleQueue()
        self._fingerprints = caching.fingerprints()
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
        self._remote = remote.Waits(engine.store.url, self.wake)  # no thread until used

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
        self._register()
        if self.run_ids is None:
            container_sweep.sweep(self.engine.store)  # what dead workers left on the engine
            self.engine.store.listen(self.wake)
        loop = _Loop(
            next_heartbeat=time.monotonic() + self.settings.heartbeat_seconds,
            next_ship=time.monotonic() + LOG_SHIP_INTERVAL,
        )
        self._guard.start()
        try:
            while self._turn(loop, stop, grace):
                pass
        finally:
            self._shut_down()

    def _turn(self, loop: _Loop, stop: threading.Event | None, grace: float) -> bool:
        """One turn of the loop: record what ended, claim and start what is ready, run the
        timers that are due, then wait for the next outcome or timer. False once the worker
        is done (its runs ended, or it drained after `stop`)."""
        self._drain(loop)
        if stop is not None and stop.is_set() and loop.drain_until is None:
            loop.drain_until = time.monotonic() + grace
        draining = loop.drain_until is not None
        try:
            self._cancel_if_requested(loop)
            self._serve_probes(loop)
            claimed = self._claim(loop, draining)
            timers_ran = self._due_timers(loop)
            self._due_heartbeat(loop)
            self._due_log_shipping(loop)
            if self._finished(loop, claimed):
                return False
            if self.run_ids is not None and not self._active and not claimed:
                self._notices.check(self.engine.store, self._scope() or ())
        except self.engine.store.errors as exc:
            if (fault := dialect.local_fault(exc)) is not None:
                raise self._cannot_write(fault) from None
            loop.backoff = self._reconnect(exc, loop.backoff, stop)
            return True
        loop.backoff = RECONNECT_MIN
        if (claimed or timers_ran) and not draining and len(self._active) < self.concurrency:
            return True  # more may be ready: claim again before waiting
        self._wait(loop)
        return True

    def _cancel_if_requested(self, loop: _Loop) -> None:
        """Cancel the worker's runs once `request_cancel` asked (Ctrl-C in `baton run`)."""
        if self._cancel_requested and self._roots is not None:
            self._cancel_requested = False
            for run_id in self._roots:
                self.engine.cancel(run_id)
            loop.next_timers = 0.0

    def _claim(self, loop: _Loop, draining: bool) -> list[Claimed]:
        """Record the outcomes in hand and claim what there is room for, in one
        transaction; start what was claimed. What was claimed."""
        free = 0 if draining else self.concurrency - len(self._active)
        ended = [o.attempt_id for o in loop.done]
        asked = fencing.now()
        claimed = self.engine.claim(
            worker_id=self.id,
            queues=self.queues,
            limit=free - len(loop.undispatched),
            run_ids=self._scope(),
            lease=self.settings.lease_seconds,
            outcomes=loop.done,
            logs=self._shipper.collect(ended, final=True) if self._shipper else (),
            free=self.ledger.free(),
        )
        for c in claimed:
            self.ledger.take(c.attempt_id, c.needs)
        if self._shipper is not None:
            self._shipper.confirm(ended, ended=True)
        loop.done = []
        self._guard.claimed([c.attempt_id for c in claimed], asked)
        # Claimed but not started yet is kept across a store error: the claims stand.
        loop.undispatched += claimed
        while loop.undispatched:
            self._start(loop.undispatched[0])
            loop.undispatched.pop(0)
        return claimed

    def _due_timers(self, loop: _Loop) -> bool:
        """Run the timers if due (a due retry brings the next run forward); whether they ran."""
        mono = time.monotonic()
        if mono < loop.next_timers:
            return False
        next_retry = self._timers()
        loop.next_timers = mono + TIMER_INTERVAL
        if next_retry is not None:
            loop.next_timers = min(loop.next_timers, mono + max(next_retry - time.time(), 0))
        return True

    def _due_heartbeat(self, loop: _Loop) -> None:
        if time.monotonic() >= loop.next_heartbeat:
            self._heartbeat([o.attempt_id for o in loop.done])
            loop.next_heartbeat = time.monotonic() + self.settings.heartbeat_seconds

    def _due_log_shipping(self, loop: _Loop) -> None:
        if self._shipper is not None and time.monotonic() >= loop.next_ship:
            self._shipper.ship(self.engine.store)
            loop.next_ship = time.monotonic() + LOG_SHIP_INTERVAL

    def _finished(self, loop: _Loop, claimed: list[Claimed]) -> bool:
        """Whether the worker is done: drained after `stop` (what still runs then is handed
        back), or, scoped to runs, nothing runs and every run ended."""
        if loop.drain_until is not None and (
            not self._active or time.monotonic() >= loop.drain_until
        ):
            self._hand_back()
            return True
        return (
            not self._active
            and not self._stopping
            and not claimed
            and self.run_ids is not None
            and self._all_done()
        )

    def _wait(self, loop: _Loop) -> None:
        """Wait for an outcome (or a wake-up) until the next timer, deadline or drain end."""
        wait_until = min([loop.next_timers, *self._deadlines()])
        if loop.drain_until is not None:
            wait_until = min(wait_until, loop.drain_until)
        try:
            o = self._outcomes.get(timeout=max(wait_until - time.monotonic(), 0))
        except queue.Empty:
            return
        if o is not None:
            self._accept(o, loop)

    def _shut_down(self) -> None:
        store = self.engine.store
        store.unlisten()
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
                    "resources": self.ledger.capacity,
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

    def _hand_back(self) -> None:
        """Give the attempts still running back to the queue, then stop them."""
        jobs = list(self._active.values())
        if not jobs:
            return
        if self._shipper is not None:
            self._shipper.ship(self.engine.store)  # what they printed so far stays theirs
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

    def _drain(self, loop: _Loop) -> None:
        while True:
            try:
                o = self._outcomes.get_nowait()
            except queue.Empty:
                return
            if o is not None:
                self._accept(o, loop)

    def _accept(self, o: Outcome | caching.Probe, loop: _Loop) -> None:
        if isinstance(o, caching.Probe):
            if o.failed is not None:
                self._accept(o.failed, loop)
            elif o.job.claimed.attempt_id in self._active:  # else: timed out or cancelled
                loop.probes.append(o)
            return
        self._guard.ended(o.attempt_id)
        self.ledger.release(o.attempt_id)
        # An outcome counts once: a stopped attempt may still report after the loop
        # recorded its timeout or cancel for it.
        if (
            self._active.pop(o.attempt_id, None) is not None
            or self._stopping.pop(o.attempt_id, None) is not None
        ):
            loop.done.append(o)

    def _serve_probes(self, loop: _Loop) -> None:
        """Look up the cache keys computed since the last turn, in one read: a hit ends its
        attempt now (recorded with the other outcomes), a miss runs it."""
        if not loop.probes:
            return
        hits, misses = caching.serve(self.engine.store.read(), loop.probes, self.engine.clock())
        loop.probes = []
        for o in hits:
            self._accept(o, loop)
        for p in misses:
            p.job.cache_key, p.job.cache_replace = p.key, p.replace
            p.job.done.clear()
            self._threads.submit(functools.partial(self._run_job, p.job))

    def _scope(self) -> list[str] | None:
        with self._scope_lock:
            return None if self.run_ids is None else list(self.run_ids)

    def _all_done(self) -> bool:
        """Whether every run in scope ended (sub-flow runs included)."""
        read = self.engine.store.read()
        return all(read.run(r).state in RUN_TERMINAL for r in self._scope() or ())

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
        self.ledger.release(c.attempt_id)
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
        broken = None
        try:
            upstream = results.upstream(
                self.engine.store.read(), c.run_id, compiled.graph.upstream[c.task_key]
            )
        except results.ResultGone as exc:  # the attempt fails, saying which
            upstream, broken = {}, str(exc)
        item: Any = NO_ITEM
        if c.map_index >= 0 and broken is None:
            if task.map_over is not None:
                item = upstream[task.map_over][c.map_index]
            else:
                items = task.config.get("map_items")
                if isinstance(items, dict) and PARAM_KEY in items:
                    items = params[items[PARAM_KEY]]
                item = items[c.map_index] if isinstance(items, list) else None
        name = task_run_name(c.task_key, c.map_index)
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
            partition=meta.partition,
            add_dynamic_partitions=lambda n, k: partitions.add(
                self.engine.store, n, k, self.engine.clock()
            ),
            resume_state=json.loads(c.resume_state) if c.resume_state else None,
            start_run=functools.partial(self._start_child, c),
            run_status=functools.partial(subflows.run_status, self.engine.store.url),
            cancel_run=functools.partial(subflows.cancel_run, self.engine.store.url),
            before_spawn=self._guard.spawning,
            clock=self.engine.clock,
            resources=task.resources,
            gpu_ids=self.ledger.gpu_ids(c.attempt_id),
            watch_remote=functools.partial(self._remote.watch, c),
        )
        deadline = time.monotonic() + task.timeout if task.timeout else None
        job = runner.Job(
            c,
            task,
            ctx,
            self.settings.results_store,
            deadline,
            load_secrets=functools.partial(secrets.Secrets.load, self.settings),
            assets=checks.of_task(compiled.spec, task),
            results_inline_max=self.settings.results_inline_max,
            broken=broken,
        )
        self._active[c.attempt_id] = job
        if task.cache is None:
            self._threads.submit(functools.partial(self._run_job, job))
        elif task.cache.key_function is None:
            # No user function to call: keyed here, which costs less than a thread's start,
            # and looked up with the others at the next turn.
            self._probe(job, meta)
        else:
            self._threads.submit(functools.partial(self._probe, job, meta))

    # -- what `flow` tasks do, from their own thread (and so their own connection) -----

    def _start_child(
        self, parent: Claimed, path: str, flow_name: str | None, params: Mapping[str, Any]
    ) -> str:
        """Start a sub-flow run for a `flow` task; this worker works on it too."""
        run_id, child = subflows.start_child(self.engine.store.url, parent, path, flow_name, params)
        self._flows[run_id] = child
        with self._scope_lock:
            if self.run_ids is not None:
                self.run_ids.append(run_id)
                self.queues = sorted(set(self.queues) | {t.queue for t in child.spec.tasks})
        return run_id

    def _run_job(self, job: runner.Job) -> None:
        self._outcomes.put(runner.run_attempt(job))

    def _probe(self, job: runner.Job, meta: RunMeta) -> None:
        try:
            self._outcomes.put(caching.probe(job, meta, self._fingerprints))
        finally:
            job.done.set()  # its thread is free; a miss clears it as it runs the attempt
