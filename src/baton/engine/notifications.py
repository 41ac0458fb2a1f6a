"""What the engine writes to the notifications outbox, in the transaction of each event.

A run created (its SLA deadlines), a task attempt failed and retried, a run ended: each
writes one row per entry of the flow's `notifications` that wants the event, so a
notification exists exactly when its event was committed. Callers check
`spec.notifications` first: a flow without any pays nothing. Rows hold data (the event,
the entry, a JSON payload); `baton.notify` formats and sends them, and retries, so a
failing notifier never touches a run. Links and secret masking are added when sending,
where the settings are known.

Keys make each notification unique, so an event recorded twice (two processes racing to
report it) is still told once: `RUN:EVENT:ENTRY`, and for a retry
`RUN:retry:TASK_RUN:ATTEMPT:ENTRY`. An asset's events (stale, check_failed) have no run of
their own: `asset:NAME:EVENT:ID:WHO:ENTRY`, with ID what makes the event one (the instant it
became stale, the check result's id) and WHO the flow whose entry it is (`-`: the asset's).

A task's own entries (`TaskSpec.notifications`) are told of that task: `RUN:EVENT:TASK_RUN:
tENTRY`. An entry with `escalate` also starts an escalation in the same transaction
(`Tx.start_escalations`, key `escalate:RUN:TASK_RUN:EVENT:ENTRY`, TASK_RUN `-` for the
run's own events): the timers send its steps (`scheduling.escalation`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from baton.engine.planner import Outcome
from baton.model import notifications, run_trigger
from baton.model.spec import FlowSpec
from baton.model.states import AttemptState, RunState, TaskState
from baton.model.times import iso
from baton.store.records import AssetRow, RunRow, TaskRunRow
from baton.store.store import Tx

KEY_MAX = 300  # the notifications.key column
FAILED_TASKS = 20  # how many failed tasks a notification lists (it says how many in all)


def run_created(tx: Tx, spec: FlowSpec, run: RunRow) -> None:
    """Queue the run's SLA notifications, due at their deadlines (dropped if it ends first)."""
    now = run.created_at
    rows = [
        _row(
            spec,
            run.id,
            "sla",
            i,
            entry,
            _run_fields(run) | {"sla": entry["sla"]},
            now,
            due=now + entry["sla"],
        )
        for i, entry in notifications.wanted(spec.notifications, "sla")
    ]
    if rows:
        tx.enqueue_notifications(rows)


def run_ended(tx: Tx, spec: FlowSpec, run: RunRow, final: RunState, now: float) -> None:
    """Queue the notifications of a run that ended `final`; drop its SLA ones not yet due."""
    if notifications.wanted(spec.notifications, "sla"):
        tx.drop_notifications(run.id, "sla", now)
    event = {RunState.SUCCEEDED: "success", RunState.FAILED: "failure"}.get(final)
    entries = notifications.wanted(spec.notifications, event) if event else []
    if not entries:
        return
    assert event is not None
    started = run.started_at or now
    payload = _run_fields(run) | {
        "state": final.value,
        "started_at": iso(started),
        "ended_at": iso(now),
        "duration": round(now - started, 3),
    }
    if final is RunState.FAILED:
        failed = [r for r in tx.task_runs(run.id) if r.state == TaskState.FAILED]
        payload["failed_count"] = len(failed)
        payload["failed_tasks"] = [
            {
                "key": r.task_key,
                "map_index": r.map_index if r.map_index >= 0 else None,
                "error_kind": r.error_kind,
                "error": notifications.excerpt(r.error),
                # Its failed attempt, whose log's last lines are added when sending.
                "task_run_id": r.id,
                "attempt": r.attempts,
            }
            for r in failed[:FAILED_TASKS]
        ]
    tx.enqueue_notifications(
        [_row(spec, run.id, event, i, entry, payload, now) for i, entry in entries]
    )
    _escalate(tx, spec, run.id, None, event, [(str(i), e) for i, e in entries], payload, now)


