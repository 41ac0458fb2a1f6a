"""StateStore: the only code that reads and writes baton's durable state.

Every state change goes through `Tx.move_tasks` or `Tx.move_run`: each checks the transition
table (`model.states`), does a compare-and-set on the expected source state, and appends to
`state_events` in the same transaction. Nothing else writes a `state` column.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, NamedTuple

from baton.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    StoreError,
    TransitionError,
)
from baton.model import urls
from baton.model.spec import FlowSpec
from baton.model.states import (
    TASK_TERMINAL,
    RunState,
    TaskState,
    run_sources,
    task_sources,
)
from baton.store import dialect

Row = Mapping[str, Any]

# What a task run starts with unless the caller says otherwise.
_NEW_TASK_RUN: dict[str, Any] = dict.fromkeys(
    ("ready_at", "result", "result_ref", "result_len", "reused_from", "started_at", "ended_at"),
) | {"attempts": 0}

_NEW_RUN: dict[str, Any] = dict.fromkeys(
    (
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "trigger_info",
        "parent_run_id",
        "root_run_id",
        "parent_task_run_id",
    )
)

# The alembic revision this code reads and writes: store.schema.HEAD (checked by a test).
SCHEMA_REVISION = "0004"


# Attempts with the name of the worker that ran each (workers' rows are kept, stopped ones
# too, so the name outlives the worker).
_ATTEMPTS_NAMED = (
    "SELECT a.*, w.name AS worker FROM attempts a LEFT JOIN workers w ON w.id = a.worker_id"
)


class TaskMove(NamedTuple):
    """One TaskRun state change: from the state it must be in, to its new state."""

    id: int
    run_id: str
    frm: TaskState
    to: TaskState
    fields: Mapping[str, Any] = {}
    note: str | None = None


class Claimed(NamedTuple):
    """A TaskRun a worker has just claimed, with its new attempt."""

    task_run_id: int
    run_id: str
    task_key: str
    map_index: int
    attempt_id: str
    attempt: int
    resume_state: str | None = None  # JSON a waiting task left for its next run


class Store:
    """A connection to the state database. Use it from one thread at a time.

    The URL picks the database: sqlite:///PATH, or postgresql://... (psycopg 3).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._dialect = dialect.for_url(url)
        self._conn = self._dialect.connect()
        try:
            self._ensure_schema()
        except BaseException:
            self._conn.close()
            raise

    def _ensure_schema(self) -> None:
        d, conn = self._dialect, self._conn
        tables = d.tables(conn)
        if "alembic_version" not in tables:
            # Maybe new, or being created by another process: look again once it is done.
            with d.schema_lock(conn):
                tables = d.tables(conn)
                if not tables:
                    from baton.store import schema  # only a new database pays for SQLAlchemy

                    schema.create(self.url)
                    return
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num AS v FROM alembic_version").fetchone()
            found = f"schema revision {row['v'] if row else None}"
            if row is not None and row["v"] == SCHEMA_REVISION:
                return
        elif "baton_schema" in tables:  # made before baton used alembic
            row = conn.execute("SELECT version AS v FROM baton_schema").fetchone()
            found = f"schema version {row['v'] if row else None} (from before migrations)"
        else:
            raise StoreError(
                f"{self.shown_url} is not a baton database (it has tables, but no "
                "alembic_version): give baton an empty database or schema of its own"
            )
        raise StoreError(
            f"the database {self.shown_url} has {found}, this baton needs schema revision "
            f"{SCHEMA_REVISION}: run `baton db upgrade` (a database a newer baton upgraded "
            "needs that baton)"
        )

    @property
    def shown_url(self) -> str:
        """The URL as messages show it: its password masked."""
        return urls.redacted(self.url)

    def describe(self, exc: BaseException) -> str:
        """A database error as one line of a message or log, with no password in it."""
        return dialect.describe(exc, self.url)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction; it commits on success and rolls back on any error."""
        self._conn.execute(self._dialect.begin)
        tx = Tx(self._conn, self._dialect)
        try:
            yield tx
            if tx.queued:  # workers listening elsewhere learn at commit that work is ready
                self._dialect.notify_ready(self._conn)
        except BaseException:
            if not self._dialect.is_disconnect(self._conn):
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def read(self) -> Tx:
        """Reads outside a transaction (each statement sees the latest commit)."""
        return Tx(self._conn, self._dialect)

    def clock(self) -> float:
        """The store's "now" (UNIX seconds): see `Tx.now`."""
        return self.read().now()

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """The driver's exceptions: a caller that can wait and retry catches these."""
        return self._dialect.errors()

    @property
    def broken(self) -> bool:
        """Whether the database closed this connection (cluster mode): `reconnect`."""
        return self._dialect.is_disconnect(self._conn)

    def reconnect(self) -> None:
        """Open a new connection if the database closed this one (cluster mode)."""
        if not self._dialect.is_disconnect(self._conn):
            return
        with suppress(Exception):  # it is already broken; a new one replaces it
            self._conn.close()
        self._conn = self._dialect.connect()

    def listen(self, wake: Callable[[], object]) -> None:
        """Call `wake` (from another thread) whenever another process made work ready."""
        self._listener = self._dialect.listen(wake)

    def unlisten(self) -> None:
        listener, self._listener = getattr(self, "_listener", None), None
        if listener is not None:
            listener.stop()


