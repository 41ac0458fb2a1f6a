"""Pure decisions: given an event and the states it needs, what should change.

No IO here: the service (`engine.service`) loads what these functions need, calls them, and
applies their answers through the store in one transaction.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from baton.model.compute import runs_remotely
from baton.model.graph import Graph
from baton.model.resources import Resources, need_fields
from baton.model.retry import retry_delay, should_retry
from baton.model.spec import PARAM_KEY, REF_KEY, TaskSpec
from baton.model.states import TASK_TERMINAL, AttemptState, ErrorKind, RunState, TaskState
from baton.model.trigger_rules import Decision, UpstreamCounts, evaluate
from baton.store.assets import CheckRecord, Materialization
from baton.store.records import TaskRunRow
from baton.store.store import Claimed, TaskMove

UNMAPPED = -1  # the map_index of a task run that is not one item of a mapped task


class Reported(NamedTuple):
    """What an attempt said of an asset it wrote (`baton.record_asset`, $BATON_ASSETS_FILE):
    checked by the runner (a declared output, JSON metadata, secrets masked)."""

    asset: str
    metadata: Mapping[str, Any]
    data_version: str | None = None


class CheckRun(NamedTuple):
    """A quality check run on an asset (`execution.checks`), secrets masked: by the attempt
    that wrote it, or on demand."""

    asset: str
    name: str
    severity: str  # error | warn
    passed: bool
    at: float
    duration: float
    metadata: Mapping[str, Any] | None = None
    failing_rows: tuple[Any, ...] | None = None  # a sql check's, at most 20
    error: str | None = None  # why it could not run (it then failed)

    @property
    def blocking(self) -> bool:
        """Whether it fails the attempt that wrote the asset."""
        return not self.passed and self.severity == "error"


class Outcome(NamedTuple):
    """What a worker reports when an attempt ends."""

    attempt_id: str
    task_run_id: int
    run_id: str
    task_key: str
    attempt: int
    state: AttemptState
    ended_at: float
    result: str | None = None  # JSON text, for JSON-serialisable results
    result_ref: str | None = None  # where a pickled result lives
    result_len: int | None = None  # len() of a list result, for mapping
    error: str | None = None
    error_kind: ErrorKind | None = None
    error_types: tuple[str, ...] = ()
    traceback: str | None = None
    follow: tuple[str, ...] | None = None  # a branch task's chosen downstream keys
    retryable: bool = True  # False: fail now whatever the retry policy (e.g. HTTP 4xx)
    wake_at: float | None = None  # a waiting task runs again then (None: when woken)
    defer_state: str | None = None  # JSON it gets back when it runs again
    reported: tuple[Reported, ...] = ()  # what it said of the assets it wrote, in order
    checks: tuple[CheckRun, ...] = ()  # the checks of the assets it wrote, once it succeeded
    cache_key: str | None = None  # a task that caches: the key of its result
    cache_replace: bool = False  # a refresh: its result replaces the entry under its key
    # A cache hit: the (run id, attempt) that computed the result. Its attempt never ran the
    # task: it is discarded and the task run ends with one attempt fewer.
    cached_from: tuple[str, int] | None = None

    @classmethod
    def of(cls, c: Claimed, state: AttemptState, ended_at: float, **fields: Any) -> Outcome:
        """How claimed attempt `c` ended: `state` at `ended_at`, with any other fields."""
        return cls(
            attempt_id=c.attempt_id,
            task_run_id=c.task_run_id,
            run_id=c.run_id,
            task_key=c.task_key,
            attempt=c.attempt,
            state=state,
            ended_at=ended_at,
            **fields,
        )


def next_task_state(
    task: TaskSpec, outcome: Outcome, *, cancelling: bool, rng: random.Random
) -> tuple[TaskState, float | None]:
    """The TaskRun's state after an attempt ended, and when a retry may start."""
    match outcome.state:
        case AttemptState.SUCCEEDED:
            return TaskState.SUCCEEDED, None
        case AttemptState.SKIPPED:
            return TaskState.SKIPPED, None
        case AttemptState.CANCELLED:
            return TaskState.CANCELLED, None
        case AttemptState.WAITING:
            return (
                (TaskState.CANCELLED, None) if cancelling else (TaskState.WAITING, outcome.wake_at)
            )
    kind = outcome.error_kind or ErrorKind.USER
    if cancelling:
        return TaskState.CANCELLED, None
    if outcome.retryable and should_retry(
        task.retry, attempts=outcome.attempt, error_kind=kind, error_types=outcome.error_types
    ):
        return TaskState.RETRY_WAIT, outcome.ended_at + retry_delay(
            task.retry, outcome.attempt, rng
        )
    return TaskState.FAILED, None


