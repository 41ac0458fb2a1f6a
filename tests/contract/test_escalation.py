"""Escalation on every backend, on a fake clock: each step is queued once at its time, an
acknowledgement stops the steps `unless: acknowledged`, an approval that stops waiting stops
its escalation, and two evaluators racing queue each step once."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from baton.engine import acknowledgement, notifications
from baton.engine.service import Engine
from baton.model.notifications import task_entries, validate
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState
from baton.model.times import iso
from baton.scheduling.escalation import Evaluator
from baton.store.store import Row, Store
from engine_kit import Clock, outcome_of

T0 = 1_000_000.0
STEPS = [
    {"after": "15m", "unless": "acknowledged", "email": ["lead@example.com"]},
    {"after": "1h", "unless": "acknowledged", "slack": "https://hooks.example/slack"},
]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def failing_run(
    engine: Engine, clock: Clock, entries: list[dict[str, Any]], n: int = 1
) -> list[str]:
    """`n` runs of a one-task flow whose task fails at T0."""
    spec = FlowSpec(
        name="etl", tasks=(TaskSpec(key="a", type="python"),), notifications=validate(entries)
    )
    version = engine.register(spec)
    clock.now = T0 - 10
    runs = [engine.create_run(version, {}) for _ in range(n)]
    clock.now = T0
    claimed = engine.claim(worker_id="w", queues=["default"], limit=n, lease=30)
    engine.complete([outcome_of(c, AttemptState.FAILED, at=T0) for c in claimed])
    return runs


def steps_sent(store: Store, run_id: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(key, channel, escalation) of the run's queued escalation steps."""
    rows: list[Row] = store.read().notifications(run_id)
    out = []
    for r in rows:
        payload = json.loads(r["payload"])
        if "escalation" in payload:
            out.append((r["key"], json.loads(r["channel"]), payload["escalation"]))
    return out


def test_each_step_is_queued_once_at_its_time(store: Store, clock: Clock) -> None:
    engine = Engine(store, clock=clock)
    entry = {"on": ["failure"], "webhook": "https://hooks.example/first", "escalate": STEPS}
    (run_id,) = failing_run(engine, clock, [entry])
    evaluator = Evaluator(store)
    # The failure itself is told at once; the first step is due 15 minutes later.
    assert [r["event"] for r in store.read().notifications(run_id)] == ["failure"]
    assert evaluator.tick(T0 + 899) == T0 + 900
    assert steps_sent(store, run_id) == []
    for _ in range(3):  # however often the timers look
        assert evaluator.tick(T0 + 900) == T0 + 3600
    key = f"escalate:{run_id}:-:failure:0"
    assert steps_sent(store, run_id) == [
        (f"{key}:0", {"email": ["lead@example.com"]}, {"step": 1, "steps": 2, "after": 900.0})
    ]
    assert evaluator.tick(T0 + 3600) is None
    assert evaluator.tick(T0 + 7200) is None
    sent = steps_sent(store, run_id)
    assert [s[0] for s in sent] == [f"{key}:0", f"{key}:1"]
    assert sent[1][1] == {"webhook": "https://hooks.example/slack", "format": "slack"}
    (row,) = store.read().escalations(run_id)
    assert (row["state"], row["next_step"]) == ("done", 2)
    # The step says what the event said: the failed task and its error.
    (r,) = [r for r in store.read().notifications(run_id) if r["key"] == f"{key}:0"]
    payload = json.loads(r["payload"])
    assert (payload["event"], payload["flow"], payload["state"]) == ("failure", "etl", "failed")
    assert payload["failed_tasks"][0]["key"] == "a"


def test_an_ack_stops_the_rest_but_a_step_without_unless(store: Store, clock: Clock) -> None:
    engine = Engine(store, clock=clock)
    steps = [*STEPS, {"after": "2h", "email": "postmortem@example.com"}]
    (run_id,) = failing_run(
        engine, clock, [{"on": "failure", "email": "a@example.com", "escalate": steps}]
    )
    evaluator = Evaluator(store)
    evaluator.tick(T0 + 900)
    ack = acknowledgement.acknowledge(store, run_id[:6], "ann", "on it", T0 + 1000)
    assert ack == {
        "run_id": run_id,
        "acknowledged_at": iso(T0 + 1000),
        "acknowledged_by": "ann",
        "comment": "on it",
        "already_acknowledged": False,
    }
    again = acknowledgement.acknowledge(store, run_id, "bob", "me too", T0 + 1100)
    assert again == ack | {"already_acknowledged": True}  # the first one stands
    assert evaluator.tick(T0 + 3600) == T0 + 7200  # the 1h step is skipped
    assert evaluator.tick(T0 + 7200) is None
    sent = [s[2]["step"] for s in steps_sent(store, run_id)]
    assert sent == [1, 3]
    (row,) = store.read().escalations(run_id)
    assert row["state"] == "done"