def task_failed(tx: Tx, spec: FlowSpec, run_id: str, failed: Sequence[Outcome], now: float) -> None:
    """Queue the notifications of tasks that failed for good (no retry left), to the
    entries of those tasks that want `failure`."""
    run = None
    for o in failed:
        entries = notifications.wanted(spec.task(o.task_key).notifications, "failure")
        if not entries:
            continue
        run = run or tx.run(run_id)
        task = {
            "key": o.task_key,
            "task_run_id": o.task_run_id,
            "attempt": o.attempt,
            "error_kind": o.error_kind.value if o.error_kind else None,
            "error": notifications.excerpt(o.error),
        }
        map_index = tx.task_run(o.task_run_id).map_index
        task["map_index"] = map_index if map_index >= 0 else None
        payload = _run_fields(run) | {
            "state": TaskState.FAILED.value,
            "task": task,
            "failed_count": 1,
            "failed_tasks": [task],
        }
        _task_event(tx, spec, run_id, o.task_run_id, "failure", entries, payload, now)


def approval_required(
    tx: Tx,
    spec: FlowSpec,
    run: RunRow,
    task_run: TaskRunRow,
    now: float,
    fields: dict[str, Any] | None = None,
) -> None:
    """Queue the `approval_required` notifications of a task that started waiting for an
    approval (the flow's entries and the task's own wanting it), `fields` added to what they
    say; entries with `escalate` start escalating, until the task stops waiting or (steps
    `unless: acknowledged`) the run is acknowledged."""
    task = {"key": task_run.task_key, "task_run_id": task_run.id, "attempt": task_run.attempts}
    task["map_index"] = task_run.map_index if task_run.map_index >= 0 else None
    payload = _run_fields(run) | {"state": task_run.state, "task": task, **(fields or {})}
    event = "approval_required"
    flow_entries = notifications.wanted(spec.notifications, event)
    key = f"{run.id}:{event}:{task_run.id}"
    rows = [_row(spec, run.id, event, i, e, payload, now, key=key) for i, e in flow_entries]
    if rows:
        tx.enqueue_notifications(rows)
    named = [(str(i), e) for i, e in flow_entries]
    _escalate(tx, spec, run.id, task_run.id, event, named, payload, now)
    own = notifications.wanted(spec.task(task_run.task_key).notifications, event)
    _task_event(tx, spec, run.id, task_run.id, event, own, payload, now)


def _task_event(
    tx: Tx,
    spec: FlowSpec,
    run_id: str,
    task_run_id: int,
    event: str,
    entries: Sequence[tuple[int, dict[str, Any]]],
    payload: dict[str, Any],
    now: float,
) -> None:
    """The rows of a task's own entries wanting `event`, and their escalations."""
    if not entries:
        return
    key = f"{run_id}:{event}:{task_run_id}"
    tx.enqueue_notifications(
        [_row(spec, run_id, event, f"t{i}", e, payload, now, key=key) for i, e in entries]
    )
    named = [(f"t{i}", e) for i, e in entries]
    _escalate(tx, spec, run_id, task_run_id, event, named, payload, now)


def _escalate(
    tx: Tx,
    spec: FlowSpec,
    run_id: str,
    task_run_id: int | None,
    event: str,
    entries: Sequence[tuple[str, dict[str, Any]]],
    payload: dict[str, Any],
    now: float,
) -> None:
    """Start an escalation for each of `entries` (named by their index) that has steps."""
    rows = [
        {
            "key": _bounded(f"escalate:{run_id}:{task_run_id or '-'}:{event}:{name}"),
            "flow_name": spec.name,
            "run_id": run_id,
            "task_run_id": task_run_id,
            "event": event,
            "steps": json.dumps(entry["escalate"]),
            "payload": json.dumps(payload | {"event": event, "flow": spec.name, "run_id": run_id}),
            "next_at": now + entry["escalate"][0]["after"],
            "created_at": now,
        }
        for name, entry in entries
        if entry.get("escalate")
    ]
    if rows:
        tx.start_escalations(rows)