def upstream_deltas(state: TaskState) -> tuple[int, int, int, int]:
    """How a finished upstream counts downstream: (success, failed, upstream_failed, skipped)."""
    match state:
        case TaskState.SUCCEEDED:
            return 1, 0, 0, 0
        case TaskState.SKIPPED:
            return 0, 0, 0, 1
        case TaskState.UPSTREAM_FAILED:
            return 0, 0, 1, 0
    return 0, 1, 0, 0  # failed, and cancelled counts as failed


def counts_of(row: Mapping[str, Any]) -> UpstreamCounts:
    return UpstreamCounts(
        total=row["up_total"],
        success=row["up_success"],
        failed=row["up_failed"],
        upstream_failed=row["up_upstream_failed"],
        skipped=row["up_skipped"],
    )


def branch_skips(graph: Graph, key: str, follow: Iterable[str]) -> tuple[list[str], list[str]]:
    """Downstream keys a branch did not choose, and chosen keys that are not downstream."""
    chosen = set(follow)
    downstream = graph.downstream[key]
    return [d for d in downstream if d not in chosen], sorted(chosen - set(downstream))


def run_final_state(cancelling: bool, leaf_states: Iterable[str]) -> RunState:
    """Airflow's rule: a run fails when a leaf task failed; trigger rules absorb the rest."""
    if cancelling:
        return RunState.CANCELLED
    bad = {TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED}
    return RunState.FAILED if any(s in bad for s in leaf_states) else RunState.SUCCEEDED


def map_length(
    task: TaskSpec, params: Mapping[str, Any], source_lengths: Mapping[str, int | None]
) -> int | None:
    """How many TaskRuns a mapped task expands to; None if its items are not a list."""
    if task.map_over is not None:
        return source_lengths.get(task.map_over)
    items = task.config.get("map_items")
    if isinstance(items, dict) and PARAM_KEY in items:
        value = params.get(items[PARAM_KEY])
        return len(value) if isinstance(value, list) else None
    if isinstance(items, dict) and REF_KEY in items:
        return source_lengths.get(items[REF_KEY])
    return len(items) if isinstance(items, list) else None


def is_mapped(task: TaskSpec) -> bool:
    return task.map_over is not None or "map_items" in task.config


_REPAIRED = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED})


def worker_needs(task: TaskSpec) -> Resources | None:
    """What a task's runs hold of their worker's capacity: nothing when a compute backend
    runs it (the cluster places it by its resources; the worker only waits)."""
    return None if runs_remotely(task.config) else task.resources


class RepairPlan(NamedTuple):
    """What a repair run keeps of the run it repairs, and what it runs again."""

    reuse: dict[str, list[TaskRunRow]]  # task key -> the task runs kept as they were
    items: dict[str, list[TaskRunRow]]  # mapped task key -> its items to run again


def repair_plan(
    graph: Graph, mapped: Collection[str], rows: Sequence[TaskRunRow]
) -> RepairPlan | None:
    """Re-run what did not succeed (failed, upstream_failed, cancelled) and everything
    downstream of it; None if nothing did. A mapped task whose upstream tasks are all kept
    maps over the same items again: only its items that did not succeed run, the others
    keep their results."""
    bad = {r.task_key for r in rows if r.state in _REPAIRED}
    if not bad:
        return None
    rerun = set(bad)
    for key in graph.order:  # upstream first, so descendants are found in one pass
        if any(u in rerun for u in graph.upstream[key]):
            rerun.add(key)
    items: dict[str, list[TaskRunRow]] = {}
    for key in sorted(bad & set(mapped)):
        own = [r for r in rows if r.task_key == key]
        expanded = all(r.map_index >= 0 for r in own)  # else it failed before mapping
        if expanded and not any(u in rerun for u in graph.upstream[key]):
            items[key] = [r for r in own if r.state in _REPAIRED]
    reuse: dict[str, list[TaskRunRow]] = {}
    for r in rows:
        key = r.task_key
        if key not in rerun or (key in items and r.state not in _REPAIRED):
            reuse.setdefault(key, []).append(r)
    return RepairPlan(reuse, items)