def test_an_ack_before_any_step_stops_the_escalation(store: Store, clock: Clock) -> None:
    engine = Engine(store, clock=clock)
    (run_id,) = failing_run(engine, clock, [{"email": "a@example.com", "escalate": STEPS}])
    acknowledgement.acknowledge(store, run_id, "ann", None, T0 + 1)
    evaluator = Evaluator(store)
    assert evaluator.tick(T0 + 900) is None
    assert steps_sent(store, run_id) == []
    assert store.read().escalations(run_id)[0]["state"] == "stopped"


def test_a_tasks_own_failure_and_approval_escalate(store: Store, clock: Clock) -> None:
    engine = Engine(store, clock=clock)
    own = task_entries(
        [
            {
                "on": ["failure", "approval_required"],
                "email": "owner@example.com",
                "escalate": STEPS[:1],
            }
        ],
        "a",
    )
    spec = FlowSpec(
        name="etl",
        tasks=(
            TaskSpec(key="a", type="python", notifications=own),
            TaskSpec(key="b", type="python"),
        ),
        notifications=validate(
            [{"on": "approval_required", "webhook": "https://h/approve", "escalate": STEPS}]
        ),
    )
    clock.now = T0
    run_id = engine.create_run(engine.register(spec), {})
    a, b = sorted(
        engine.claim(worker_id="w", queues=["default"], limit=2, lease=30), key=lambda c: c.task_key
    )
    # b starts waiting for an approval: the approvals' task type tells it so.
    engine.complete([outcome_of(b, AttemptState.WAITING, at=T0)])
    with store.transaction() as tx:
        waiting = next(t for t in tx.task_runs(run_id) if t.task_key == "b")
        assert waiting.state == "waiting"
        notifications.approval_required(tx, spec, tx.run(run_id), waiting, T0, {"approvers": ["x"]})
    engine.complete([outcome_of(a, AttemptState.FAILED, at=T0)])
    rows = store.read().notifications(run_id)
    assert sorted((r["event"], r["key"].split(":", 1)[1]) for r in rows) == [
        ("approval_required", f"approval_required:{waiting.id}:0"),
        ("failure", f"failure:{a.task_run_id}:t0"),
    ]
    approval = json.loads(next(r["payload"] for r in rows if r["event"] == "approval_required"))
    assert (approval["task"]["key"], approval["approvers"]) == ("b", ["x"])
    Evaluator(store).tick(T0 + 900)
    sent = sorted(s[0] for s in steps_sent(store, run_id))
    assert sent == [
        f"escalate:{run_id}:{a.task_run_id}:failure:t0:0",
        f"escalate:{run_id}:{waiting.id}:approval_required:0:0",
    ]
    # The approval is decided (here: its run cancelled): it is late no more.
    engine.cancel(run_id)
    assert Evaluator(store).tick(T0 + 3600) is None
    states = {r["event"]: r["state"] for r in store.read().escalations(run_id)}
    assert states == {"failure": "done", "approval_required": "stopped"}
    assert len(steps_sent(store, run_id)) == 2


def test_two_evaluators_racing_queue_each_step_once(store: Store, clock: Clock, url: str) -> None:
    engine = Engine(store, clock=clock)
    runs = failing_run(engine, clock, [{"email": "a@example.com", "escalate": STEPS}], n=20)
    others = [Store(url) for _ in range(2)]
    errors: list[BaseException] = []
    try:
        for now in (T0 + 900, T0 + 3600):
            start = threading.Barrier(2)

            def tick(s: Store, now: float = now, start: threading.Barrier = start) -> None:
                try:
                    start.wait()
                    Evaluator(s).tick(now)
                except BaseException as exc:  # reported below, in the test's thread
                    errors.append(exc)

            threads = [threading.Thread(target=tick, args=(s,)) for s in others]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
    finally:
        for s in others:
            s.close()
    for run_id in runs:
        assert [s[2]["step"] for s in steps_sent(store, run_id)] == [1, 2]
