"""Claims, attempts and their leases, workers, role locks and pools: who runs what.

Every state change of an attempt goes through `move_attempts` (or, for a new attempt,
`claim`'s insert): it checks the transition table (`model.states`), compare-and-sets on the
expected source state and appends to `state_events` in the same transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from baton.errors import TransitionError
from baton.model.resources import CPU_SLACK, KINDS, NONE, Resources
from baton.model.states import AttemptState, TaskState, attempt_sources
from baton.store.base import Row
from baton.store.records import AttemptRow, LiveAttemptRow, WorkerRow, WorkerTask, many
from baton.store.runs import RunWrites, TaskMove

# Attempts with the name of the worker that ran each (workers' rows are kept, stopped ones
# too, so the name outlives the worker).
ATTEMPTS_NAMED = (
    "SELECT a.*, w.name AS worker FROM attempts a LEFT JOIN workers w ON w.id = a.worker_id"
)

# An attempt's state event has this before its from_state and to_state, and the attempt's id
# as its note: `state_events` has no column saying whose state it is, and a run's or task
# run's state never starts so, so readers of those (`Reads.events`, `Reads.task_ends`) tell
# them apart by it. The attempt's task run is its task_run_id.
ATTEMPT_EVENT = "attempt:"


def attempt_event_state(state: str | None) -> str | None:
    """How an attempt's state is written in `state_events`."""
    return None if state is None else ATTEMPT_EVENT + state


class AttemptMove(NamedTuple):
    """One Attempt state change: from the state it must be in, to its new state."""

    id: str
    frm: AttemptState
    to: AttemptState
    fields: Mapping[str, Any] = {}


class Claimed(NamedTuple):
    """A TaskRun a worker has just claimed, with its new attempt."""

    task_run_id: int
    run_id: str
    task_key: str
    map_index: int
    attempt_id: str
    attempt: int
    resume_state: str | None = None  # JSON a waiting task left for its next run
    needs: Resources = NONE  # what its task needs of the worker's capacity