def reused_row(run_id: str, r: TaskRunRow, parent_run_id: str | None) -> dict[str, Any]:
    """A task run of a repair run copied from the run it repairs, outcome and result kept."""
    return {
        "run_id": run_id,
        "task_key": r.task_key,
        "map_index": r.map_index,
        "state": r.state,
        "queue": r.queue,
        "pool": r.pool,
        "priority": r.priority,
        "up_total": r.up_total,
        "ready_at": None,
        "result": r.result,
        "result_ref": r.result_ref,
        "result_len": r.result_len,
        "reused_from": parent_run_id,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "attempts": 0,
        "note": f"reused from run {parent_run_id}",
    }


def item_row(run_id: str, r: TaskRunRow, state: TaskState, now: float) -> dict[str, Any]:
    """A mapped task's item that a repair runs again: `r` is the item in the repaired run."""
    queued = state is TaskState.QUEUED
    return {
        "run_id": run_id,
        "task_key": r.task_key,
        "map_index": r.map_index,
        "state": state.value,
        "queue": r.queue,
        "pool": r.pool,
        "priority": r.priority,
        "up_total": r.up_total,
        "up_counts": [0, 0, 0, 0],  # decided already: it runs
        "ready_at": now if queued else None,
        **need_fields(r.needs),
    }


# -- creating runs -------------------------------------------------------------------------


def initial_rows(
    run_id: str,
    graph: Graph,
    tasks: Mapping[str, TaskSpec],
    reuse: Mapping[str, Sequence[TaskRunRow]],
    items: Mapping[str, Sequence[TaskRunRow]],
    *,
    held: bool,
    parent_run_id: str | None,
    now: float,
) -> list[dict[str, Any]]:
    """The TaskRuns of a new run, in graph order: a repair's kept rows and items to run
    again as `reused_row`/`item_row` make them, the rest pending with their reused
    upstream outcomes counted, or queued when they have nothing to wait for (and the run
    is not held back by `max_active_runs`)."""
    rows: list[dict[str, Any]] = []
    for key in graph.order:
        t = tasks[key]
        if key in reuse or key in items:
            # Without a repaired run (materialize), each row names the run it first ran in.
            rows += [
                reused_row(run_id, r, parent_run_id or r.reused_from or r.run_id)
                for r in reuse.get(key, ())
            ]
            again = TaskState.PENDING if held else TaskState.QUEUED
            rows += [item_row(run_id, r, again, now) for r in items.get(key, ())]
            continue
        counts = [0, 0, 0, 0]
        total = 0
        for up in graph.upstream[key]:
            for r in reuse.get(up, ()):
                for i, d in enumerate(upstream_deltas(TaskState(r.state))):
                    counts[i] += d
            total += max(len(reuse.get(up, ())) + len(items.get(up, ())), 1)
        # A task with nothing to wait for is inserted queued: no second write.
        ready = evaluate(t.trigger_rule, UpstreamCounts(total, *counts)) is Decision.RUN
        queued = ready and not is_mapped(t) and not held
        rows.append(
            {
                "run_id": run_id,
                "task_key": key,
                "map_index": UNMAPPED,
                "state": (TaskState.QUEUED if queued else TaskState.PENDING).value,
                "queue": t.queue,
                "pool": t.pool,
                "priority": t.priority,
                "up_total": total,
                "up_counts": counts,
                "ready_at": now if queued else None,
                **need_fields(worker_needs(t)),
            }
        )
    return rows


def unfinished_count(rows: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for r in rows if r["state"] not in TASK_TERMINAL)


# -- completing attempts -------------------------------------------------------------------


def check_branch(graph: Graph, o: Outcome) -> Outcome:
    """A branch that chose keys which are not its downstream tasks fails, as in Airflow."""
    if o.follow is None:
        return o
    unknown = branch_skips(graph, o.task_key, o.follow)[1]
    if not unknown:
        return o
    return o._replace(
        state=AttemptState.FAILED,
        follow=None,
        error=(
            f"branch returned {', '.join(unknown)}, which is not a downstream task of "
            f"'{o.task_key}' (downstream: {', '.join(graph.downstream[o.task_key]) or 'none'})"
        ),
        error_kind=ErrorKind.USER,
    )


