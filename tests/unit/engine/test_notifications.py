"""The outbox rows the engine writes with each event, on a real SQLite store, fake clock."""

from __future__ import annotations

import json
from typing import Any

from baton.engine.service import Engine
from baton.model.notifications import validate
from baton.model.spec import FlowSpec, RetryPolicy, TaskSpec
from baton.model.states import AttemptState
from baton.store.store import Claimed, Row, Store
from engine_kit import Clock, outcome_of


def py(key: str, *depends_on: str) -> TaskSpec:
    return TaskSpec(key=key, type="python", config={"function": f"m:{key}"}, depends_on=depends_on)


def start(engine: Engine, notifications: list[dict[str, Any]], *tasks: TaskSpec) -> str:
    spec = FlowSpec(name="etl", tasks=tasks, notifications=validate(notifications))
    return engine.create_run(engine.register(spec), {"day": "2024-06-01"})


def finish(engine: Engine, c: Claimed, ok: bool = True, error: str = "ValueError: boom") -> None:
    if ok:
        engine.complete([outcome_of(c, at=engine.clock())])
    else:
        engine.complete([outcome_of(c, AttemptState.FAILED, at=engine.clock(), error=error)])


def claim(engine: Engine) -> list[Claimed]:
    return engine.claim(worker_id="w", queues=["default"], limit=10, lease=30)


def outbox(store: Store, run_id: str) -> list[Row]:
    return store.read().notifications(run_id)


def payload(row: Row) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row["payload"])
    return data


def test_a_flow_without_notifications_writes_none(engine: Engine, store: Store) -> None:
    run_id = start(engine, [], py("a"))
    (c,) = claim(engine)
    finish(engine, c, ok=False)
    assert outbox(store, run_id) == []


def test_a_failed_run_queues_its_failure_with_the_failed_tasks(
    engine: Engine, store: Store, clock: Clock
) -> None:
    entries = [
        {"email": "oncall@example.com"},
        {"on": ["success"], "webhook": "http://h/ok"},
        {"on": ["failure", "success"], "webhook": "http://h/all", "format": "slack"},
    ]
    run_id = start(engine, entries, py("a"), py("b"), py("c", "a"))
    clock.now = 1010.0
    a, b = claim(engine)
    clock.now = 1012.5
    finish(engine, a, ok=False, error="ValueError: " + "x" * 600)
    finish(engine, b)
    rows = outbox(store, run_id)
    assert [(r["key"], r["event"], r["state"], r["next_at"]) for r in rows] == [
        (f"{run_id}:failure:0", "failure", "pending", 1012.5),
        (f"{run_id}:failure:2", "failure", "pending", 1012.5),
    ]
    assert json.loads(rows[1]["channel"]) == entries[2] | {"on": ["failure", "success"]}
    p = payload(rows[0])
    error = p["failed_tasks"][0].pop("error")
    assert error.startswith("ValueError: xxx") and len(error) == 500
    assert p == {
        "event": "failure",
        "flow": "etl",
        "run_id": run_id,
        "state": "failed",
        "params": {"day": "2024-06-01"},
        "trigger": "manual",
        "trigger_detail": None,
        "logical_date": None,
        "created_at": "1970-01-01T00:16:40.000000Z",
        "started_at": "1970-01-01T00:16:50.000000Z",
        "ended_at": "1970-01-01T00:16:52.500000Z",
        "duration": 2.5,
        "failed_count": 1,  # c ended upstream_failed: a consequence, not a cause
        # The failed attempt: the sender adds the last lines of its log.
        "failed_tasks": [
            {
                "key": "a",
                "map_index": None,
                "error_kind": "user",
                "task_run_id": a.task_run_id,
                "attempt": 1,
            }
        ],
    }


def test_a_successful_run_queues_its_success(engine: Engine, store: Store) -> None:
    run_id = start(engine, [{"on": ["success"], "webhook": "http://h"}], py("a"))
    (c,) = claim(engine)
    finish(engine, c)
    (row,) = outbox(store, run_id)
    assert row["key"] == f"{run_id}:success:0"
    assert payload(row)["state"] == "succeeded"
    assert "failed_tasks" not in payload(row)


def test_each_retried_attempt_is_told_once(engine: Engine, store: Store, clock: Clock) -> None:
    spec = FlowSpec(
        name="etl",
        tasks=(TaskSpec(key="a", type="python", retry=RetryPolicy(retries=2, delay=30)),),
        notifications=validate([{"on": ["retry"], "email": "a@b.c"}]),
    )
    run_id = engine.create_run(engine.register(spec), {})
    (c,) = claim(engine)
    finish(engine, c, ok=False)
    (row,) = outbox(store, run_id)
    assert row["key"] == f"{run_id}:retry:{c.task_run_id}:1:0"
    assert payload(row)["task"] == {
        "key": "a",
        "map_index": None,
        "task_run_id": c.task_run_id,
        "attempt": 1,
        "error_kind": "user",
        "error": "ValueError: boom",
        "retry_at": "1970-01-01T00:17:10.000000Z",
    }
    clock.now += 30
    engine.wake_due()
    (c,) = claim(engine)
    finish(engine, c, ok=False)
    assert [payload(r)["task"]["attempt"] for r in outbox(store, run_id)] == [1, 2]
    clock.now += 30
    engine.wake_due()
    (c,) = claim(engine)
    finish(engine, c, ok=False)  # the last attempt: no retry, and no failure wanted
    assert len(outbox(store, run_id)) == 2


def test_an_sla_notice_waits_for_its_deadline_and_goes_if_the_run_ends_in_time(
    engine: Engine, store: Store, clock: Clock
) -> None:
    entries = [{"on": ["sla"], "email": "a@b.c", "sla": 60}, {"email": "b@b.c"}]
    run_id = start(engine, entries, py("a"))
    (row,) = outbox(store, run_id)
    assert (row["key"], row["next_at"]) == (f"{run_id}:sla:0", 1060.0)
    assert payload(row)["sla"] == 60
    clock.now = 1059.0
    (c,) = claim(engine)
    finish(engine, c)
    assert outbox(store, run_id) == []


def test_an_sla_notice_already_due_stays_when_the_run_ends(
    engine: Engine, store: Store, clock: Clock
) -> None:
    run_id = start(engine, [{"on": ["sla", "failure"], "email": "a@b.c", "sla": 60}], py("a"))
    clock.now = 1061.0
    (c,) = claim(engine)
    finish(engine, c, ok=False)
    assert [r["event"] for r in outbox(store, run_id)] == ["sla", "failure"]
