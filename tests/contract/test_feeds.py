"""Feeds over the state events: their cursors (compare-and-set), and the attempts' starts
and ends read after one, in order, stopping before what has not settled."""

from __future__ import annotations

import itertools

from baton.model.states import AttemptState
from baton.store.store import AttemptMove, Store
from store_rows import run_row, task_row

A = AttemptState


def ran(store: Store) -> list[str]:
    """Run r1 with t1 succeeded and t2 failed (claimed at 2.0, ended at 3.0): its attempts."""
    with store.transaction() as tx:
        tx.insert_run(run_row("r1", state="running", unfinished=2, created_at=1.0))
        tx.insert_task_runs([task_row("r1", k, ready_at=1.0) for k in ("t1", "t2")], 1.0)
    new_id = (f"a{i}" for i in itertools.count(1))
    with store.transaction() as tx:
        claimed = tx.claim(
            worker_id="w1",
            queues=["default"],
            limit=10,
            run_ids=None,
            now=2.0,
            lease_until=32.0,
            new_id=new_id,
        )
    ids = {c.task_key: c.attempt_id for c in claimed}
    with store.transaction() as tx:
        tx.move_attempts(
            [
                AttemptMove(ids["t1"], A.RUNNING, A.SUCCEEDED, {"ended_at": 3.0}),
                AttemptMove(ids["t2"], A.RUNNING, A.FAILED, {"ended_at": 3.0, "error": "boom"}),
            ],
            3.0,
        )
    return [ids["t1"], ids["t2"]]


def test_a_feed_cursor_starts_once_and_moves_by_compare_and_set(store: Store) -> None:
    assert store.read().feed_cursor("f") is None
    with store.transaction() as tx:
        tx.start_feed("f", 5, 1.0)
        tx.start_feed("f", 9, 2.0)  # another reader came second: left as it is
    assert store.read().feed_cursor("f") == 5
    with store.transaction() as tx:
        assert tx.move_feed("f", 5, 7, 3.0)
        assert not tx.move_feed("f", 5, 8, 3.0)  # a reader that read 5 lost the race
    assert store.read().feed_cursor("f") == 7


def test_attempt_changes_are_the_starts_and_ends_in_order(store: Store) -> None:
    a1, a2 = ran(store)
    last = store.read().last_event_id()
    upto, rows = store.read().attempt_changes(0)
    assert upto == last
    got = [(r["attempt_id"], r["from_state"], r["to_state"]) for r in rows]
    assert sorted(got[:2]) == [(a1, None, "attempt:running"), (a2, None, "attempt:running")]
    assert sorted(got[2:]) == [
        (a1, "attempt:running", "attempt:succeeded"),
        (a2, "attempt:running", "attempt:failed"),
    ]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    end = next(r for r in rows if r["to_state"] == "attempt:failed")
    assert (end["run_id"], end["task_key"], end["error"], end["at"]) == ("r1", "t2", "boom", 3.0)
    assert (end["started_at"], end["run_created_at"], end["flow_name"]) == (2.0, 1.0, "f")
    assert store.read().attempt_changes(upto) == (upto, [])


def test_a_read_stops_before_what_has_not_settled(store: Store) -> None:
    ran(store)
    upto, rows = store.read().attempt_changes(0, settled=2.5)
    assert {r["to_state"] for r in rows} == {"attempt:running"}  # the ends are at 3.0
    upto2, rows2 = store.read().attempt_changes(upto, settled=3.0)
    assert {r["to_state"] for r in rows2} == {"attempt:succeeded", "attempt:failed"}
    assert upto2 == store.read().last_event_id()


def test_a_read_is_bounded_and_can_keep_to_some_runs(store: Store) -> None:
    ran(store)
    upto, rows = store.read().attempt_changes(0, span=1)
    first = store.read().events("r1")[0]["id"]
    assert (upto, rows) == (first, [])  # the run's own first event: no attempt's
    assert store.read().attempt_changes(0, run_ids=["other"]) == (0, [])
    assert store.read().attempt_changes(0, run_ids=[]) == (0, [])
    _, rows = store.read().attempt_changes(0, run_ids=["r1"])
    assert len(rows) == 4