class Completion(NamedTuple):
    """What an accepted attempt outcome changes."""

    move: TaskMove  # the TaskRun leaves `running`
    requeue: TaskMove | None  # a retry due already is queued at once
    assets: list[Materialization]  # one per output asset of a success
    ready_at: float | None  # when a retry may start, or a waiting task runs again
    checks: list[CheckRecord]  # the results of the checks it ran (`check_record`)


def completion(
    task: TaskSpec,
    o: Outcome,
    *,
    flow_name: str,
    cancelling: bool,
    now: float,
    rng: random.Random,
    partition: str | None = None,
) -> Completion:
    """How the TaskRun of an ended attempt moves, given whether its run is cancelling (and
    its partition, which its materializations record)."""
    to, ready_at = next_task_state(task, o, cancelling=cancelling, rng=rng)
    fields: dict[str, Any] = {"ended_at": o.ended_at if to in TASK_TERMINAL else None}
    assets: list[Materialization] = []
    if o.cache_key is not None:
        fields["cache_key"] = o.cache_key
    if to is TaskState.SUCCEEDED and o.cached_from is not None:
        # Served from the cache: nothing ran, so no asset was written either.
        run, attempt = o.cached_from
        fields |= {
            "attempts": o.attempt - 1,
            "cached_from_run": run,
            "cached_from_attempt": attempt,
        }
    elif to is TaskState.SUCCEEDED:
        assets = materializations(task, o, flow_name, now, partition)
    if to is TaskState.SUCCEEDED:
        fields |= {
            "result": o.result,
            "result_ref": o.result_ref,
            "result_len": o.result_len,
            "error": None,
            "error_kind": None,
        }
    else:
        fields |= {"error": o.error, "error_kind": o.error_kind.value if o.error_kind else None}
    if to is TaskState.RETRY_WAIT:
        fields["ready_at"] = ready_at
    if to is TaskState.WAITING:
        fields |= {
            "ready_at": ready_at,
            "defer_state": o.defer_state,
            "resume_attempt": o.attempt_id,
        }
    else:
        fields |= {"defer_state": None, "resume_attempt": None}
    note = None
    if "cached_from_run" in fields:
        note = (
            f"cached from run {fields['cached_from_run']} attempt {fields['cached_from_attempt']}"
        )
    move = TaskMove(o.task_run_id, o.run_id, TaskState.RUNNING, to, fields, note)
    requeue = None
    if to is TaskState.RETRY_WAIT and ready_at is not None and ready_at <= now:
        fields = {"ready_at": now}
        requeue = TaskMove(o.task_run_id, o.run_id, TaskState.RETRY_WAIT, TaskState.QUEUED, fields)
    checks = [check_record(r, o) for r in o.checks]
    return Completion(move, requeue, assets, ready_at, checks)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def materializations(
    task: TaskSpec, o: Outcome, flow_name: str, now: float, partition: str | None = None
) -> list[Materialization]:
    """One materialization per output asset of a succeeded attempt, with what the attempt
    reported of it: metadata merged in report order (a later key wins), the last data
    version given."""
    metadata, versions = merged_reports(o.reported)
    return [
        Materialization(
            asset=asset,
            flow_name=flow_name,
            run_id=o.run_id,
            task_key=o.task_key,
            task_run_id=o.task_run_id,
            attempt=o.attempt,
            attempt_id=o.attempt_id,
            metadata=_json(metadata[asset]) if asset in metadata else None,
            data_version=versions.get(asset),
            at=now,
            partition=partition,
        )
        for asset in dict.fromkeys(task.outputs)
    ]


