"""The engine service: applies the planner's decisions through the store, one transaction each.

Readiness is completion-driven: when an attempt ends, the same transaction counts it into
its downstream tasks' upstream counters, evaluates their trigger rules, queues or skips them,
and finishes the run when nothing is left. No loop re-scans the DAG.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from baton.engine import assets as engine_assets
from baton.engine import (
    cache_entries,
    interventions,
    notifications,
    partitions,
    planner,
    run_facts,
    selection,
)
from baton.engine.cache import LRU
from baton.engine.planner import Outcome
from baton.engine.run_facts import RunFacts, RunMeta
from baton.model.graph import Graph, validate
from baton.model.resources import Resources
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import (
    RUN_TERMINAL,
    TASK_TERMINAL,
    AttemptState,
    ErrorKind,
    RunState,
    TaskState,
)
from baton.model.trigger_rules import Decision, evaluate
from baton.store.logs import LogChunk
from baton.store.records import AttemptRow, TaskRunRow
from baton.store.store import Claimed, Row, Store, TaskMove, Tx

# Bounds of the engine's caches: entries evicted are loaded again from the store when needed.
RUN_CACHE_SIZE = 4096
VERSION_CACHE_SIZE = 1024

# A TaskRun move, the task's key, and for a branch task the downstream keys it chose.
_Step = tuple[TaskMove, str, tuple[str, ...] | None]


def new_id(size: int = 8) -> str:
    """A random hex id (os.urandom: the uuid module costs start-up time for nothing)."""
    return os.urandom(size).hex()


def _attempt_ids() -> Iterator[str]:
    while True:
        yield new_id(16)


class Compiled(NamedTuple):
    version_id: str
    spec: FlowSpec
    graph: Graph
    tasks: dict[str, TaskSpec]


class Engine:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.rng = rng or random.Random()
        self._versions: LRU[str, Compiled] = LRU(VERSION_CACHE_SIZE)
        self._runs: LRU[str, RunFacts] = LRU(RUN_CACHE_SIZE)
        self._attempt_ids = _attempt_ids()

    # -- definitions ---------------------------------------------------------------------

    def compiled(self, version_id: str, tx: Tx | None = None) -> Compiled:
        c = self._versions.get(version_id)
        if c is None:
            spec = (tx or self.store.read()).load_version(version_id)
            c = self._compile(version_id, spec)
        return c

    def _compile(self, version_id: str, spec: FlowSpec) -> Compiled:
        graph = validate(spec, {t.type for t in spec.tasks})
        c = Compiled(version_id, spec, graph, {t.key: t for t in spec.tasks})
        self._versions.put(version_id, c)
        return c

    def register(self, spec: FlowSpec) -> str:
        with self.store.transaction() as tx:
            version = tx.save_version(spec, self.clock())
        self._compile(version, spec)
        return version

    def run_info(self, run_id: str, tx: Tx | None = None) -> tuple[Compiled, dict[str, Any]]:
        """The compiled flow version and params of a run (cached: both never change)."""
        facts = self._run_facts(run_id, tx)
        return self.compiled(facts.version_id, tx), facts.params

    def run_meta(self, run_id: str) -> RunMeta:
        """What a run's tasks are told about why and for when it runs (cached)."""
        return self._run_facts(run_id, None).meta

    def _run_facts(self, run_id: str, tx: Tx | None) -> RunFacts:
        facts = self._runs.get(run_id)
        if facts is None:
            facts = run_facts.of_row((tx or self.store.read()).run(run_id))
            self._runs.put(run_id, facts)
        return facts

    # -- creating runs -------------------------------------------------------------------

    def create_run(
        self,
        version_id: str,
        params: Mapping[str, Any],
        *,
        trigger: str = "manual",
        parent_run_id: str | None = None,
        reuse: Mapping[str, Sequence[TaskRunRow]] | None = None,
        items: Mapping[str, Sequence[TaskRunRow]] | None = None,
        parent_task_run_id: int | None = None,
        root_run_id: str | None = None,
        logical_date: float | None = None,
        data_interval: tuple[float, float] | None = None,
        trigger_info: Mapping[str, Any] | None = None,
        partition: str | None = None,
        refresh_cache: bool = False,
    ) -> str:
        """Insert a Run and all its TaskRuns; tasks with nothing to wait for are queued.

        `reuse` maps task keys to TaskRun rows of an earlier run whose outcome this run keeps
        (a repair): they are copied as they were, and count for their downstream tasks;
        `items`, mapped task keys to the items of theirs it runs again.
        A sub-flow run names the `flow` task waiting for it and the run at the top.
        A scheduled run has a logical date (UNIX seconds) and data interval; the store holds
        at most one run per flow and logical date (ConflictError), repairs aside.
        `trigger_info` says what fired an event-triggered run (tasks see it); with
        `refresh_cache`, its caching tasks recompute and replace their cache entries.
        A run of a partitioned flow processes one `partition` key (`engine.partitions.
        resolve`: checked, defaulted, never two active runs for one (flow, key)); a time
        partition's interval is the run's data interval.

        A flow at its `max_active_runs` gets the run `scheduled`, its tasks all pending: it
        is admitted (queued) when one of the flow's active runs ends.
        """
        reuse, items = reuse or {}, items or {}
        now = self.clock()
        run_id = new_id()
        with self.store.transaction() as tx:
            c = self.compiled(version_id, tx)
            if c.spec.partitions is not None or partition is not None:
                partition, data_interval = partitions.resolve(
                    tx, c.spec, partition, data_interval, logical_date, now
                )
            held = False
            if c.spec.max_active_runs is not None:
                tx.lock_flow(c.spec.name)
                held = tx.active_run_count(c.spec.name) >= c.spec.max_active_runs
            rows = planner.initial_rows(
                run_id,
                selection.run_graph(c.graph, trigger_info),  # a materialize run: some tasks
                c.tasks,
                reuse,
                items,
                held=held,
                parent_run_id=parent_run_id,
                now=now,
            )
            unfinished = planner.unfinished_count(rows)
            tx.insert_run(
                {
                    "id": run_id,
                    "flow_name": c.spec.name,
                    "version_id": version_id,
                    "state": (RunState.SCHEDULED if held else RunState.QUEUED).value,
                    "params": json.dumps(dict(params)),
                    "trigger": trigger,
                    "logical_date": logical_date,
                    "data_interval_start": data_interval[0] if data_interval else None,
                    "data_interval_end": data_interval[1] if data_interval else None,
                    "trigger_info": json.dumps(dict(trigger_info)) if trigger_info else None,
                    "partition": partition,
                    "parent_run_id": parent_run_id,
                    "root_run_id": root_run_id,
                    "parent_task_run_id": parent_task_run_id,
                    "unfinished": unfinished,
                    "created_at": now,
                    "refresh_cache": int(refresh_cache),
                }
            )
            if c.spec.notifications:
                notifications.run_created(tx, c.spec, tx.run(run_id))
            tx.insert_task_runs(rows, now)
            start, end = data_interval or (None, None)
            info = dict(trigger_info) if trigger_info else None
            meta = RunMeta(logical_date, start, end, info, refresh_cache, partition)
            self._runs.put(run_id, RunFacts(version_id, dict(params), meta))
            # Count reused upstream outcomes first, then decide every pending task once.
            pending = [r for r in rows if r["state"] == TaskState.PENDING.value]
            for r in pending:
                if any(r["up_counts"]):
                    tx.bump_upstream(run_id, r["task_key"], *r["up_counts"])
            if not held:
                self._decide_pending(tx, run_id, c, [r["task_key"] for r in pending], now)
                if unfinished == 0:
                    self.finish_run(tx, run_id, c, now)
        return run_id

    def _decide_pending(
        self, tx: Tx, run_id: str, c: Compiled, keys: Iterable[str], now: float
    ) -> None:
        for key in keys:
            row = tx.bump_upstream(run_id, key, 0, 0, 0, 0)
            if row is not None:
                self._decide(tx, run_id, c, row, now)

    def _admit(self, tx: Tx, flow: str, limit: int, now: float) -> None:
        """Queue the oldest held runs of a flow while it has fewer than `limit` active."""
        tx.lock_flow(flow)
        free = limit - tx.active_run_count(flow)
        for run_id in tx.held_runs(flow, max(free, 0)):
            c, _ = self.run_info(run_id, tx)
            tx.move_run(run_id, RunState.QUEUED, None, now)
            pending = tx.unfinished_task_runs(run_id)
            again = planner.admitted_items(run_id, pending, now)
            if again:
                tx.move_tasks(again, now)
            keys = [r.task_key for r in pending if r.map_index < 0]
            self._decide_pending(tx, run_id, c, keys, now)
            if tx.run(run_id).unfinished == 0:
                self.finish_run(tx, run_id, c, now)

    # -- claiming ------------------------------------------------------------------------

    def claim(
        self,
        *,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        run_ids: Sequence[str] | None = None,
        lease: float,
        outcomes: Sequence[Outcome] = (),
        logs: Sequence[LogChunk] = (),
        free: Resources | None = None,
    ) -> list[Claimed]:
        """Record finished attempts (and the rest of their `logs`, rows of
        `Tx.append_log_chunks`), then claim up to `limit` ready task runs that fit in `free`
        together: one transaction."""
        now = self.clock()
        with self.store.transaction() as tx:
            if logs:
                tx.append_log_chunks(logs)
            if outcomes:
                self._complete(tx, outcomes, now)
            if limit <= 0:
                return []
            claimed = tx.claim(
                worker_id=worker_id,
                queues=queues,
                limit=limit,
                run_ids=run_ids,
                now=now,
                lease_until=now + lease,
                new_id=self._attempt_ids,
                free=free,
            )
            for run_id in sorted({c.run_id for c in claimed}):  # one lock order: no deadlock
                tx.move_run(
                    run_id,
                    RunState.RUNNING,
                    {"started_at": now},
                    now,
                    only_from=(RunState.SCHEDULED, RunState.QUEUED),
                )
        return claimed

    def complete(self, outcomes: Sequence[Outcome]) -> None:
        with self.store.transaction() as tx:
            self._complete(tx, outcomes, self.clock())

    def _complete(self, tx: Tx, reported: Sequence[Outcome], now: float) -> None:
        outcomes: dict[str, Outcome] = {}
        for o in reported:  # a report sent twice counts once
            outcomes.setdefault(
                o.attempt_id, planner.check_branch(self.run_info(o.run_id, tx)[0].graph, o)
            )
        accepted = tx.end_attempts(
            [
                (
                    o.attempt_id,
                    o.state.value,
                    None if o.state is AttemptState.WAITING else o.ended_at,
                    o.error,
                    o.error_kind.value if o.error_kind else None,
                    o.traceback,
                )
                for o in outcomes.values()
                if o.cached_from is None
            ]
        )
        accepted |= tx.discard_attempts(  # cache hits: their attempt ran nothing
            [o.attempt_id for o in outcomes.values() if o.cached_from is not None]
        )
        by_run: dict[str, list[Outcome]] = {}
        for o in outcomes.values():
            if o.attempt_id in accepted:  # else: a late report from an attempt already ended
                by_run.setdefault(o.run_id, []).append(o)
        for run_id, batch in sorted(by_run.items()):  # one lock order: no deadlock
            c, _ = self.run_info(run_id, tx)
            partition = self._run_facts(run_id, tx).meta.partition
            cancelling = tx.lock_run(run_id).state == RunState.CANCELLING
            steps: list[_Step] = []
            requeue: list[_Step] = []
            ended: list[planner.Completion] = []
            retries: list[tuple[Outcome, float | None]] = []
            failed: list[Outcome] = []
            for o in batch:
                done = planner.completion(
                    c.tasks[o.task_key],
                    o,
                    flow_name=c.spec.name,
                    cancelling=cancelling,
                    now=now,
                    rng=self.rng,
                    partition=partition,
                )
                steps.append((done.move, o.task_key, o.follow))
                ended.append(done)
                if done.move.to is TaskState.RETRY_WAIT and c.spec.notifications:
                    retries.append((o, done.ready_at))
                if done.move.to is TaskState.FAILED and c.tasks[o.task_key].notifications:
                    failed.append(o)
                if done.requeue is not None:
                    requeue.append((done.requeue, o.task_key, None))
            self._apply(tx, c, run_id, steps, now)
            engine_assets.record(tx, c.spec, ended, now)
            cache_entries.record(tx, c.spec, batch, now)
            if retries:
                notifications.task_retrying(tx, c.spec, run_id, retries, now)
            if failed:
                notifications.task_failed(tx, c.spec, run_id, failed, now)
            notifications.approvals_waiting(tx, c.spec, run_id, batch, now)
            if requeue:
                self._apply(tx, c, run_id, requeue, now)

    # -- state changes and their consequences --------------------------------------------

    def _move(self, tx: Tx, c: Compiled, move: TaskMove, key: str, now: float) -> None:
        self._apply(tx, c, move.run_id, [(move, key, None)], now)

    def _apply(self, tx: Tx, c: Compiled, run_id: str, steps: Sequence[_Step], now: float) -> None:
        """Apply TaskRun moves of one run, and everything they make happen downstream.

        Upstream outcomes are summed per downstream task first, so a batch of completions
        updates and evaluates each downstream task once.
        """
        finished = tx.move_tasks([m for m, _, _ in steps], now).get(run_id, 0)
        bumps: dict[str, list[int]] = {}
        for move, key, follow in steps:
            if move.to not in TASK_TERMINAL:
                continue
            not_followed: list[str] = []
            if follow is not None and move.to is TaskState.SUCCEEDED:
                not_followed = planner.branch_skips(c.graph, key, follow)[0]
                for d in not_followed:
                    target = _pending_row(tx, run_id, d)
                    if target is not None:
                        skip = TaskMove(
                            target.id,
                            run_id,
                            TaskState.PENDING,
                            TaskState.SKIPPED,
                            {"ended_at": now},
                            note=f"branch '{key}' did not follow it",
                        )
                        self._move(tx, c, skip, d, now)
            deltas = planner.upstream_deltas(move.to)
            for d in c.graph.downstream[key]:
                if d not in not_followed:
                    total = bumps.setdefault(d, [0, 0, 0, 0])
                    for i, n in enumerate(deltas):
                        total[i] += n
        for d, (success, failed, upstream_failed, skipped) in bumps.items():
            down = tx.bump_upstream(run_id, d, success, failed, upstream_failed, skipped)
            if down is not None:
                self._decide(tx, run_id, c, down, now)
        if finished and tx.finish_tasks(run_id, finished) == 0:
            self.finish_run(tx, run_id, c, now)

    def _decide(self, tx: Tx, run_id: str, c: Compiled, row: Row, now: float) -> None:
        """Evaluate a pending task's trigger rule and act on it."""
        task = c.tasks[row["task_key"]]
        decision = evaluate(task.trigger_rule, planner.counts_of(row))
        if decision is Decision.RUN and planner.is_mapped(task):
            self._expand(tx, run_id, c, task, row, now)
            return
        left = planner.leave_pending(decision, now)
        if left is not None:
            self._leave_pending(tx, c, run_id, row, *left, now)

    def _leave_pending(
        self,
        tx: Tx,
        c: Compiled,
        run_id: str,
        row: Row,
        to: TaskState,
        fields: dict[str, Any],
        now: float,
        note: str | None = None,
    ) -> None:
        move = TaskMove(row["id"], run_id, TaskState.PENDING, to, fields, note)
        self._move(tx, c, move, row["task_key"], now)

    def _expand(
        self, tx: Tx, run_id: str, c: Compiled, task: TaskSpec, row: Row, now: float
    ) -> None:
        """Turn a ready mapped task into one TaskRun per item (the placeholder becomes item 0)."""
        _, params = self.run_info(run_id, tx)
        lengths: dict[str, int | None] = {}
        if task.map_over is not None:
            lengths[task.map_over] = planner.source_length(tx.task_runs(run_id, [task.map_over]))
        e = planner.expansion(run_id, task, row, params, lengths, now)
        if e.items:
            # Downstream tasks now wait for n instances instead of one.
            tx.add_upstream_total(run_id, c.graph.downstream[task.key], len(e.items))
            tx.add_unfinished(run_id, len(e.items))
            tx.insert_task_runs(e.items, now)
        self._leave_pending(tx, c, run_id, row, e.to, e.fields, now, e.note)

    def finish_run(self, tx: Tx, run_id: str, c: Compiled, now: float) -> None:
        run = tx.run(run_id)
        if run.state in RUN_TERMINAL:
            return
        graph = selection.run_graph(c.graph, self._run_facts(run_id, tx).meta.trigger_info)
        leaves = tx.task_runs(run_id, graph.leaves)
        final = planner.run_final_state(run.state == RunState.CANCELLING, (r.state for r in leaves))
        tx.move_run(run_id, final, {"ended_at": now, "started_at": run.started_at or now}, now)
        if c.spec.notifications:
            notifications.run_ended(tx, c.spec, run, final, now)
        if c.spec.max_active_runs is not None:
            self._admit(tx, c.spec.name, c.spec.max_active_runs, now)
        if run.parent_task_run_id is not None:  # a `flow` task waits for this run: wake it
            parent = tx.task_run(run.parent_task_run_id)
            if parent.state == TaskState.WAITING:
                pc, _ = self.run_info(parent.run_id, tx)
                wake = TaskMove(
                    parent.id,
                    parent.run_id,
                    TaskState.WAITING,
                    TaskState.QUEUED,
                    {"ready_at": now},
                    note=f"run {run_id} ended {final}",
                )
                self._move(tx, pc, wake, parent.task_key, now)

    # -- timers --------------------------------------------------------------------------

    def wake_due(self, run_ids: Sequence[str] | None = None) -> float | None:
        """Queue retries and waiting tasks whose time has come; returns the next such time."""
        now = self.clock()
        if not self.store.read().due_wakeups(now, run_ids):  # the usual case: no write
            return self.store.read().next_wakeup_at()
        with self.store.transaction() as tx:
            for r in tx.due_wakeups(now, run_ids):
                c, _ = self.run_info(r["run_id"], tx)
                back = TaskMove(
                    r["id"], r["run_id"], TaskState(r["state"]), TaskState.QUEUED, {"ready_at": now}
                )
                self._move(tx, c, back, r["task_key"], now)
            return tx.next_wakeup_at()

    def wake(
        self, waiting: Mapping[int, str], note: str, states: Mapping[int, str] | None = None
    ) -> set[int]:
        """Queue now the task runs waiting with these attempts (task run id -> attempt id),
        whose remote work ended; the others are left as they are. The ids queued.

        `states` (task run id -> JSON) replaces what an attempt gets back when it goes on
        (an approval's decision), in the same compare-and-set on `waiting`: of two callers,
        one wins and the other's run is not queued (left out, or TransitionError)."""
        now = self.clock()
        states = states or {}
        with self.store.transaction() as tx:
            woken = [
                r
                for r in tx.task_runs_by_id(list(waiting))
                if r.state == TaskState.WAITING and r.resume_attempt == waiting[r.id]
            ]
            for r in woken:
                c, _ = self.run_info(r.run_id, tx)
                fields: dict[str, Any] = {"ready_at": now}
                if r.id in states:
                    fields["defer_state"] = states[r.id]
                move = TaskMove(r.id, r.run_id, TaskState.WAITING, TaskState.QUEUED, fields, note)
                self._move(tx, c, move, r.task_key, now)
        return {r.id for r in woken}

    def fail_lost(self, attempts: Iterable[AttemptRow], reason: str) -> int:
        """Fail attempts whose worker is gone (error_kind lost); they retry per policy."""
        now = self.clock()
        outcomes = [
            Outcome(
                attempt_id=a.id,
                task_run_id=a.task_run_id,
                run_id=a.run_id,
                task_key=self.store.read().task_run(a.task_run_id).task_key,
                attempt=a.number,
                state=AttemptState.FAILED,
                ended_at=now,
                error=reason,
                error_kind=ErrorKind.LOST,
            )
            for a in attempts
        ]
        if outcomes:
            self.complete(outcomes)
        return len(outcomes)

    def hand_back(self, claimed: Sequence[Claimed], reason: str) -> int:
        """Return attempts a stopping worker will not finish: each ends cancelled and its
        task run is queued again for another worker, without counting as a failure.
        Attempts that already ended (reported, or failed as lost) are left as they are."""
        now = self.clock()
        with self.store.transaction() as tx:
            ended = tx.end_attempts(
                [
                    (c.attempt_id, AttemptState.CANCELLED.value, now, reason, None, None)
                    for c in claimed
                ]
            )
            moves = [
                TaskMove(
                    c.task_run_id,
                    c.run_id,
                    TaskState.RUNNING,
                    TaskState.QUEUED,
                    {"ready_at": now},
                    note=reason,
                )
                for c in claimed
                if c.attempt_id in ended
            ]
            if moves:
                tx.move_tasks(moves, now)
        return len(moves)

    # -- cancel and repair (engine.interventions) -----------------------------------------

    def cancel(self, run_id: str) -> bool:
        return interventions.cancel(self, run_id)

    def repair(self, run_id: str) -> str:
        return interventions.repair(self, run_id)


def _pending_row(tx: Tx, run_id: str, key: str) -> TaskRunRow | None:
    for r in tx.task_runs(run_id, [key]):
        if r.state == TaskState.PENDING:
            return r
    return None
