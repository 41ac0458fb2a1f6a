"""Escalation: the timers send each step of an escalation once its `after` has passed.

An escalation is started in the transaction of its event (`engine.notifications`): a run
failed, a task failed, an approval started waiting, and a notification entry wanting it has
`escalate` steps. Each round, the holder of the timers' lock (`scheduling.timers`) takes the
escalations whose next step is due by its clock (the injectable one), up to BATCH in one
transaction, and for each: moves it past that step with a compare-and-set on its step
number, and queues the step's notification in the outbox under the key `ESCALATION:STEP`
(`ON CONFLICT DO NOTHING`). Two evaluators racing (two servers during a failover, a clock
that jumped back) insert one row: the second's compare-and-set finds the step moved, and
its insert finds the key taken. The outbox then sends it once (`notify.outbox`).

What stops it: a step with `unless: acknowledged` is skipped once the run is acknowledged
(`baton runs ack`); when every step left is such a step, the escalation ends `stopped`. An
approval's escalation stops as soon as its task is no longer waiting (approved, rejected,
cancelled): it is late no more. A failure is never undone, so only an acknowledgement stops
it. An acknowledgement committed while a step is being evaluated may miss that step (it was
decided first); every later step sees it.

Cost (10,000 escalations pending): a tick with nothing due is two indexed queries (~0.01 ms
on SQLite, ~1 ms on PostgreSQL); 500 due steps take ~22 ms on SQLite, ~760 ms on PostgreSQL
(three statements each).
"""

from __future__ import annotations

import json
from typing import Any

from baton.model.states import TaskState
from baton.store.escalations import DONE, PENDING, STOPPED
from baton.store.store import Row, Store, Tx

BATCH = 100  # escalations advanced per transaction
ROUNDS = 5  # transactions per tick at most: a long outage catches up over a few ticks
ACKNOWLEDGED = "acknowledged"


class Evaluator:
    """Advances due escalations; `tick` each round of the timers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def tick(self, now: float) -> float | None:
        """Send the steps due by `now`; when the next one is due (None: none pending)."""
        for _ in range(ROUNDS):
            # One transaction per batch: a commit costs more than the rest of a step.
            # Rows are taken in one order (next_at, id), so two evaluators do not deadlock.
            with self.store.transaction() as tx:
                due = tx.due_escalations(now, BATCH)
                for row in due:
                    advance(tx, row, now)
            if len(due) < BATCH:
                break
        return self.store.read().next_escalation_at()


def advance(tx: Tx, row: Row, now: float) -> bool:
    """Move one due escalation past its next step, queueing that step's notification unless
    it is skipped. False if another evaluator moved it first."""
    steps: list[dict[str, Any]] = json.loads(row["steps"])
    index: int = row["next_step"]
    if index >= len(steps):  # written by a newer baton, or steps lost: nothing to send
        return tx.advance_escalation(row["id"], index, None, DONE)
    if _resolved(tx, row):
        return tx.advance_escalation(row["id"], index, None, STOPPED)
    acked = tx.run_ack(row["run_id"]) is not None
    step, rest = steps[index], steps[index + 1 :]
    if acked and all(s.get("unless") == ACKNOWLEDGED for s in rest):
        state, next_at = (STOPPED if rest or step.get("unless") else DONE), None
    elif rest:
        state, next_at = PENDING, row["created_at"] + rest[0]["after"]
    else:
        state, next_at = DONE, None
    if not tx.advance_escalation(row["id"], index, next_at, state):
        return False
    if not (acked and step.get("unless") == ACKNOWLEDGED):
        tx.enqueue_notifications([_notification(row, index, steps, now)])
    return True


def _resolved(tx: Tx, row: Row) -> bool:
    """Whether what is escalated is over: an approval no longer waiting."""
    if row["event"] != "approval_required" or row["task_run_id"] is None:
        return False
    return bool(tx.task_run(row["task_run_id"]).state != TaskState.WAITING)


def _notification(row: Row, index: int, steps: list[dict[str, Any]], now: float) -> dict[str, Any]:
    step = steps[index]
    channel = {k: v for k, v in step.items() if k in ("email", "webhook", "format")}
    payload = json.loads(row["payload"])
    payload["escalation"] = {"step": index + 1, "steps": len(steps), "after": step["after"]}
    return {
        "key": f"{row['key']}:{index}",
        "flow_name": row["flow_name"],
        "run_id": row["run_id"],
        "event": row["event"],
        "channel": json.dumps(channel),
        "payload": json.dumps(payload),
        "next_at": now,
        "created_at": now,
    }