def merged_reports(
    reported: Iterable[Reported],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Per asset, the metadata of its reports merged in order (a later key wins), and the
    last data version given."""
    metadata: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    for r in reported:
        metadata.setdefault(r.asset, {}).update(r.metadata)
        if r.data_version is not None:
            versions[r.asset] = r.data_version
    return metadata, versions


def check_record(
    r: CheckRun, o: Outcome | None = None, materialization_id: int | None = None
) -> CheckRecord:
    """A check's result to record: of the attempt `o` ended, or run on demand (`o` None).
    The materialization it checked is known once recorded (`engine.assets`)."""
    return CheckRecord(
        asset=r.asset,
        check_name=r.name,
        severity=r.severity,
        passed=r.passed,
        at=r.at,
        run_id=o.run_id if o else None,
        task_key=o.task_key if o else None,
        task_run_id=o.task_run_id if o else None,
        attempt=o.attempt if o else None,
        materialization_id=materialization_id,
        metadata=None if r.metadata is None else json.dumps(dict(r.metadata)),
        failing_rows=None if r.failing_rows is None else json.dumps(list(r.failing_rows)),
        error=r.error,
        duration=r.duration,
    )


# -- deciding pending tasks ----------------------------------------------------------------


def leave_pending(decision: Decision, now: float) -> tuple[TaskState, dict[str, Any]] | None:
    """Where a pending (not mapped) task goes on its trigger rule's decision; None: it waits."""
    match decision:
        case Decision.SKIP:
            return TaskState.SKIPPED, {"ended_at": now}
        case Decision.UPSTREAM_FAILED:
            return TaskState.UPSTREAM_FAILED, {
                "ended_at": now,
                "error_kind": ErrorKind.UPSTREAM.value,
            }
        case Decision.RUN:
            return TaskState.QUEUED, {"ready_at": now}
    return None


def source_length(rows: Sequence[TaskRunRow]) -> int | None:
    """How many items the task runs of a mapped task's source give: a plain task's list
    result (None if it did not succeed or its result is no list), or one per item."""
    if len(rows) == 1 and rows[0].map_index == UNMAPPED:
        return rows[0].result_len if rows[0].state == TaskState.SUCCEEDED else None
    return len(rows)


class Expansion(NamedTuple):
    """A ready mapped task: where its placeholder goes, and the TaskRuns to add."""

    to: TaskState
    fields: dict[str, Any]
    note: str | None
    items: list[dict[str, Any]]  # items 1..n-1 (the placeholder becomes item 0)


def expansion(
    run_id: str,
    task: TaskSpec,
    row: Mapping[str, Any],
    params: Mapping[str, Any],
    source_lengths: Mapping[str, int | None],
    now: float,
) -> Expansion:
    """Turn a ready mapped task into one TaskRun per item; it fails if its items are not a
    list, and is skipped if there are none."""
    n = map_length(task, params, source_lengths)
    if n is None:
        fields = {
            "ended_at": now,
            "error": f"cannot map over {task.map_over or 'its items'}: not a list",
            "error_kind": ErrorKind.USER.value,
        }
        return Expansion(TaskState.FAILED, fields, None, [])
    if n == 0:
        return Expansion(TaskState.SKIPPED, {"ended_at": now}, "mapped over no items", [])
    items = [
        {
            "run_id": run_id,
            "task_key": task.key,
            "map_index": i,
            "state": TaskState.QUEUED.value,
            "queue": task.queue,
            "pool": task.pool,
            "priority": task.priority,
            "up_total": row["up_total"],
            "ready_at": now,
            **need_fields(worker_needs(task)),
        }
        for i in range(1, n)
    ]
    return Expansion(TaskState.QUEUED, {"ready_at": now, "map_index": 0}, None, items)


# -- admitting and cancelling runs ---------------------------------------------------------


def admitted_items(run_id: str, pending: Iterable[TaskRunRow], now: float) -> list[TaskMove]:
    """A held repair run's mapped items to run again were decided already: they run."""
    return [
        TaskMove(r.id, run_id, TaskState.PENDING, TaskState.QUEUED, {"ready_at": now})
        for r in pending
        if r.map_index >= 0
    ]


def cancel_moves(run_id: str, unfinished: Iterable[TaskRunRow], now: float) -> list[TaskMove]:
    """Cancelling a run ends at once everything of it that is not running; running attempts
    are stopped by their worker, which sees the run `cancelling`."""
    return [
        TaskMove(
            r.id,
            run_id,
            TaskState(r.state),
            TaskState.CANCELLED,
            {"ended_at": now, "error_kind": ErrorKind.CANCELLED.value},
        )
        for r in unfinished
        if r.state != TaskState.RUNNING
    ]