class Tx:
    """The store's operations. SQL is written in sqlite3's style; see `dialect`."""

    def __init__(self, conn: dialect.Conn, d: dialect.Dialect) -> None:
        self._c = conn
        self._d = d
        self._claim_lock = d.claim_lock
        self._clock = dialect.clock(d)
        # Task runs this transaction made ready and did not claim itself: other workers are
        # told at commit. A worker that queues a successor and claims it in the same
        # transaction (a chain) wakes nobody for nothing.
        self.queued: set[int] = set()

    def _one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Row | None:
        row: Row | None = self._c.execute(sql, params).fetchone()
        return row

    def _all(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
        return list(self._c.execute(sql, params).fetchall())

    def now(self) -> float:
        """The time by the clock of leases, locks and timers (`dialect.clock`): PostgreSQL's
        on a cluster store, one round trip; this process's on SQLite, none. Statements that
        compare or set those times use the clock in their SQL instead of calling this."""
        if self._d.name == "sqlite":
            return time.time()
        row = self._one(f"SELECT {self._clock} AS t")
        assert row is not None
        return float(row["t"])

    # -- flows ---------------------------------------------------------------------------

    def flow_version(self, name: str) -> str | None:
        """The latest version of a flow, None if the store has never seen it."""
        row = self._one("SELECT latest_version FROM flows WHERE name = ?", (name,))
        return None if row is None else str(row["latest_version"])

    def mark_deployed(self, name: str, now: float) -> None:
        self._c.execute("UPDATE flows SET deployed = 1, updated_at = ? WHERE name = ?", (now, name))

    def deployed_specs(self) -> list[FlowSpec]:
        """The latest version of every deployed flow."""
        rows = self._all(
            "SELECT v.spec FROM flows f JOIN flow_versions v ON v.id = f.latest_version "
            "WHERE f.deployed = 1 ORDER BY f.name"
        )
        return [FlowSpec.from_json(r["spec"]) for r in rows]

    def save_version(self, spec: FlowSpec, now: float, *, deployed: bool = False) -> str:
        """Store a flow version (its id: `spec.content_hash()`). The hash leaves out where
        the file was found: a deployed spec's path (relative to the project, where workers
        look) replaces the one a `baton run` stored for the same definition."""
        version = spec.content_hash()
        conflict = "DO UPDATE SET spec = excluded.spec" if deployed else "DO NOTHING"
        self._c.execute(
            "INSERT INTO flow_versions (id, flow_name, spec, created_at) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (id) {conflict}",
            (version, spec.name, spec.to_json(), now),
        )
        self._c.execute(
            "INSERT INTO flows (name, latest_version, paused, created_at, updated_at) "
            "VALUES (?, ?, 0, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "latest_version = excluded.latest_version, updated_at = excluded.updated_at "
            "WHERE flows.latest_version != excluded.latest_version",
            (spec.name, version, now, now),
        )
        return version

    def load_version(self, version_id: str) -> FlowSpec:
        row = self._one("SELECT spec FROM flow_versions WHERE id = ?", (version_id,))
        if row is None:
            raise NotFoundError(f"flow version '{version_id}' is not in the store")
        return FlowSpec.from_json(row["spec"])

    # -- runs ----------------------------------------------------------------------------

    def insert_run(self, run: Mapping[str, Any]) -> None:
        """Insert a run; ConflictError if its flow already has a run for its logical date."""
        try:
            self._c.execute(
                "INSERT INTO runs (id, flow_name, version_id, state, params, trigger, "
                "logical_date, data_interval_start, data_interval_end, trigger_info, "
                "parent_run_id, root_run_id, parent_task_run_id, unfinished, created_at) "
                "VALUES (:id, :flow_name, :version_id, :state, :params, :trigger, "
                ":logical_date, :data_interval_start, :data_interval_end, :trigger_info, "
                ":parent_run_id, :root_run_id, :parent_task_run_id, :unfinished, :created_at)",
                {**_NEW_RUN, **run},
            )
        except Exception as exc:
            if not self._d.is_unique_violation(exc):
                raise
            raise ConflictError(
                f"flow '{run['flow_name']}' already has a run for logical date "
                f"{run['logical_date']}"
            ) from None
        self._events([(run["id"], None, None, run["state"], run["created_at"], None)])

    def run(self, run_id: str) -> Row:
        row = self._one("SELECT * FROM runs WHERE id = ?", (run_id,))
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
        created_after: float | None = None,
        created_before: float | None = None,
        after: tuple[float, str] | None = None,
    ) -> list[Row]:
        """Runs newest first. `after` is the (created_at, id) of the last run of the page
        before: the next page starts right after it (a cursor that stays right while new
        runs arrive)."""
        where: list[str] = []
        params: list[Any] = []
        if flow:
            where.append("flow_name = ?")
            params.append(flow)
        if state:
            where.append("state = ?")
            params.append(state)
        if created_after is not None:
            where.append("created_at >= ?")
            params.append(created_after)
        if created_before is not None:
            where.append("created_at < ?")
            params.append(created_before)
        if after is not None:
            where.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._all(sql + " ORDER BY created_at DESC, id DESC LIMIT ?", (*params, limit))

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
        cur = self._c.execute(
            f"UPDATE runs SET state = :to{', ' + sets if sets else ''} "
            "WHERE id = :id AND state = :frm",
            {**(fields or {}), "to": to.value, "id": run_id, "frm": row["state"]},
        )
        if cur.rowcount != 1:
            raise TransitionError(f"run {run_id} changed state concurrently")
        self._events([(run_id, None, row["state"], to.value, now or time.time(), None)])
        return True

    def lock_run(self, run_id: str) -> Row:
        """The run, its row held to the end of the transaction. What changes a run and its
        task runs together (a completion, a cancel) takes it first: one lock order, so they
        wait for each other instead of failing or deadlocking."""
        row = self._one("SELECT * FROM runs WHERE id = ?" + self._d.row_lock, (run_id,))
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
            "ended_at, attempts) VALUES (:run_id, :task_key, :map_index, :state, :queue, :pool, "
            ":priority, :up_total, :ready_at, :result, :result_ref, :result_len, :reused_from, "
            ":started_at, :ended_at, :attempts)",
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

    def task_runs(self, run_id: str, keys: Iterable[str] | None = None) -> list[Row]:
        if keys is None:
            return self._all("SELECT * FROM task_runs WHERE run_id = ? ORDER BY id", (run_id,))
        ks = list(keys)
        if not ks:
            return []
        marks = ",".join("?" * len(ks))
        return self._all(
            f"SELECT * FROM task_runs WHERE run_id = ? AND task_key IN ({marks}) "
            "ORDER BY task_key, map_index",
            (run_id, *ks),
        )

    def task_run(self, task_run_id: int) -> Row:
        row = self._one("SELECT * FROM task_runs WHERE id = ?", (task_run_id,))
        if row is None:
            raise NotFoundError(f"no task run {task_run_id}")
        return row

    def move_tasks(self, moves: Sequence[TaskMove], now: float) -> dict[str, int]:
        """Apply state changes (compare-and-set each); returns new terminal counts per run."""
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
        self._events([(m.run_id, m.id, m.frm.value, m.to.value, now, m.note) for m in moves])
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

    def pending_of_state(self, run_id: str, key: str) -> Row | None:
        return self._one(
            "SELECT * FROM task_runs WHERE run_id = ? AND task_key = ? AND map_index = -1",
            (run_id, key),
        )

    def unfinished_task_runs(self, run_id: str, *, skip_locked: bool = False) -> list[Row]:
        """A run's task runs not yet terminal; with `skip_locked`, those no other transaction
        holds (a worker claiming them now), locked to the end of this one."""
        marks = ",".join("?" * len(TASK_TERMINAL))
        return self._all(
            f"SELECT * FROM task_runs WHERE run_id = ? AND state NOT IN ({marks})"
            + (self._claim_lock if skip_locked else ""),
            (run_id, *TASK_TERMINAL),
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

    # -- claiming and attempts -----------------------------------------------------------

    def claim(
        self,
        *,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        run_ids: Sequence[str] | None,
        now: float,
        lease_until: float,
        new_id: Iterator[str],
    ) -> list[Claimed]:
        """Move up to `limit` queued task runs to running, each with a new attempt (or, for
        a task that was waiting, its waiting attempt continued)."""
        sql = (
            "SELECT id, run_id, task_key, map_index, pool, attempts, started_at, "
            "resume_attempt, defer_state FROM task_runs WHERE state = 'queued'"
        )
        params: list[Any] = list(queues)
        if queues:  # none: any queue (an embedded run serves all of its tasks)
            sql += f" AND queue IN ({','.join('?' * len(queues))})"
        if run_ids is not None:
            sql += f" AND run_id IN ({','.join('?' * len(run_ids))})"
            params += run_ids
        full = self._full_pools()
        if full:  # a read without locks, to skip what cannot run; _within_pools decides
            sql += f" AND (pool IS NULL OR pool NOT IN ({','.join('?' * len(full))}))"
            params += full
        sql += " ORDER BY priority DESC, ready_at, id LIMIT ?" + self._claim_lock
        rows = self._within_pools(self._all(sql, (*params, limit)))
        if not rows:
            return []
        claimed = [
            Claimed(
                r["id"],
                r["run_id"],
                r["task_key"],
                r["map_index"],
                r["resume_attempt"] or next(new_id),
                r["attempts"] if r["resume_attempt"] else r["attempts"] + 1,
                r["defer_state"] if r["resume_attempt"] else None,
            )
            for r in rows
        ]
        self.move_tasks(
            [
                TaskMove(
                    c.task_run_id,
                    c.run_id,
                    TaskState.QUEUED,
                    TaskState.RUNNING,
                    {"attempts": c.attempt, "started_at": r["started_at"] or now},
                )
                for c, r in zip(claimed, rows, strict=True)
            ],
            now,
        )
        # The lease runs from the store's clock (`now`): the caller's says only how long.
        lease = {"worker": worker_id, "now": now, "lease": lease_until - now}
        resumed = [c for c in claimed if c.resume_state is not None]
        self._c.executemany(
            "UPDATE attempts SET state = 'running', worker_id = :worker, "
            f"lease_expires_at = {self._clock} + :lease WHERE id = :id AND state = 'waiting'",
            [{**lease, "id": c.attempt_id} for c in resumed],
        )
        self._c.executemany(
            "INSERT INTO attempts (id, task_run_id, run_id, number, worker_id, state, started_at, "
            "lease_expires_at) VALUES (:id, :task_run_id, :run_id, :number, :worker, 'running', "
            f":now, {self._clock} + :lease)",
            [
                {
                    **lease,
                    "id": c.attempt_id,
                    "task_run_id": c.task_run_id,
                    "run_id": c.run_id,
                    "number": c.attempt,
                }
                for c in claimed
                if c.resume_state is None
            ],
        )
        self.queued.difference_update(c.task_run_id for c in claimed)
        return claimed

    def end_attempts(self, ends: Sequence[tuple[Any, ...]]) -> set[str]:
        """Close running attempts: (id, state, ended_at, error, error_kind, traceback) each.

        Returns the ids that were still running; a report for any other attempt is late
        (it was already failed as lost, or timed out) and is refused.
        """
        ids = [e[0] for e in ends]
        running = {
            r["id"]
            for r in self._all(
                f"SELECT id FROM attempts WHERE state = 'running' AND id IN "
                f"({','.join('?' * len(ids))})",
                ids,
            )
        }
        self._c.executemany(
            "UPDATE attempts SET state = ?, ended_at = ?, error = ?, error_kind = ?, "
            "traceback = ? WHERE id = ? AND state = 'running'",
            [(*e[1:], e[0]) for e in ends if e[0] in running],
        )
        return running

    def attempts(self, run_id: str) -> list[Row]:
        """A run's attempts, each with its worker's name (`worker`), by task run and number."""
        return self._all(
            f"{_ATTEMPTS_NAMED} WHERE a.run_id = ? ORDER BY a.task_run_id, a.number", (run_id,)
        )

    def lost_candidates(self, run_ids: Sequence[str] | None, host: str) -> list[Row]:
        """Running attempts (as `running_attempts`, of these runs only when given) whose
        lease expired by the store's clock (`lease_expired` true), whose worker stopped, or
        whose worker runs on `host` (the caller sees whether that process is alive)."""
        sql = (
            f"SELECT a.*, a.lease_expires_at < {self._clock} AS lease_expired, w.host, w.pid, "
            "w.heartbeat_at, w.stopped_at FROM attempts a LEFT JOIN workers w "
            "ON w.id = a.worker_id WHERE a.state = 'running' AND "
            f"(a.lease_expires_at < {self._clock} OR w.stopped_at IS NOT NULL OR w.host = :host)"
        )
        params: dict[str, Any] = {"now": time.time(), "host": host}
        if run_ids is not None:
            params |= {f"r{i}": r for i, r in enumerate(run_ids)}
            sql += f" AND a.run_id IN ({','.join(f':r{i}' for i in range(len(run_ids)))})"
        return self._all(sql, params)

    def running_attempts(self, run_ids: Sequence[str] | None = None) -> list[Row]:
        sql = (
            "SELECT a.*, w.host, w.pid, w.heartbeat_at, w.stopped_at FROM attempts a "
            "LEFT JOIN workers w ON w.id = a.worker_id WHERE a.state = 'running'"
        )
        if run_ids is None:
            return self._all(sql)
        return self._all(sql + f" AND a.run_id IN ({','.join('?' * len(run_ids))})", run_ids)

    def renew_leases(
        self, worker_id: str, attempt_ids: Sequence[str], now: float, lease_until: float
    ) -> None:
        """Extend the leases of the attempts a worker is running. Only those it names: an
        attempt it claimed but never started (its connection broke first) lets its lease
        expire, and is retried elsewhere. Leases and the heartbeat run from the store's clock
        (`now`); the worker's says only how long the lease is."""
        lease = {"worker": worker_id, "now": now, "lease": lease_until - now}
        self._c.executemany(
            f"UPDATE attempts SET lease_expires_at = {self._clock} + :lease WHERE id = :id "
            "AND worker_id = :worker AND state = 'running'",
            [{**lease, "id": a} for a in attempt_ids],
        )
        self._c.execute(
            f"UPDATE workers SET heartbeat_at = {self._clock} WHERE id = :worker", lease
        )

    def runs_under(self, root_run_id: str) -> list[str]:
        """A run and every sub-flow run below it."""
        rows = self._all(
            "SELECT id FROM runs WHERE id = ? OR root_run_id = ?", (root_run_id, root_run_id)
        )
        return [r["id"] for r in rows]

    def child_runs(self, task_run_ids: Sequence[int]) -> list[str]:
        if not task_run_ids:
            return []
        marks = ",".join("?" * len(task_run_ids))
        rows = self._all(f"SELECT id FROM runs WHERE parent_task_run_id IN ({marks})", task_run_ids)
        return [r["id"] for r in rows]

    def close_attempts(self, attempt_ids: Sequence[str], state: str, now: float) -> None:
        """End waiting attempts (their task run was cancelled while waiting)."""
        self._c.executemany(
            "UPDATE attempts SET state = ?, ended_at = ?, error_kind = ? "
            "WHERE id = ? AND state = 'waiting'",
            [(state, now, state, a) for a in attempt_ids],
        )

    # -- assets --------------------------------------------------------------------------

    def record_assets(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Asset updates: (asset, flow_name, run_id, task_key, task_run_id, at) each."""
        self._c.executemany(
            "INSERT INTO asset_events (asset, flow_name, run_id, task_key, task_run_id, at) "
            "VALUES (:asset, :flow_name, :run_id, :task_key, :task_run_id, :at)",
            events,
        )

    # -- workers -------------------------------------------------------------------------

    def register_worker(self, worker: Mapping[str, Any]) -> None:
        self._c.execute(
            "INSERT INTO workers (id, name, host, pid, queues, concurrency, started_at, "
            "heartbeat_at) VALUES (:id, :name, :host, :pid, :queues, :concurrency, :started_at, "
            ":started_at)",
            {**worker, "queues": json.dumps(list(worker["queues"]))},
        )

    def stop_worker(self, worker_id: str, now: float) -> None:
        self._c.execute("UPDATE workers SET stopped_at = ? WHERE id = ?", (now, worker_id))

    def workers(self, *, include_stopped: bool = False) -> list[Row]:
        """Workers with how many attempts each is running, newest first, and `tasks`: what
        they run (run_id, task_key, map_index, number, started_at of each attempt, oldest
        first). The running attempts are a range of the lease index: live work only."""
        sql = (
            "SELECT w.*, (SELECT count(*) FROM attempts a WHERE a.worker_id = w.id "
            "AND a.state = 'running') AS running FROM workers w"
        )
        if not include_stopped:
            sql += " WHERE w.stopped_at IS NULL"
        rows = self._all(sql + " ORDER BY w.started_at DESC")
        tasks: dict[str, list[Row]] = {}
        if any(r["running"] for r in rows):
            for a in self._all(
                "SELECT a.worker_id, a.run_id, t.task_key, t.map_index, a.number, a.started_at "
                "FROM attempts a JOIN task_runs t ON t.id = a.task_run_id "
                "WHERE a.state = 'running' ORDER BY a.started_at, a.id"
            ):
                tasks.setdefault(a["worker_id"], []).append(a)
        return [{**r, "tasks": tasks.get(r["id"], [])} for r in rows]

    # -- leases on roles (one active `baton server` / scheduler) --------------------------

    def acquire_lock(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take or renew the named lock for `holder` until now + ttl by the store's clock
        (`now` is used on SQLite only); False if another holder's lock has not expired.
        Either statement is atomic on its own, so two contenders never both win."""
        params = {"name": name, "holder": holder, "now": now, "ttl": ttl}
        self._c.execute(
            "INSERT INTO locks (name, holder, expires_at) "
            f"VALUES (:name, :holder, {self._clock} + :ttl) ON CONFLICT (name) DO NOTHING",
            params,
        )
        cur = self._c.execute(
            f"UPDATE locks SET holder = :holder, expires_at = {self._clock} + :ttl "
            f"WHERE name = :name AND (holder = :holder OR expires_at < {self._clock})",
            params,
        )
        return cur.rowcount == 1

    def release_lock(self, name: str, holder: str) -> None:
        self._c.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (name, holder))

    # -- pools ---------------------------------------------------------------------------

    def set_pool(self, name: str, slots: int, description: str | None, now: float) -> None:
        self._c.execute(
            "INSERT INTO pools (name, slots, description, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET slots = excluded.slots, "
            "description = coalesce(excluded.description, pools.description), "
            "updated_at = excluded.updated_at",
            (name, slots, description, now),
        )

    def delete_pool(self, name: str) -> bool:
        return self._c.execute("DELETE FROM pools WHERE name = ?", (name,)).rowcount == 1

    def pools(self) -> list[Row]:
        """Every pool with its slots and how many of them are taken now."""
        return self._all(
            "SELECT p.*, (SELECT count(*) FROM task_runs t WHERE t.pool = p.name "
            "AND t.state = 'running') AS running FROM pools p ORDER BY p.name"
        )

    def _full_pools(self) -> list[str]:
        return [r["name"] for r in self.pools() if r["running"] >= r["slots"]]

    def _within_pools(self, rows: list[Row]) -> list[Row]:
        """The candidate rows a claim may take without overfilling a pool.

        Each pool involved is locked to the end of the transaction (PostgreSQL), then its
        running task runs are counted: concurrent claimers of one pool take turns, so no
        two of them fill the same free slot. A pool that is not defined limits nothing.
        """
        names = sorted({r["pool"] for r in rows if r["pool"] is not None})
        if not names:
            return rows
        free: dict[str, int] = {}
        for name in names:  # sorted: one lock order, no deadlock
            self._d.lock_pool(self._c, name)
            row = self._one(
                "SELECT slots, (SELECT count(*) FROM task_runs WHERE pool = ? "
                "AND state = 'running') AS running FROM pools WHERE name = ?",
                (name, name),
            )
            if row is not None:
                free[name] = row["slots"] - row["running"]
        kept = []
        for r in rows:
            if r["pool"] in free:
                if free[r["pool"]] <= 0:
                    continue
                free[r["pool"]] -= 1
            kept.append(r)
        return kept

    # -- history -------------------------------------------------------------------------

    def events(self, run_id: str) -> list[Row]:
        return self._all("SELECT * FROM state_events WHERE run_id = ? ORDER BY id", (run_id,))

    def _events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._c.executemany(
            "INSERT INTO state_events (run_id, task_run_id, from_state, to_state, at, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    # -- scheduling ----------------------------------------------------------------------

    def flow(self, name: str) -> Row | None:
        """A flow's row: latest_version, paused, deployed, created_at, updated_at."""
        return self._one("SELECT * FROM flows WHERE name = ?", (name,))

    def active_flows(self) -> list[Row]:
        """Deployed, unpaused flows (what the scheduler looks at): name, latest_version and
        updated_at (when their latest version was deployed, or last changed)."""
        return self._all(
            "SELECT name, latest_version, updated_at FROM flows "
            "WHERE deployed = 1 AND paused = 0 ORDER BY name"
        )

    def flows_overview(self) -> list[Row]:
        """Every flow with its latest spec (JSON) and its latest run, by name."""
        return self._all(
            "SELECT f.name, f.deployed, f.paused, f.latest_version, v.spec, "
            "r.id AS last_run_id, r.state AS last_run_state, r.created_at AS last_run_at "
            "FROM flows f JOIN flow_versions v ON v.id = f.latest_version "
            "LEFT JOIN runs r ON r.id = (SELECT id FROM runs WHERE flow_name = f.name "
            "ORDER BY created_at DESC, id DESC LIMIT 1) ORDER BY f.name"
        )

    def set_paused(self, name: str, paused: bool) -> bool:
        """Pause or unpause a flow's schedule and triggers; False if there is no such flow."""
        cur = self._c.execute("UPDATE flows SET paused = ? WHERE name = ?", (int(paused), name))
        return cur.rowcount == 1

    def trigger_cursor(self, flow: str, trigger_id: str) -> Row | None:
        """Where a trigger has got to (`cursor`, JSON) and when it moved (`updated_at`)."""
        return self._one(
            "SELECT cursor, updated_at FROM trigger_state WHERE flow_name = ? AND trigger_id = ?",
            (flow, trigger_id),
        )

    def set_trigger_cursor(
        self, flow: str, trigger_id: str, old: str | None, new: str, now: float
    ) -> bool:
        """Compare-and-set a trigger's cursor from `old` (None: it has none yet) to `new`;
        False if another scheduler moved it first."""
        if old is None:
            cur = self._c.execute(
                "INSERT INTO trigger_state (flow_name, trigger_id, cursor, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (flow_name, trigger_id) DO NOTHING",
                (flow, trigger_id, new, now),
            )
        else:
            cur = self._c.execute(
                "UPDATE trigger_state SET cursor = ?, updated_at = ? "
                "WHERE flow_name = ? AND trigger_id = ? AND cursor = ?",
                (new, now, flow, trigger_id, old),
            )
        return cur.rowcount == 1

    def asset_events_since(self, assets: Sequence[str], since: float) -> list[Row]:
        """Updates of these assets recorded at or after `since`, oldest first."""
        marks = ",".join("?" * len(assets))
        return self._all(
            f"SELECT * FROM asset_events WHERE asset IN ({marks}) AND at >= ? ORDER BY at, id",
            (*assets, since),
        )

    def runs_ended_since(self, flow: str, states: Sequence[str], since: float) -> list[Row]:
        """A flow's runs that ended in one of `states` at or after `since`, oldest first."""
        marks = ",".join("?" * len(states))
        return self._all(
            f"SELECT id, flow_name, state, ended_at FROM runs WHERE flow_name = ? "
            f"AND state IN ({marks}) AND ended_at >= ? ORDER BY ended_at, id",
            (flow, *states, since),
        )

    def event_trigger_infos(self, flow: str, since: float) -> list[str]:
        """The trigger_info (JSON) of a flow's event-triggered runs created since `since`
        (labelled by kind, model.run_trigger.EVENT_KINDS; `event` by an older baton)."""
        rows = self._all(
            "SELECT trigger_info FROM runs WHERE flow_name = ? "
            "AND trigger IN ('event', 'file', 'asset', 'flow') "
            "AND created_at >= ? AND trigger_info IS NOT NULL",
            (flow, since),
        )
        return [r["trigger_info"] for r in rows]

    def runs_for_logical_dates(self, flow: str, first: float, last: float) -> list[Row]:
        """A flow's runs with a logical date from `first` to `last`, oldest first."""
        return self._all(
            "SELECT id, state, logical_date, parent_run_id, created_at FROM runs "
            "WHERE flow_name = ? AND logical_date >= ? AND logical_date <= ? "
            "ORDER BY logical_date, created_at, id",
            (flow, first, last),
        )

    # -- API: tokens, audit log, notifications --------------------------------------------

    def insert_token(self, token: Mapping[str, Any]) -> None:
        """A token: id, user_name, role, secret_hash, description, created_at."""
        self._c.execute(
            "INSERT INTO tokens (id, user_name, role, secret_hash, description, created_at) "
            "VALUES (:id, :user_name, :role, :secret_hash, :description, :created_at)",
            token,
        )

    def token(self, token_id: str) -> Row | None:
        return self._one("SELECT * FROM tokens WHERE id = ?", (token_id,))

    def tokens(self, *, include_revoked: bool = False) -> list[Row]:
        sql = "SELECT * FROM tokens"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        return self._all(sql + " ORDER BY created_at, id")

    def revoke_token(self, token_id: str, now: float) -> bool:
        cur = self._c.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id)
        )
        return cur.rowcount == 1

    def touch_token(self, token_id: str, now: float) -> None:
        self._c.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now, token_id))

    def add_audit(self, entry: Mapping[str, Any]) -> None:
        """An audit entry: at, actor, token_id, role, action, object_type, object_id,
        outcome, status, remote, detail (JSON or None)."""
        self._c.execute(
            "INSERT INTO audit_log (at, actor, token_id, role, action, object_type, object_id, "
            "outcome, status, remote, detail) VALUES (:at, :actor, :token_id, :role, :action, "
            ":object_type, :object_id, :outcome, :status, :remote, :detail)",
            entry,
        )

    def audit(
        self,
        *,
        limit: int = 50,
        before_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[Row]:
        """Audit entries, newest first; `before_id` pages back."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("id <", before_id), ("actor =", actor), ("action =", action)):
            if value is not None:
                where.append(f"{column} ?")
                params.append(value)
        sql = "SELECT * FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))

    def enqueue_notifications(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Notifications to send: key, flow_name, run_id, event, channel, payload (JSON),
        next_at, created_at. A key already queued is left as it is (one per event)."""
        self._c.executemany(
            "INSERT INTO notifications (key, flow_name, run_id, event, channel, payload, "
            "state, attempts, next_at, created_at) VALUES (:key, :flow_name, :run_id, :event, "
            ":channel, :payload, 'pending', 0, :next_at, :created_at) "
            "ON CONFLICT (key) DO NOTHING",
            rows,
        )

    def due_notifications(
        self, now: float, limit: int = 100, run_ids: Sequence[str] | None = None
    ) -> list[Row]:
        """Pending notifications due at `now`, of these runs only when `run_ids` is given."""
        where = ""
        if run_ids is not None:
            if not run_ids:
                return []
            where = f" AND run_id IN ({','.join('?' * len(run_ids))})"
        return self._all(
            f"SELECT * FROM notifications WHERE state = 'pending' AND next_at <= ?{where} "
            "ORDER BY next_at, id LIMIT ?",
            (now, *(run_ids or ()), limit),
        )

    def claim_notification(self, notification_id: int, attempts: int, until: float) -> bool:
        """Take a pending notification to send it: counts the attempt and holds it until
        `until` (then another process may try, should this one die). False if another
        process took it first (its `attempts` changed)."""
        cur = self._c.execute(
            "UPDATE notifications SET attempts = attempts + 1, next_at = ? "
            "WHERE id = ? AND state = 'pending' AND attempts = ?",
            (until, notification_id, attempts),
        )
        return cur.rowcount == 1

    def drop_notifications(self, run_id: str, event: str, after: float) -> None:
        """Delete a run's pending notifications of `event` due after `after`, never tried
        (the SLA notices of a run that ended in time)."""
        self._c.execute(
            "DELETE FROM notifications WHERE run_id = ? AND event = ? AND state = 'pending' "
            "AND attempts = 0 AND next_at > ?",
            (run_id, event, after),
        )

    def next_notification_at(self) -> float | None:
        row = self._one("SELECT min(next_at) AS t FROM notifications WHERE state = 'pending'")
        return None if row is None or row["t"] is None else float(row["t"])

    def update_notification(self, notification_id: int, fields: Mapping[str, Any]) -> None:
        """Set some of state, attempts, next_at, sent_at, error."""
        allowed = {"state", "attempts", "next_at", "sent_at", "error"}
        assert set(fields) <= allowed, set(fields) - allowed
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        self._c.execute(
            f"UPDATE notifications SET {sets} WHERE id = :id", {**fields, "id": notification_id}
        )

    def notifications(self, run_id: str) -> list[Row]:
        return self._all("SELECT * FROM notifications WHERE run_id = ? ORDER BY id", (run_id,))

    # -- API queries (cluster, metrics) ---------------------------------------------------

    def queue_counts(self) -> list[Row]:
        """Task runs queued and running per queue (queues with either), by queue name. A
        range of the claim index (it starts with state): live work, not the history."""
        return self._all(
            "SELECT queue, sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) AS queued, "
            "sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running FROM task_runs "
            "WHERE state IN ('queued', 'running') GROUP BY queue ORDER BY queue"
        )

    def served_queues(self) -> set[str]:
        """The queues the workers not stopped serve."""
        rows = self._all("SELECT queues FROM workers WHERE stopped_at IS NULL")
        return {q for r in rows for q in json.loads(r["queues"])}

    def run_state_counts(self) -> dict[str, int]:
        """How many runs are in each state (states with none are left out)."""
        rows = self._all("SELECT state, count(*) AS n FROM runs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def task_state_counts(self, states: Collection[str]) -> dict[str, int]:
        """How many task runs are in each of `states` (a range of the claim index each, so
        ask for the live states: the finished ones are all of history)."""
        marks = ",".join("?" * len(states))
        rows = self._all(
            f"SELECT state, count(*) AS n FROM task_runs WHERE state IN ({marks}) GROUP BY state",
            tuple(states),
        )
        return {r["state"]: int(r["n"]) for r in rows}

    def live_worker_count(self, heartbeat_since: float) -> int:
        """Workers not stopped that have heartbeated at or after `heartbeat_since`."""
        row = self._one(
            "SELECT count(*) AS n FROM workers WHERE stopped_at IS NULL AND heartbeat_at >= ?",
            (heartbeat_since,),
        )
        return int(row["n"]) if row else 0

    def lock_expiry(self, name: str) -> float | None:
        """When the named lock expires (its holder renews it each round), None if unheld."""
        row = self._one("SELECT expires_at FROM locks WHERE name = ?", (name,))
        return None if row is None else float(row["expires_at"])

    def last_event_id(self) -> int:
        """The id of the newest state event (0 if none): where a reader of new events starts."""
        row = self._one("SELECT max(id) AS id FROM state_events")
        return 0 if row is None or row["id"] is None else int(row["id"])

    def task_ends(self, after_id: int, settled: float, span: int) -> tuple[int, list[Row]]:
        """Task runs that ended after running, from the state events after `after_id`: where
        the next read starts, and rows of `state` (terminal), `started_at`, `ended_at`.

        Only events stamped at or before `settled` are read, so one that a transaction still
        open has numbered but not committed is not skipped for good (unless that transaction
        takes longer than now - settled); at most `span` events are read at once. A range of the
        primary key: the cost is what happened since the last read, not all of history.
        """
        row = self._one(
            "SELECT max(id) AS id FROM (SELECT id FROM state_events WHERE id > ? AND at <= ? "
            "ORDER BY id LIMIT ?) AS e",
            (after_id, settled, span),
        )
        upto = after_id if row is None or row["id"] is None else int(row["id"])
        if upto == after_id:
            return after_id, []
        marks = ",".join("?" * len(TASK_TERMINAL))
        rows = self._all(
            "SELECT e.to_state AS state, t.started_at, t.ended_at FROM state_events e "
            "JOIN task_runs t ON t.id = e.task_run_id WHERE e.id > ? AND e.id <= ? "
            f"AND e.from_state IN ('running', 'waiting') AND e.to_state IN ({marks}) "
            "AND t.started_at IS NOT NULL AND t.ended_at IS NOT NULL",
            (after_id, upto, *TASK_TERMINAL),
        )
        return upto, rows

    # -- API queries (flows, runs) --------------------------------------------------------

    def flow_rows(
        self,
        *,
        name: str | None = None,
        search: str | None = None,
        paused: bool | None = None,
        after: str | None = None,
        limit: int = 500,
    ) -> list[Row]:
        """Flows as `flows_overview` has them, by name: one `name`, or those whose name
        holds `search` (any case), paused or not, after the name `after` (a page's last)."""
        where: list[str] = []
        params: list[Any] = []
        if name is not None:
            where.append("f.name = ?")
            params.append(name)
        if search:
            escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("lower(f.name) LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        if paused is not None:
            where.append("f.paused = ?")
            params.append(int(paused))
        if after is not None:
            where.append("f.name > ?")
            params.append(after)
        return self._all(
            "SELECT f.name, f.deployed, f.paused, f.latest_version, v.spec, "
            "r.id AS last_run_id, r.state AS last_run_state, r.created_at AS last_run_at "
            "FROM flows f JOIN flow_versions v ON v.id = f.latest_version "
            "LEFT JOIN runs r ON r.id = (SELECT id FROM runs WHERE flow_name = f.name "
            "ORDER BY created_at DESC, id DESC LIMIT 1)"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY f.name LIMIT ?",
            (*params, limit),
        )

    def recent_runs(self, flows: Sequence[str], per_flow: int) -> list[Row]:
        """The latest `per_flow` runs (id, flow_name, state, created_at) of each flow, newest
        first, in one query."""
        if not flows:
            return []
        marks = ",".join("?" * len(flows))
        return self._all(
            "SELECT id, flow_name, state, created_at FROM (SELECT id, flow_name, state, "
            "created_at, row_number() OVER (PARTITION BY flow_name "
            "ORDER BY created_at DESC, id DESC) AS n "
            f"FROM runs WHERE flow_name IN ({marks})) ranked WHERE n <= ? "
            "ORDER BY flow_name, created_at DESC, id DESC",
            (*flows, per_flow),
        )

    def flow_versions(self, name: str) -> list[Row]:
        """A flow's versions (id, created_at), newest first."""
        return self._all(
            "SELECT id, created_at FROM flow_versions WHERE flow_name = ? "
            "ORDER BY created_at DESC, id",
            (name,),
        )

    def delete_flow(self, name: str) -> bool:
        """Forget a flow and where its triggers got to; its versions and runs stay (they are
        history, and runs still going need their version). False if there is no such flow."""
        self._c.execute("DELETE FROM trigger_state WHERE flow_name = ?", (name,))
        return self._c.execute("DELETE FROM flows WHERE name = ?", (name,)).rowcount == 1

    def runs_from(self, run_id: str) -> list[Row]:
        """The runs made from this one (sub-flow runs and repairs): id, parent_task_run_id."""
        return self._all(
            "SELECT id, parent_task_run_id FROM runs WHERE parent_run_id = ? "
            "ORDER BY created_at, id",
            (run_id,),
        )

    def attempt(self, task_run_id: int, number: int) -> Row | None:
        return self._one(
            "SELECT * FROM attempts WHERE task_run_id = ? AND number = ?", (task_run_id, number)
        )

    # -- UI queries -----------------------------------------------------------------------

    def task_states(self, run_ids: Sequence[str], keys: Sequence[str]) -> list[Row]:
        """run_id, task_key, map_index and state of these tasks in these runs (a runs grid)."""
        if not run_ids or not keys:
            return []
        return self._all(
            "SELECT run_id, task_key, map_index, state FROM task_runs "
            f"WHERE run_id IN ({','.join('?' * len(run_ids))}) "
            f"AND task_key IN ({','.join('?' * len(keys))})",
            (*run_ids, *keys),
        )

    def task_attempts(self, task_run_id: int) -> list[Row]:
        """One task run's attempts, first first, each with its worker's name (`worker`)."""
        return self._all(
            f"{_ATTEMPTS_NAMED} WHERE a.task_run_id = ? ORDER BY a.number", (task_run_id,)
        )

    def run_summaries(self, run_ids: Sequence[str]) -> list[Row]:
        """id, flow_name, state, trigger, parent_task_run_id and created_at of these runs."""
        if not run_ids:
            return []
        return self._all(
            "SELECT id, flow_name, state, trigger, parent_task_run_id, created_at FROM runs "
            f"WHERE id IN ({','.join('?' * len(run_ids))}) ORDER BY created_at, id",
            tuple(run_ids),
        )

    def running_tasks(self, limit: int) -> list[Row]:
        """What workers run now: worker_id, run_id, task_key, map_index, started_at of the
        running attempts, oldest first."""
        return self._all(
            "SELECT a.worker_id, a.run_id, t.task_key, t.map_index, a.started_at "
            "FROM attempts a JOIN task_runs t ON t.id = a.task_run_id "
            "WHERE a.state = 'running' ORDER BY a.started_at LIMIT ?",
            (limit,),
        )

    # -- shipped logs --------------------------------------------------------------------

    def append_log_chunks(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """Pieces of attempts' logs: (attempt_id, offset, text) each, `offset` in bytes of the
        log. A piece already there is left as it is: shipping it again changes nothing."""
        self._c.executemany(
            'INSERT INTO log_chunks (attempt_id, "offset", data) VALUES (?, ?, ?) '
            'ON CONFLICT (attempt_id, "offset") DO NOTHING',
            rows,
        )

    def log_text(self, attempt_id: str, offset: int, limit: int) -> tuple[str, int]:
        """Up to `limit` bytes of an attempt's shipped log from byte `offset`, in whole
        characters, and the offset after them: the pieces that cover the range, one range
        of the primary key."""
        rows = self._all(
            'SELECT "offset", data FROM log_chunks WHERE attempt_id = ? AND "offset" < ? '
            'AND "offset" >= coalesce((SELECT max("offset") FROM log_chunks '
            'WHERE attempt_id = ? AND "offset" <= ?), 0) ORDER BY "offset"',
            (attempt_id, offset + limit, attempt_id, offset),
        )
        if not rows or rows[0]["offset"] > offset:
            return "", offset
        start = rows[0]["offset"]
        pieces: list[bytes] = []
        end = start
        for r in rows:
            if r["offset"] != end:
                break  # a hole (never shipped so): what follows it is not this range's
            piece = r["data"].encode("utf-8")
            pieces.append(piece)
            end += len(piece)
        data = b"".join(pieces)
        # `offset` and `offset + limit` may fall inside a character: keep whole ones only.
        first, last = offset - start, min(offset + limit, end) - start
        while 0 <= first < last and data[first] & 0xC0 == 0x80:
            first += 1
        while first < last < len(data) and data[last] & 0xC0 == 0x80:
            last -= 1
        if first >= last:
            return "", offset
        return data[first:last].decode("utf-8"), start + last

    def log_size(self, attempt_id: str) -> int:
        """How many bytes of an attempt's log are shipped (0: none)."""
        row = self._one(
            'SELECT "offset", data FROM log_chunks WHERE attempt_id = ? '
            'ORDER BY "offset" DESC LIMIT 1',
            (attempt_id,),
        )
        return 0 if row is None else int(row["offset"]) + len(row["data"].encode("utf-8"))
