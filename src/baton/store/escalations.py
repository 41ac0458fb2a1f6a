"""Acknowledgements of runs, and the escalations the timers advance (`scheduling.escalation`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.store.base import Row, TxBase

PENDING, DONE, STOPPED = "pending", "done", "stopped"


class Escalations(TxBase):
    """`run_acks` and `escalations`."""

    def acknowledge_run(self, run_id: str, by: str, comment: str | None, now: float) -> bool:
        """Record that `by` acknowledged the run; False if it already was (the first
        acknowledgement stands: concurrent callers all see the same one)."""
        cur = self._c.execute(
            "INSERT INTO run_acks (run_id, acknowledged_at, acknowledged_by, comment) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
            (run_id, now, by, comment),
        )
        return cur.rowcount == 1

    def run_ack(self, run_id: str) -> Row | None:
        return self._one("SELECT * FROM run_acks WHERE run_id = ?", (run_id,))

    def start_escalations(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Escalations to advance: key, flow_name, run_id, task_run_id, event, steps (JSON),
        payload (JSON), next_at (the first step's time), created_at. A key already started
        is left as it is (one per event and entry)."""
        self._c.executemany(
            "INSERT INTO escalations (key, flow_name, run_id, task_run_id, event, steps, "
            "payload, next_step, next_at, state, created_at) VALUES (:key, :flow_name, "
            ":run_id, :task_run_id, :event, :steps, :payload, 0, :next_at, 'pending', "
            ":created_at) ON CONFLICT (key) DO NOTHING",
            rows,
        )

    def due_escalations(self, now: float, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM escalations WHERE state = 'pending' AND next_at <= ? "
            "ORDER BY next_at, id LIMIT ?",
            (now, limit),
        )

    def next_escalation_at(self) -> float | None:
        row = self._one("SELECT min(next_at) AS t FROM escalations WHERE state = 'pending'")
        return None if row is None or row["t"] is None else float(row["t"])

    def advance_escalation(
        self, escalation_id: int, step: int, next_at: float | None, state: str
    ) -> bool:
        """Move an escalation past `step` (compare-and-set: False if another evaluator
        already did): to the next step at `next_at`, or to `state` done or stopped."""
        cur = self._c.execute(
            "UPDATE escalations SET next_step = ?, next_at = ?, state = ? "
            "WHERE id = ? AND next_step = ? AND state = 'pending'",
            (step + 1, next_at if next_at is not None else 0.0, state, escalation_id, step),
        )
        return cur.rowcount == 1

    def escalations(self, run_id: str) -> list[Row]:
        return self._all("SELECT * FROM escalations WHERE run_id = ? ORDER BY id", (run_id,))