def task_retrying(
    tx: Tx, spec: FlowSpec, run_id: str, retries: Sequence[tuple[Outcome, float | None]], now: float
) -> None:
    """Queue the notifications of task attempts that failed and will be retried (each
    attempt's outcome, and when its retry may start)."""
    entries = notifications.wanted(spec.notifications, "retry")
    if not entries:
        return
    run = tx.run(run_id)
    rows = []
    for o, retry_at in retries:
        map_index = tx.task_run(o.task_run_id).map_index
        payload = _run_fields(run) | {
            "state": run.state,
            "started_at": iso(run.started_at),
            "task": {
                "key": o.task_key,
                "map_index": map_index if map_index >= 0 else None,
                "task_run_id": o.task_run_id,
                "attempt": o.attempt,
                "error_kind": o.error_kind.value if o.error_kind else None,
                "error": notifications.excerpt(o.error),
                "retry_at": iso(retry_at),
            },
        }
        key = f"{run_id}:retry:{o.task_run_id}:{o.attempt}"
        rows += [_row(spec, run_id, "retry", i, e, payload, now, key=key) for i, e in entries]
    tx.enqueue_notifications(rows)


def approvals_waiting(
    tx: Tx, spec: FlowSpec, run_id: str, batch: Sequence[Outcome], now: float
) -> None:
    """Queue `approval_required` (`approval_required` above: the flow's entries, the task's
    own, their escalations) for the approval tasks of `batch` that started waiting for a
    decision; once per task run (its outbox keys), however often it defers again."""
    if not any(o.state is AttemptState.WAITING for o in batch):  # the usual batch: cheap
        return
    types = {t.key: t.type for t in spec.tasks}
    waits = [
        o
        for o in batch
        if o.state is AttemptState.WAITING
        and types.get(o.task_key) == "approval"
        and o.defer_state is not None
    ]
    if not waits:
        return
    run = tx.run(run_id)
    for o in waits:
        waiting = json.loads(o.defer_state or "{}")
        fields = {
            "prompt": notifications.excerpt(str(waiting.get("prompt", ""))),
            "approvers": waiting.get("approvers", []),
            "deadline": iso(waiting.get("deadline")),
            "on_timeout": waiting.get("on_timeout"),
        }
        approval_required(tx, spec, run, tx.task_run(o.task_run_id), now, fields)


def asset_event(
    tx: Tx,
    asset: AssetRow,
    flows: Sequence[FlowSpec],
    event: str,
    event_id: str,
    fields: dict[str, Any],
    now: float,
) -> None:
    """Queue the notifications of an asset's event (stale, check_failed): one per entry
    wanting it among the asset's own and those of `flows` (the flows declaring or writing
    it). `event_id` makes the event one, so recording it twice tells it once."""
    owner = asset.declared_by or (flows[0].name if flows else "")
    sources: list[tuple[str, str, Sequence[dict[str, Any]]]] = [
        ("-", owner, json.loads(asset.notifications))
    ]
    sources += [(f.name, f.name, f.notifications) for f in flows]
    payload = json.dumps({"event": event, "asset": asset.name, **fields})
    rows = [
        {
            "key": _bounded(f"asset:{asset.name}:{event}:{event_id}:{who}:{i}"),
            "flow_name": flow_name,
            "run_id": fields.get("run_id"),
            "asset": asset.name,
            "event": event,
            "channel": json.dumps(entry),
            "payload": payload,
            "next_at": now,
            "created_at": now,
        }
        for who, flow_name, entries in sources
        for i, entry in notifications.wanted(entries, event)
    ]
    if rows:
        tx.enqueue_notifications(rows)


def _bounded(key: str) -> str:
    """`key`, or its digest when longer than the column (names may be 300 characters)."""
    if len(key) <= KEY_MAX:
        return key
    return key.split(":", 1)[0] + ":" + hashlib.sha256(key.encode()).hexdigest()


def _run_fields(run: RunRow) -> dict[str, Any]:
    info = json.loads(run.trigger_info) if run.trigger_info else None
    return {
        "params": json.loads(run.params),
        "trigger": run_trigger.kind(run.trigger, info),
        "trigger_detail": run_trigger.detail(info),
        "logical_date": iso(run.logical_date),
        "created_at": iso(run.created_at),
    }


def _row(
    spec: FlowSpec,
    run_id: str,
    event: str,
    index: int | str,
    entry: dict[str, Any],
    fields: dict[str, Any],
    now: float,
    *,
    due: float | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    payload = {"event": event, "flow": spec.name, "run_id": run_id, **fields}
    return {
        "key": f"{key or f'{run_id}:{event}'}:{index}",
        "flow_name": spec.name,
        "run_id": run_id,
        "event": event,
        "channel": json.dumps(entry),
        "payload": json.dumps(payload),
        "next_at": now if due is None else due,
        "created_at": now,
    }
