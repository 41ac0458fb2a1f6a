"""Runs and task runs: creating them, moving their states, and reading them back.

Every state change of a run or a task run goes through `move_run` or `move_tasks`: each checks
the transition table (`model.states`), does a compare-and-set on the expected source state, and
appends to `state_events` in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from baton.errors import ConflictError, InputError, NotFoundError, TransitionError
from baton.model.access import Visibility
from baton.model.states import (
    TASK_TERMINAL,
    RunState,
    TaskState,
    run_sources,
    task_sources,
)
from baton.store.base import Row, TxBase, like_anywhere
from baton.store.grants import visible_sql
from baton.store.records import RunRow, TaskRunRow, many, one

# What a task run starts with unless the caller says otherwise.
_NEW_TASK_RUN: dict[str, Any] = dict.fromkeys(
    ("ready_at", "result", "result_ref", "result_len", "reused_from", "started_at", "ended_at"),
) | dict.fromkeys(("attempts", "need_cpu", "need_memory", "need_gpu"), 0)

_NEW_RUN: dict[str, Any] = dict.fromkeys(
    (
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "trigger_info",
        "partition",
        "parent_run_id",
        "root_run_id",
        "parent_task_run_id",
    )
)


class RunQuery(NamedTuple):
    """What the runs list filters by; every part empty or None: no filter. Several values
    of one part match any of them; the parts all apply."""

    flows: tuple[str, ...] = ()
    flow_like: str | None = None  # a part of the flow's name, any case
    states: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    partition: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    logical_after: float | None = None
    logical_before: float | None = None
    visible: Visibility | None = None
    namespace: str | None = None


def _run_where(q: RunQuery) -> tuple[list[str], list[Any]]:
    condition, params = visible_sql("flow_name", q.visible)
    where: list[str] = [condition] if condition else []
    if q.namespace is not None:
        condition, more = visible_sql("flow_name", Visibility(namespaces=frozenset([q.namespace])))
        where.append(str(condition))
        params += more
    for column, values in (("flow_name", q.flows), ("state", q.states), ("trigger", q.triggers)):
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params += list(values)
    if q.flow_like:
        where.append("lower(flow_name) LIKE ? ESCAPE '\\'")
        params.append(like_anywhere(q.flow_like))
    if q.partition is not None:
        where.append("partition = ?")
        params.append(q.partition)
    for column, low, high in (
        ("created_at", q.created_after, q.created_before),
        ("logical_date", q.logical_after, q.logical_before),
    ):
        if low is not None:
            where.append(f"{column} >= ?")
            params.append(low)
        if high is not None:
            where.append(f"{column} < ?")
            params.append(high)
    return where, params


class TaskMove(NamedTuple):
    """One TaskRun state change: from the state it must be in, to its new state."""

    id: int
    run_id: str
    frm: TaskState
    to: TaskState
    fields: Mapping[str, Any] = {}
    note: str | None = None


class RunWrites(TxBase):
    """Runs and task runs: inserts, state moves, counters, and the reads the engine uses."""

    # -- runs ----------------------------------------------------------------------------

    def insert_run(self, run: Mapping[str, Any]) -> None:
        """Insert a run; ConflictError if its flow already has a run for its logical date."""
        try:
            self._c.execute(
                "INSERT INTO runs (id, flow_name, version_id, state, params, trigger, "
                "logical_date, data_interval_start, data_interval_end, trigger_info, partition, "
                "parent_run_id, root_run_id, parent_task_run_id, unfinished, created_at, "
                "refresh_cache) VALUES (:id, :flow_name, :version_id, :state, :params, :trigger, "
                ":logical_date, :data_interval_start, :data_interval_end, :trigger_info, "
                ":partition, :parent_run_id, :root_run_id, :parent_task_run_id, :unfinished, "
                ":created_at, :refresh_cache)",
                {**_NEW_RUN, "refresh_cache": 0, **run},
            )
        except Exception as exc:
            if not self._d.is_unique_violation(exc):
                raise
            raise ConflictError(_conflict(run)) from None
        self._events([(run["id"], None, None, run["state"], run["created_at"], None)])

    def run(self, run_id: str) -> RunRow:
        row = one(RunRow, self._one("SELECT * FROM runs WHERE id = ?", (run_id,)))
        if row is None:
            raise NotFoundError(f"no run '{run_id}'; `baton runs list` shows the runs")
        return row

    def resolve_run_id(self, prefix: str) -> str:
        """The run whose id is or starts with `prefix`."""
        rows = self._all(
            "SELECT id FROM runs WHERE id >= ? AND id < ? LIMIT 2", (prefix, prefix + "\uffff")
        )
        if not rows:
            raise NotFoundError(f"no run '{prefix}'; `baton runs list` shows the runs")
        if len(rows) > 1:
            raise InputError(f"run id '{prefix}' is ambiguous: give more characters")
        return str(rows[0]["id"])

    def runs(
        self,
        *,
        flow: str | None = None,
        state: str | None = None,
        limit: int = 50,
        partition: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        after: tuple[float, str] | None = None,
        visible: Visibility | None = None,
        namespace: str | None = None,
        query: RunQuery | None = None,
        oldest_first: bool = False,
    ) -> list[RunRow]:
        """Runs newest first (`oldest_first`: the other way), of the flows `visible` holds
        (None: all), matching `query` (or, without one, the single filters). `after` is the
        (created_at, id) of the last run of the page before: the next page starts right
        after it (a cursor that stays right while new runs arrive)."""
        q = query or RunQuery(
            flows=(flow,) if flow else (),
            states=(state,) if state else (),
            partition=partition,
            created_after=created_after,
            created_before=created_before,
            visible=visible,
            namespace=namespace,
        )
        where, params = _run_where(q)
        if after is not None:
            older = "<" if not oldest_first else ">"
            where.append(f"(created_at {older} ? OR (created_at = ? AND id {older} ?))")
            params += [after[0], after[0], after[1]]
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "ASC" if oldest_first else "DESC"
        rows = self._all(
            sql + f" ORDER BY created_at {order}, id {order} LIMIT ?", (*params, limit)
        )
        return many(RunRow, rows)

    def count_runs(self, query: RunQuery) -> int:
        """How many runs match `query` (the runs list's total)."""
        where, params = _run_where(query)
        sql = "SELECT count(*) AS n FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        row = self._one(sql, tuple(params))
        return int(row["n"]) if row else 0

    def move_run(
        self,
        run_id: str,
        to: RunState,
        fields: Mapping[str, Any] | None = None,
        now: float = 0.0,
        *,
        only_from: Collection[RunState] | None = None,
    ) -> bool:
        """Move a run to `to`. With `only_from`, a run in another state is left as it is
        (returns False); otherwise a transition the table forbids raises TransitionError."""
        row = self._one("SELECT state FROM runs WHERE id = ?" + self._d.row_lock, (run_id,))
        if row is None:
            raise NotFoundError(f"no run '{run_id}'")
        if only_from is not None and row["state"] not in only_from:
            return False
        if row["state"] not in run_sources(to):
            raise TransitionError(f"run {run_id}: {row['state']} -> {to} is not allowed")
        sets = ", ".join(f"{k} = :{k}" for k in fields or {})
        try:
            cur = self._c.execute(
                f"UPDATE runs SET state = :to{', ' + sets if sets else ''} "
                "WHERE id = :id AND state = :frm",
                {**(fields or {}), "to": to.value, "id": run_id, "frm": row["state"]},
            )
        except Exception as exc:  # an ended run of a partition going back to active
            if not self._d.is_unique_violation(exc):
                raise
            raise ConflictError(
                f"run {run_id}: its flow already has another active run for its partition"
            ) from None
        if cur.rowcount != 1:
            raise TransitionError(f"run {run_id} changed state concurrently")
        self._events([(run_id, None, row["state"], to.value, now or time.time(), None)])
        return True

    def lock_run(self, run_id: str) -> RunRow:
        """The run, its row held to the end of the transaction. What changes a run and its
        task runs together (a completion, a cancel) takes it first: one lock order, so they
        wait for each other instead of failing or deadlocking."""
        row = one(
            RunRow, self._one("SELECT * FROM runs WHERE id = ?" + self._d.row_lock, (run_id,))
        )
        if row is None:
            raise NotFoundError(f"no run '{run_id}'")
        return row

    def lock_flow(self, name: str) -> None:
        """Hold the flow's row to the end of the transaction: runs of one flow are admitted
        (max_active_runs) one transaction at a time."""
        self._one("SELECT name FROM flows WHERE name = ?" + self._d.row_lock, (name,))

    def active_run_count(self, flow: str) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM runs WHERE flow_name = ? "
            "AND state IN ('queued', 'running', 'cancelling')",
            (flow,),
        )
        return int(row["n"]) if row else 0

    def held_runs(self, flow: str, limit: int) -> list[str]:
        """Runs waiting for a slot under their flow's max_active_runs, oldest first."""
        rows = self._all(
            "SELECT id FROM runs WHERE flow_name = ? AND state = 'scheduled' "
            "ORDER BY coalesce(logical_date, created_at), created_at LIMIT ?",
            (flow, limit),
        )
        return [r["id"] for r in rows]

    def finish_tasks(self, run_id: str, count: int) -> int:
        """Record `count` more terminal task runs of a run; returns how many are unfinished."""
        row = self._one(
            "UPDATE runs SET unfinished = unfinished - ? WHERE id = ? RETURNING unfinished",
            (count, run_id),
        )
        assert row is not None
        return int(row["unfinished"])

    def add_unfinished(self, run_id: str, count: int) -> None:
        self._c.execute("UPDATE runs SET unfinished = unfinished + ? WHERE id = ?", (count, run_id))

    def active_runs(self, run_ids: Iterable[str], state: RunState) -> list[str]:
        ids = list(run_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._all(
            f"SELECT id FROM runs WHERE state = ? AND id IN ({marks})", (state.value, *ids)
        )
        return [r["id"] for r in rows]

    # -- task runs -----------------------------------------------------------------------

    def insert_task_runs(self, rows: Sequence[Mapping[str, Any]], now: float) -> dict[str, int]:
        """Insert task runs of one run; returns their ids by task key (unmapped rows)."""
        if not rows:
            return {}
        rows = [{**_NEW_TASK_RUN, **r} for r in rows]
        self._c.executemany(
            "INSERT INTO task_runs (run_id, task_key, map_index, state, queue, pool, priority, "
            "up_total, ready_at, result, result_ref, result_len, reused_from, started_at, "
            "ended_at, attempts, need_cpu, need_memory, need_gpu) VALUES (:run_id, :task_key, "
            ":map_index, :state, :queue, :pool, :priority, :up_total, :ready_at, :result, "
            ":result_ref, :result_len, :reused_from, :started_at, :ended_at, :attempts, "
            ":need_cpu, :need_memory, :need_gpu)",
            rows,
        )
        run_id = rows[0]["run_id"]
        keys = {(r["task_key"], r["map_index"]) for r in rows}
        ids = {
            (r["task_key"], r["map_index"]): r["id"]
            for r in self._all(
                "SELECT id, task_key, map_index FROM task_runs WHERE run_id = ?", (run_id,)
            )
            if (r["task_key"], r["map_index"]) in keys
        }
        self._events(
            [
                (run_id, ids[r["task_key"], r["map_index"]], None, r["state"], now, r.get("note"))
                for r in rows
            ]
        )
        self.queued.update(
            ids[r["task_key"], r["map_index"]] for r in rows if r["state"] == TaskState.QUEUED
        )
        return {k: v for (k, _), v in ids.items()}

    def task_runs(self, run_id: str, keys: Iterable[str] | None = None) -> list[TaskRunRow]:
        if keys is None:
            rows = self._all("SELECT * FROM task_runs WHERE run_id = ? ORDER BY id", (run_id,))
            return many(TaskRunRow, rows)
        ks = list(keys)
        if not ks:
            return []
        marks = ",".join("?" * len(ks))
        rows = self._all(
            f"SELECT * FROM task_runs WHERE run_id = ? AND task_key IN ({marks}) "
            "ORDER BY task_key, map_index",
            (run_id, *ks),
        )
        return many(TaskRunRow, rows)

    def task_run(self, task_run_id: int) -> TaskRunRow:
        row = one(TaskRunRow, self._one("SELECT * FROM task_runs WHERE id = ?", (task_run_id,)))
        if row is None:
            raise NotFoundError(f"no task run {task_run_id}")
        return row

    def task_runs_by_id(self, ids: Collection[int]) -> list[TaskRunRow]:
        """These task runs (those that exist), in no particular order."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return many(
            TaskRunRow, self._all(f"SELECT * FROM task_runs WHERE id IN ({marks})", list(ids))
        )

    def move_tasks(
        self, moves: Sequence[TaskMove], now: float, *, events: Sequence[tuple[Any, ...]] = ()
    ) -> dict[str, int]:
        """Apply state changes (compare-and-set each); returns new terminal counts per run.
        `events` are more state events to append in the same statement (a claim's new
        attempts': one statement fewer on the hot path)."""
        groups: dict[tuple[Any, ...], list[TaskMove]] = {}
        for m in moves:
            if m.frm not in task_sources(m.to):
                raise TransitionError(f"task run {m.id}: {m.frm} -> {m.to} is not allowed")
            groups.setdefault((m.frm, m.to, tuple(sorted(m.fields))), []).append(m)
        for (frm, to, names), group in groups.items():
            sets = "".join(f", {n} = :{n}" for n in names)
            cur = self._c.executemany(
                f"UPDATE task_runs SET state = :to{sets} WHERE id = :id AND state = :frm",
                [{**m.fields, "to": to.value, "frm": frm.value, "id": m.id} for m in group],
            )
            if cur.rowcount != len(group):
                raise TransitionError(
                    f"{len(group) - cur.rowcount} task run(s) were not in state {frm} "
                    f"for {frm} -> {to}: another process changed them first"
                )
            if to is TaskState.QUEUED:
                self.queued.update(m.id for m in group)
        self._events(
            [(m.run_id, m.id, m.frm.value, m.to.value, now, m.note) for m in moves] + list(events)
        )
        finished: dict[str, int] = {}
        for m in moves:
            if m.to in TASK_TERMINAL:
                finished[m.run_id] = finished.get(m.run_id, 0) + 1
        return finished

    def bump_upstream(
        self, run_id: str, key: str, success: int, failed: int, upstream_failed: int, skipped: int
    ) -> Row | None:
        """Count finished upstreams of a pending task; None if it is no longer pending."""
        return self._one(
            "UPDATE task_runs SET up_success = up_success + ?, up_failed = up_failed + ?, "
            "up_upstream_failed = up_upstream_failed + ?, up_skipped = up_skipped + ? "
            "WHERE run_id = ? AND task_key = ? AND state = 'pending' "
            "RETURNING id, task_key, map_index, state, up_total, up_success, up_failed, "
            "up_upstream_failed, up_skipped",
            (success, failed, upstream_failed, skipped, run_id, key),
        )

    def add_upstream_total(self, run_id: str, keys: Iterable[str], extra: int) -> None:
        self._c.executemany(
            "UPDATE task_runs SET up_total = up_total + ? WHERE run_id = ? AND task_key = ? "
            "AND state = 'pending'",
            [(extra, run_id, k) for k in keys],
        )

    def pending_of_state(self, run_id: str, key: str) -> TaskRunRow | None:
        return one(
            TaskRunRow,
            self._one(
                "SELECT * FROM task_runs WHERE run_id = ? AND task_key = ? AND map_index = -1",
                (run_id, key),
            ),
        )

    def unfinished_task_runs(self, run_id: str, *, skip_locked: bool = False) -> list[TaskRunRow]:
        """A run's task runs not yet terminal; with `skip_locked`, those no other transaction
        holds (a worker claiming them now), locked to the end of this one."""
        marks = ",".join("?" * len(TASK_TERMINAL))
        return many(
            TaskRunRow,
            self._all(
                f"SELECT * FROM task_runs WHERE run_id = ? AND state NOT IN ({marks})"
                + (self._claim_lock if skip_locked else ""),
                (run_id, *TASK_TERMINAL),
            ),
        )

    def results(self, run_id: str, keys: Iterable[str]) -> list[Row]:
        ks = list(keys)
        marks = ",".join("?" * len(ks))
        return self._all(
            "SELECT task_key, map_index, state, result, result_ref FROM task_runs "
            f"WHERE run_id = ? AND task_key IN ({marks}) ORDER BY task_key, map_index",
            (run_id, *ks),
        )

    def next_wakeup_at(self) -> float | None:
        """When the next retry or waiting task is due."""
        row = self._one(
            "SELECT min(ready_at) AS t FROM task_runs WHERE state IN ('retry_wait', 'waiting')"
        )
        return None if row is None or row["t"] is None else float(row["t"])

    def due_wakeups(self, now: float, run_ids: Sequence[str] | None) -> list[Row]:
        """Retries and waiting tasks whose time has come."""
        sql = (
            "SELECT id, run_id, task_key, state FROM task_runs "
            "WHERE state IN ('retry_wait', 'waiting') AND ready_at <= ?"
        )
        params: list[Any] = [now]
        if run_ids is not None:
            sql += f" AND run_id IN ({','.join('?' * len(run_ids))})"
            params += run_ids
        return self._all(sql, params)


def _conflict(run: Mapping[str, Any]) -> str:
    """Which of the runs' unique rules a new run broke (the engine checks the partition's
    first, under the flow's lock: this one is the race's backstop)."""
    flow, partition, date = run["flow_name"], run.get("partition"), run.get("logical_date")
    if partition is not None and date is None:
        return f"flow '{flow}' already has an active run for partition {partition!r}"
    if partition is not None:
        return (
            f"flow '{flow}' already has a run for logical date {date} or an active run "
            f"for partition {partition!r}"
        )
    return f"flow '{flow}' already has a run for logical date {date}"
