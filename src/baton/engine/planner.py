"""Pure decisions: given an event and the states it needs, what should change.

No IO here: the service (`engine.service`) loads what these functions need, calls them, and
applies their answers through the store in one transaction.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from baton.model.graph import Graph
from baton.model.retry import retry_delay, should_retry
from baton.model.spec import PARAM_KEY, REF_KEY, TaskSpec
from baton.model.states import AttemptState, ErrorKind, RunState, TaskState
from baton.model.trigger_rules import UpstreamCounts


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


class RepairPlan(NamedTuple):
    """What a repair run keeps of the run it repairs, and what it runs again."""

    reuse: dict[str, list[Mapping[str, Any]]]  # task key -> the task runs kept as they were
    items: dict[str, list[Mapping[str, Any]]]  # mapped task key -> its items to run again


def repair_plan(
    graph: Graph, mapped: Collection[str], rows: Sequence[Mapping[str, Any]]
) -> RepairPlan | None:
    """Re-run what did not succeed (failed, upstream_failed, cancelled) and everything
    downstream of it; None if nothing did. A mapped task whose upstream tasks are all kept
    maps over the same items again: only its items that did not succeed run, the others
    keep their results."""
    bad = {r["task_key"] for r in rows if r["state"] in _REPAIRED}
    if not bad:
        return None
    rerun = set(bad)
    for key in graph.order:  # upstream first, so descendants are found in one pass
        if any(u in rerun for u in graph.upstream[key]):
            rerun.add(key)
    items: dict[str, list[Mapping[str, Any]]] = {}
    for key in sorted(bad & set(mapped)):
        own = [r for r in rows if r["task_key"] == key]
        expanded = all(r["map_index"] >= 0 for r in own)  # else it failed before mapping
        if expanded and not any(u in rerun for u in graph.upstream[key]):
            items[key] = [r for r in own if r["state"] in _REPAIRED]
    reuse: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        key = r["task_key"]
        if key not in rerun or (key in items and r["state"] not in _REPAIRED):
            reuse.setdefault(key, []).append(r)
    return RepairPlan(reuse, items)


def reused_row(run_id: str, r: Mapping[str, Any], parent_run_id: str | None) -> dict[str, Any]:
    """A task run of a repair run copied from the run it repairs, outcome and result kept."""
    return {
        "run_id": run_id,
        "task_key": r["task_key"],
        "map_index": r["map_index"],
        "state": r["state"],
        "queue": r["queue"],
        "pool": r["pool"],
        "priority": r["priority"],
        "up_total": r["up_total"],
        "ready_at": None,
        "result": r["result"],
        "result_ref": r["result_ref"],
        "result_len": r["result_len"],
        "reused_from": parent_run_id,
        "started_at": r["started_at"],
        "ended_at": r["ended_at"],
        "attempts": 0,
        "note": f"reused from run {parent_run_id}",
    }


def item_row(run_id: str, r: Mapping[str, Any], state: TaskState, now: float) -> dict[str, Any]:
    """A mapped task's item that a repair runs again: `r` is the item in the repaired run."""
    queued = state is TaskState.QUEUED
    return {
        "run_id": run_id,
        "task_key": r["task_key"],
        "map_index": r["map_index"],
        "state": state.value,
        "queue": r["queue"],
        "pool": r["pool"],
        "priority": r["priority"],
        "up_total": r["up_total"],
        "up_counts": [0, 0, 0, 0],  # decided already: it runs
        "ready_at": now if queued else None,
    }