class Claims(RunWrites):
    """Claiming task runs (a claim moves them, so this builds on `RunWrites`), attempts and
    leases, workers, role locks and pools."""

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
        free: Resources | None = None,
    ) -> list[Claimed]:
        """Move up to `limit` queued task runs to running, each with a new attempt (or, for
        a task that was waiting, its waiting attempt continued), together needing no more
        than `free` (the claiming worker's capacity less what it runs; None: no limit)."""
        sql = (
            "SELECT id, run_id, task_key, map_index, pool, attempts, started_at, "
            "resume_attempt, defer_state, need_cpu, need_memory, need_gpu FROM task_runs "
            "WHERE state = 'queued'"
        )
        params: list[Any] = list(queues)
        if queues:  # none: any queue (an embedded run serves all of its tasks)
            sql += f" AND queue IN ({','.join('?' * len(queues))})"
        if run_ids is not None:
            sql += f" AND run_id IN ({','.join('?' * len(run_ids))})"
            params += run_ids
        if free is not None:  # each alone must fit; `_within_capacity` sums them
            sql += " AND need_cpu <= ? AND need_memory <= ? AND need_gpu <= ?"
            params += [free.cpu + CPU_SLACK, free.memory, free.gpu]
        full = self._full_pools()
        if full:  # a read without locks, to skip what cannot run; _within_pools decides
            sql += f" AND (pool IS NULL OR pool NOT IN ({','.join('?' * len(full))}))"
            params += full
        sql += " ORDER BY priority DESC, ready_at, id LIMIT ?" + self._claim_lock
        rows = self._within_pools(self._all(sql, (*params, limit)))
        if free is not None:
            rows = _within_capacity(rows, free)
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
                Resources(r["need_cpu"], r["need_memory"], r["need_gpu"]),
            )
            for r in rows
        ]
        new = [c for c in claimed if c.resume_state is None]
        running = attempt_event_state(AttemptState.RUNNING)
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
            # The new attempts' first events, written with the task runs' (inserted below).
            events=[(c.run_id, c.task_run_id, None, running, now, c.attempt_id) for c in new],
        )
        # The lease runs from the store's clock (`now`): the caller's says only how long.
        lease = {"worker": worker_id, "now": now, "lease": lease_until - now}
        # A waiting attempt goes on; one that is no longer waiting is left as it is.
        self.move_attempts(
            [
                AttemptMove(
                    c.attempt_id,
                    AttemptState.WAITING,
                    AttemptState.RUNNING,
                    {"worker_id": worker_id, "lease_expires_at": lease_until - now},
                )
                for c in claimed
                if c.resume_state is not None
            ],
            now,
            clocked=("lease_expires_at",),
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
                for c in new
            ],
        )
        self.queued.difference_update(c.task_run_id for c in claimed)
        return claimed

    def move_attempts(
        self,
        moves: Sequence[AttemptMove],
        now: float,
        *,
        clocked: Sequence[str] = (),
    ) -> set[str]:
        """Apply attempt state changes; returns the ids of the attempts moved.

        A transition the table forbids raises TransitionError. An attempt not in its move's
        `frm` state is left as it is and not returned: a late report (the attempt was failed
        as lost, or timed out, first) is refused, not an error. The `clocked` fields are
        durations from the store's clock (`dialect.clock`), like leases.
        """
        for m in moves:
            if m.frm not in attempt_sources(m.to):
                raise TransitionError(f"attempt {m.id}: {m.frm} -> {m.to} is not allowed")
        if not moves:
            return set()
        # Held to the end of the transaction: what is in `frm` now is what the update moves.
        rows = self._all(
            "SELECT id, run_id, task_run_id, state FROM attempts WHERE id IN "
            f"({','.join('?' * len(moves))})" + self._d.row_lock,
            [m.id for m in moves],
        )
        current = {r["id"]: r for r in rows}
        moving: dict[str, AttemptMove] = {}
        for m in moves:  # an attempt named twice moves once, by its first move
            row = current.get(m.id)
            if row is not None and row["state"] == m.frm.value and m.id not in moving:
                moving[m.id] = m
        groups: dict[tuple[Any, ...], list[AttemptMove]] = {}
        for m in moving.values():
            groups.setdefault((m.frm, m.to, tuple(sorted(m.fields))), []).append(m)
        for (frm, to, names), group in groups.items():
            sets = "".join(
                f", {n} = {self._clock} + :{n}" if n in clocked else f", {n} = :{n}" for n in names
            )
            self._c.executemany(
                f"UPDATE attempts SET state = :to{sets} WHERE id = :id AND state = :frm",
                [
                    {**m.fields, "to": to.value, "frm": frm.value, "id": m.id, "now": now}
                    for m in group
                ],
            )
        self._events(
            [
                (
                    current[m.id]["run_id"],
                    current[m.id]["task_run_id"],
                    attempt_event_state(m.frm),
                    attempt_event_state(m.to),
                    now,
                    m.id,
                )
                for m in moving.values()
            ]
        )
        return set(moving)

    def end_attempts(self, ends: Sequence[tuple[Any, ...]], now: float | None = None) -> set[str]:
        """Close running attempts: (id, state, ended_at, error, error_kind, traceback) each.

        Returns the ids that were still running; a report for any other attempt is late
        (it was already failed as lost, or timed out) and is refused. `now` stamps the
        state events (this process's clock if not given).
        """
        return self.move_attempts(
            [
                AttemptMove(
                    e[0],
                    AttemptState.RUNNING,
                    AttemptState(e[1]),
                    dict(zip(("ended_at", "error", "error_kind", "traceback"), e[2:], strict=True)),
                )
                for e in ends
            ],
            time.time() if now is None else now,
        )

    def discard_attempts(self, attempt_ids: Sequence[str]) -> set[str]:
        """Remove running attempts that never ran their task (a cache hit served it), with
        their state events and any log shipped: a task run served from the cache has no
        attempt. Returns the ids removed; one no longer running (failed as lost, timed out)
        is left as it is, and its late report refused, as `end_attempts` does."""
        if not attempt_ids:
            return set()
        marks = ",".join("?" * len(attempt_ids))
        rows = self._all(
            f"SELECT id, run_id FROM attempts WHERE id IN ({marks}) AND state = 'running'"
            + self._d.row_lock,
            list(attempt_ids),
        )
        ids = [r["id"] for r in rows]
        if not ids:
            return set()
        runs = sorted({r["run_id"] for r in rows})
        marks = ",".join("?" * len(ids))
        self._c.execute(f"DELETE FROM attempts WHERE id IN ({marks})", ids)
        self._c.execute(f"DELETE FROM log_chunks WHERE attempt_id IN ({marks})", ids)
        self._c.execute(  # by run first: the run_id index, not a scan of all history
            f"DELETE FROM state_events WHERE run_id IN ({','.join('?' * len(runs))}) "
            f"AND note IN ({marks}) AND to_state LIKE ?",
            [*runs, *ids, ATTEMPT_EVENT + "%"],
        )
        return set(ids)

    def attempts(self, run_id: str) -> list[AttemptRow]:
        """A run's attempts, each with its worker's name (`worker`), by task run and number."""
        rows = self._all(
            f"{ATTEMPTS_NAMED} WHERE a.run_id = ? ORDER BY a.task_run_id, a.number", (run_id,)
        )
        return many(AttemptRow, rows)

    def lost_candidates(self, run_ids: Sequence[str] | None, host: str) -> list[LiveAttemptRow]:
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
        return many(LiveAttemptRow, self._all(sql, params))

    def running_attempts(self, run_ids: Sequence[str] | None = None) -> list[LiveAttemptRow]:
        sql = (
            "SELECT a.*, w.host, w.pid, w.heartbeat_at, w.stopped_at FROM attempts a "
            "LEFT JOIN workers w ON w.id = a.worker_id WHERE a.state = 'running'"
        )
        if run_ids is None:
            return many(LiveAttemptRow, self._all(sql))
        sql += f" AND a.run_id IN ({','.join('?' * len(run_ids))})"
        return many(LiveAttemptRow, self._all(sql, run_ids))

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
        """End waiting attempts (their task run was cancelled while waiting); one no longer
        waiting is left as it is."""
        self.move_attempts(
            [
                AttemptMove(
                    a,
                    AttemptState.WAITING,
                    AttemptState(state),
                    {"ended_at": now, "error_kind": state},
                )
                for a in attempt_ids
            ],
            now,
        )

    def attempt_events(self, run_id: str) -> list[Row]:
        """A run's attempts' state events, oldest first: `note` is the attempt's id, and
        `from_state`/`to_state` its states as `attempt_event_state` writes them."""
        return self._all(
            "SELECT * FROM state_events WHERE run_id = ? AND to_state LIKE ? ORDER BY id",
            (run_id, ATTEMPT_EVENT + "%"),
        )

    # -- workers -------------------------------------------------------------------------

    def register_worker(self, worker: Mapping[str, Any]) -> None:
        """Record a worker starting; its `resources` (a Resources) is its capacity."""
        self._c.execute(
            "INSERT INTO workers (id, name, host, pid, queues, concurrency, started_at, "
            "heartbeat_at, cpu, memory, gpu) VALUES (:id, :name, :host, :pid, :queues, "
            ":concurrency, :started_at, :started_at, :cpu, :memory, :gpu)",
            {
                **worker,
                "queues": json.dumps(list(worker["queues"])),
                # No capacity said: unknown (null), which is not zero.
                **{k: getattr(worker.get("resources"), k, None) for k in KINDS},
            },
        )

    def live_offers(self, lease: float) -> list[Row]:
        """The queues (JSON) and capacity (`cpu`, `memory`, `gpu`; null: unknown) of each
        worker not stopped that heartbeated within `lease` seconds by the store's clock."""
        return self._all(
            "SELECT name, queues, cpu, memory, gpu FROM workers WHERE stopped_at IS NULL "
            f"AND heartbeat_at >= {self._clock} - :lease ORDER BY name",
            {"now": time.time(), "lease": lease},
        )

    def stop_worker(self, worker_id: str, now: float) -> None:
        self._c.execute("UPDATE workers SET stopped_at = ? WHERE id = ?", (now, worker_id))

    def workers(self, *, include_stopped: bool = False) -> list[WorkerRow]:
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
        tasks: dict[str, list[WorkerTask]] = {}
        if any(r["running"] for r in rows):
            for a in self._all(
                "SELECT a.worker_id, a.run_id, t.task_key, t.map_index, a.number, a.started_at, "
                "t.need_cpu, t.need_memory, t.need_gpu FROM attempts a "
                "JOIN task_runs t ON t.id = a.task_run_id WHERE a.state = 'running' "
                "ORDER BY a.started_at, a.id"
            ):
                tasks.setdefault(a["worker_id"], []).append(WorkerTask(**a))
        return [WorkerRow(**r, tasks=tuple(tasks.get(r["id"], ()))) for r in rows]

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


def _within_capacity(rows: list[Row], free: Resources) -> list[Row]:
    """The candidate rows (in claim order) that fit in `free` together: a row that does not
    fit what the ones before it left is skipped, and a smaller one after it may still fit."""
    kept = []
    for r in rows:
        need = Resources(r["need_cpu"], r["need_memory"], r["need_gpu"])
        if need.fits(free):
            free -= need
            kept.append(r)
    return kept
