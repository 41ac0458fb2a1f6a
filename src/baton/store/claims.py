"""Claims, attempts and their leases, workers, role locks and pools: who runs what."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from baton.model.states import TaskState
from baton.store.base import Row
from baton.store.runs import RunWrites, TaskMove

# Attempts with the name of the worker that ran each (workers' rows are kept, stopped ones
# too, so the name outlives the worker).
ATTEMPTS_NAMED = (
    "SELECT a.*, w.name AS worker FROM attempts a LEFT JOIN workers w ON w.id = a.worker_id"
)


class Claimed(NamedTuple):
    """A TaskRun a worker has just claimed, with its new attempt."""

    task_run_id: int
    run_id: str
    task_key: str
    map_index: int
    attempt_id: str
    attempt: int
    resume_state: str | None = None  # JSON a waiting task left for its next run


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
            f"{ATTEMPTS_NAMED} WHERE a.run_id = ? ORDER BY a.task_run_id, a.number", (run_id,)
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
