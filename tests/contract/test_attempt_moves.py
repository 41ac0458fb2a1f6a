"""Attempts move under their transition table, and each move appends a state event."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from baton.errors import TransitionError
from baton.model.states import AttemptState, TaskState
from baton.store.store import AttemptMove, Claimed, Store, TaskMove
from store_rows import run_row, task_row

A = AttemptState


def ids() -> Iterator[str]:
    return (f"a{i}" for i in itertools.count(1))


@pytest.fixture
def run(store: Store) -> Store:
    """A running run r1 with two queued task runs, t1 and t2."""
    with store.transaction() as tx:
        tx.insert_run(run_row("r1", state="running", unfinished=2, created_at=1.0))
        tx.insert_task_runs(
            [task_row("r1", key, ready_at=1.0) for key in ("t1", "t2")],
            1.0,
        )
    return store


def claim(store: Store, new_id: Iterator[str], now: float = 2.0) -> list[Claimed]:
    with store.transaction() as tx:
        return tx.claim(
            worker_id="w1",
            queues=["default"],
            limit=10,
            run_ids=None,
            now=now,
            lease_until=now + 30.0,
            new_id=new_id,
        )


def moves(store: Store) -> list[tuple[str, str | None, str]]:
    """The attempt events of r1: (attempt id, from, to), the states without their prefix."""
    return [
        (
            e["note"],
            e["from_state"] and e["from_state"].removeprefix("attempt:"),
            e["to_state"].removeprefix("attempt:"),
        )
        for e in store.read().attempt_events("r1")
    ]


def defer(store: Store, c: Claimed, now: float) -> None:
    """What a deferred task does: its attempt waits, its task run waits and is queued
    again to go on with that attempt."""
    with store.transaction() as tx:
        assert tx.end_attempts([(c.attempt_id, "waiting", None, None, None, None)], now) == {
            c.attempt_id
        }
        tx.move_tasks([TaskMove(c.task_run_id, "r1", TaskState.RUNNING, TaskState.WAITING)], now)
        tx.move_tasks(
            [
                TaskMove(
                    c.task_run_id,
                    "r1",
                    TaskState.WAITING,
                    TaskState.QUEUED,
                    {"resume_attempt": c.attempt_id, "defer_state": "{}"},
                )
            ],
            now,
        )


def test_a_claim_starts_an_attempt_with_an_event(run: Store) -> None:
    claimed = claim(run, ids())
    assert sorted(moves(run)) == [("a1", None, "running"), ("a2", None, "running")]
    events = run.read().attempt_events("r1")
    assert {(e["task_run_id"], e["note"]) for e in events} == {
        (c.task_run_id, c.attempt_id) for c in claimed
    }
    assert {e["at"] for e in events} == {2.0}


def test_an_ending_writes_an_event_and_a_late_report_is_refused_without_one(run: Store) -> None:
    a1, a2 = claim(run, ids())
    with run.transaction() as tx:
        ended = tx.end_attempts(
            [
                (a1.attempt_id, "succeeded", 3.0, None, None, None),
                (a2.attempt_id, "failed", 3.0, "boom", "user", "tb"),
            ],
            3.0,
        )
    assert ended == {a1.attempt_id, a2.attempt_id}
    with run.transaction() as tx:  # late: a1 ended already
        assert tx.end_attempts([(a1.attempt_id, "failed", 4.0, "lost", "lost", None)], 4.0) == set()
    assert moves(run)[2:] == [
        (a1.attempt_id, "running", "succeeded"),
        (a2.attempt_id, "running", "failed"),
    ]
    rows = {a.id: a for a in run.read().attempts("r1")}
    assert (rows[a1.attempt_id].state, rows[a1.attempt_id].ended_at) == ("succeeded", 3.0)
    assert [
        getattr(rows[a2.attempt_id], k) for k in ("state", "error", "error_kind", "traceback")
    ] == [
        "failed",
        "boom",
        "user",
        "tb",
    ]


def test_handing_back_cancels_the_attempt_with_an_event(run: Store) -> None:
    a1, _ = claim(run, ids())
    with run.transaction() as tx:
        assert tx.end_attempts([(a1.attempt_id, "cancelled", 3.0, "stop", None, None)]) == {
            a1.attempt_id
        }
    assert moves(run)[-1] == (a1.attempt_id, "running", "cancelled")


def test_a_resumed_attempt_moves_from_waiting_to_running_with_an_event(
    run: Store, backend: str
) -> None:
    a1, _ = claim(run, ids())
    defer(run, a1, 3.0)
    (again,) = claim(run, ids(), now=4.0)
    assert (again.attempt_id, again.resume_state) == (a1.attempt_id, "{}")
    assert moves(run)[2:] == [
        (a1.attempt_id, "running", "waiting"),
        (a1.attempt_id, "waiting", "running"),
    ]
    (row,) = [a for a in run.read().attempts("r1") if a.id == a1.attempt_id]
    assert (row.state, row.worker_id) == ("running", "w1")
    # The lease runs from the store's clock: the claim's `now` on SQLite, PostgreSQL's own.
    if backend == "sqlite":
        assert row.lease_expires_at == 34.0
    else:
        assert 0 < row.lease_expires_at - run.clock() <= 30.0


def test_closing_a_waiting_attempt_writes_an_event_and_skips_one_not_waiting(run: Store) -> None:
    a1, a2 = claim(run, ids())
    with run.transaction() as tx:
        tx.end_attempts([(a1.attempt_id, "waiting", None, None, None, None)], 3.0)
    with run.transaction() as tx:
        tx.close_attempts([a1.attempt_id, a2.attempt_id], "cancelled", 5.0)  # a2 is running
    assert moves(run)[2:] == [
        (a1.attempt_id, "running", "waiting"),
        (a1.attempt_id, "waiting", "cancelled"),
    ]
    rows = {a.id: a for a in run.read().attempts("r1")}
    assert [getattr(rows[a1.attempt_id], k) for k in ("state", "ended_at", "error_kind")] == [
        "cancelled",
        5.0,
        "cancelled",
    ]
    assert rows[a2.attempt_id].state == "running"


def test_a_forbidden_attempt_move_raises_and_changes_nothing(run: Store) -> None:
    a1, _ = claim(run, ids())
    with pytest.raises(TransitionError, match="waiting -> succeeded"), run.transaction() as tx:
        tx.move_attempts([AttemptMove(a1.attempt_id, A.WAITING, A.SUCCEEDED)], 3.0)
    assert len(moves(run)) == 2
    assert {a.state for a in run.read().attempts("r1")} == {"running"}


def test_an_attempt_named_twice_moves_once(run: Store) -> None:
    a1, _ = claim(run, ids())
    move = AttemptMove(a1.attempt_id, A.RUNNING, A.SKIPPED, {"ended_at": 3.0})
    with run.transaction() as tx:
        assert tx.move_attempts([move, move], 3.0) == {a1.attempt_id}
    assert moves(run)[2:] == [(a1.attempt_id, "running", "skipped")]


def test_the_run_history_leaves_attempt_events_out(run: Store) -> None:
    before = run.read().events("r1")
    (a1, _) = claim(run, ids())
    with run.transaction() as tx:
        tx.end_attempts([(a1.attempt_id, "succeeded", 3.0, None, None, None)], 3.0)
    after = run.read().events("r1")
    assert [e["to_state"] for e in after[len(before) :]] == ["running", "running"]  # t1, t2
    assert not any(e["to_state"].startswith("attempt:") for e in after)


def test_attempt_states_by_id_of_those_the_store_knows(run: Store) -> None:
    a1, a2 = claim(run, ids())
    with run.transaction() as tx:
        tx.end_attempts([(a1.attempt_id, "succeeded", 3.0, None, None, None)])
    read = run.read()
    assert read.attempt_states([a1.attempt_id, a2.attempt_id, "unknown"]) == {
        a1.attempt_id: "succeeded",
        a2.attempt_id: "running",
    }
    assert read.attempt_states([]) == {}
