"""Backfills of partitions asked for through the API (`POST /api/v1/flows/{name}/backfills`,
the UI's "backfill missing"): recorded in the store, carried out by the timers of whoever
runs them (`baton server`, `baton scheduler`), so the request returns at once and the
backfill survives a restart of the server.

Each round, a running backfill looks at the runs it has going and creates runs for its next
keys, in order, until `max_parallel` are active; a key that has an active run already
(another backfill, a schedule) is skipped with the reason. When every key has had its turn
and its runs have ended, the backfill is `done`. Only the timers' leader advances
backfills, so two servers never create a key's run twice. A paused flow's backfill waits;
one whose flow is deleted (or no longer deployed), or that is cancelled
(`POST /api/v1/backfills/{id}/cancel`), makes no more runs (those made go on): `cancelled`.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from baton.engine.service import Engine, new_id
from baton.errors import ConflictError, InputError
from baton.model.params import coerce_params
from baton.model.states import RUN_TERMINAL
from baton.scheduling import backfill
from baton.store.records import BackfillRow

POLL = 0.25  # seconds between looks while a backfill runs: its runs' ends are not pushed


class BackfillView(msgspec.Struct, frozen=True, gc=False):
    """A backfill as the API answers it."""

    id: str
    flow: str
    state: str  # running, done, cancelled
    partitions: list[str]  # the keys it runs, in order
    max_parallel: int
    runs: dict[str, str]  # key: run id, for the keys whose run was created
    skipped: dict[str, str]  # key: why it got no run
    requested_by: str | None

    @classmethod
    def of(cls, row: BackfillRow) -> BackfillView:
        progress = json.loads(row.progress)
        return cls(
            id=row.id,
            flow=row.flow_name,
            state=row.state,
            partitions=json.loads(row.keys),
            max_parallel=row.max_parallel,
            runs=progress["runs"],
            skipped=progress["skipped"],
            requested_by=row.requested_by,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


def start(
    engine: Engine,
    flow: str,
    selection: str | None,
    *,
    statuses: list[str],
    max_parallel: int,
    user: str | None,
    now: float,
) -> BackfillView:
    """Record a backfill of the keys `backfill.plan_partitions` selects; its runs are made
    by the timers. Raises what planning raises, or InputError if every key is being run."""
    plan = backfill.plan_partitions(engine, flow, selection, statuses=statuses, now=now)
    keys = [str(i.partition) for i in plan.items if i.skipped is None]
    skipped = {str(i.partition): str(i.skipped) for i in plan.items if i.skipped is not None}
    if not keys:
        raise InputError(f"every partition selected of flow '{flow}' has a run going")
    row = BackfillRow(
        id=new_id(),
        flow_name=flow,
        version_id=plan.version_id,
        state="running",
        keys=json.dumps(keys),
        next_index=0,
        max_parallel=max_parallel,
        progress=json.dumps({"runs": {}, "active": [], "skipped": skipped}),
        requested_by=user,
        created_at=now,
        updated_at=now,
    )
    with engine.store.transaction() as tx:
        tx.insert_backfill(row)
    return BackfillView.of(row)


def cancel(engine: Engine, backfill_id: str) -> BackfillView | None:
    """Stop a backfill making runs (those it made go on); None: no such backfill."""
    with engine.store.transaction() as tx:
        row = tx.backfill(backfill_id, lock=True)
        if row is None:
            return None
        if row.state == "running":
            now = engine.clock()
            tx.update_backfill(backfill_id, "cancelled", row.next_index, row.progress, now)
            row = msgspec.structs.replace(row, state="cancelled")
    return BackfillView.of(row)


def advance(engine: Engine) -> float | None:
    """One round over the running backfills; when to look again (None: none runs)."""
    running = engine.store.read().running_backfills()
    for backfill_id in running:
        _advance(engine, backfill_id)
    return engine.clock() + POLL if running else None


def _advance(engine: Engine, backfill_id: str) -> None:
    read = engine.store.read()
    row = read.backfill(backfill_id)
    if row is None or row.state != "running":
        return
    flow = read.flow(row.flow_name)
    if flow is None or not flow.deployed:  # deleted, or no longer deployed: no more runs
        with engine.store.transaction() as tx:
            tx.update_backfill(
                backfill_id, "cancelled", row.next_index, row.progress, engine.clock()
            )
        return
    if flow.paused:
        return
    keys: list[str] = json.loads(row.keys)
    progress = json.loads(row.progress)
    active = [r for r in progress["active"] if read.run(r).state not in RUN_TERMINAL]
    spec = engine.compiled(row.version_id).spec
    params = coerce_params(spec.params, {}, flow=spec.name)
    index = row.next_index
    while index < len(keys) and len(active) < row.max_parallel:
        key = keys[index]
        index += 1
        try:
            run_id = engine.create_run(row.version_id, params, trigger="backfill", partition=key)
        except (ConflictError, InputError) as exc:  # a run of it going; a key now gone
            progress["skipped"][key] = str(exc)
            continue
        progress["runs"][key] = run_id
        active.append(run_id)
    progress["active"] = active
    state = "done" if index >= len(keys) and not active else "running"
    with engine.store.transaction() as tx:
        tx.update_backfill(backfill_id, state, index, json.dumps(progress), engine.clock())
