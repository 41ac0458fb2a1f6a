"""The engine service against a real SQLite store in a temp directory, with a fake clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.errors import ConflictError, InputError, TransitionError
from baton.model.spec import FlowSpec, RetryPolicy, TaskSpec
from baton.model.states import AttemptState, ErrorKind, TaskState
from baton.store.records import TaskRunRow
from baton.store.store import Claimed, Row, Store, TaskMove
from engine_kit import Clock, outcome_of

T = TaskState


def py(key: str, *depends_on: str, **fields: Any) -> TaskSpec:
    return TaskSpec(
        key=key,
        type="python",
        config={"function": f"mod:{key}"},
        depends_on=depends_on,
        **fields,
    )


def start(engine: Engine, *tasks: TaskSpec, params: dict[str, Any] | None = None) -> str:
    version = engine.register(FlowSpec(name="f", tasks=tasks))
    return engine.create_run(version, params or {})


def rows(store: Store, run_id: str) -> dict[str, TaskRunRow]:
    return {
        r.task_key if r.map_index < 0 else f"{r.task_key}[{r.map_index}]": r
        for r in store.read().task_runs(run_id)
    }


def states(store: Store, run_id: str) -> dict[str, str]:
    return {k: r.state for k, r in rows(store, run_id).items()}


def run_state(store: Store, run_id: str) -> str:
    return str(store.read().run(run_id).state)


def claim(engine: Engine, limit: int = 10, queues: tuple[str, ...] = ("default",)) -> list[Claimed]:
    return engine.claim(worker_id="w1", queues=queues, limit=limit, lease=30)


def claim_one(engine: Engine, key: str) -> Claimed:
    claimed = [c for c in claim(engine) if c.task_key == key]
    assert len(claimed) == 1, claimed
    return claimed[0]


def outcome(
    engine: Engine,
    c: Claimed,
    state: AttemptState = AttemptState.SUCCEEDED,
    *,
    result: str | None = None,
    result_len: int | None = None,
    error_kind: ErrorKind | None = None,
    follow: tuple[str, ...] | None = None,
) -> Outcome:
    fields: dict[str, Any] = {"result": result, "result_len": result_len, "follow": follow}
    if error_kind is not None:
        fields["error_kind"] = error_kind
    return outcome_of(c, state, at=engine.clock(), **fields)


def events(store: Store, run_id: str) -> list[Row]:
    return store.read().events(run_id)


def assert_history_matches(store: Store, run_id: str) -> None:
    """Each row's events chain from None to its current state, one step per change."""
    history: dict[int | None, list[Row]] = {}
    for e in events(store, run_id):
        history.setdefault(e["task_run_id"], []).append(e)
    current = {r.id: r.state for r in store.read().task_runs(run_id)}
    current[None] = run_state(store, run_id)
    assert set(history) == set(current)
    for row_id, chain in history.items():
        assert chain[0]["from_state"] is None
        for before, after in itertools.pairwise(chain):
            assert after["from_state"] == before["to_state"], (row_id, chain)
        assert chain[-1]["to_state"] == current[row_id]


# -- creating runs -----------------------------------------------------------------------


def test_create_run_queues_roots_and_counts_upstreams(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b", "a"), py("c"), py("d", "b", "c"))
    assert states(store, run_id) == {"a": "queued", "b": "pending", "c": "queued", "d": "pending"}
    r = rows(store, run_id)
    assert [r[k].up_total for k in "abcd"] == [0, 1, 0, 2]
    assert all(r[k].up_success == 0 for k in "abcd")
    run = store.read().run(run_id)
    assert run.state == "queued"
    assert run.unfinished == 4
    assert run.trigger == "manual"
    assert run.created_at == 1000.0
    assert_history_matches(store, run_id)


def test_create_run_keeps_params(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), params={"n": 3, "day": "mon"})
    assert store.read().run(run_id).params == '{"n": 3, "day": "mon"}'
    assert engine.run_info(run_id)[1] == {"n": 3, "day": "mon"}


# -- claiming ----------------------------------------------------------------------------


def test_claim_in_priority_order_and_start_the_run(
    engine: Engine, store: Store, clock: Clock
) -> None:
    run_id = start(engine, py("low"), py("high", priority=5), py("mid", priority=2))
    clock.now = 1001.0
    first = claim(engine, limit=2)
    assert [c.task_key for c in first] == ["high", "mid"]
    assert all(c.attempt == 1 and c.run_id == run_id for c in first)
    assert len({c.attempt_id for c in first}) == 2
    assert states(store, run_id) == {"low": "queued", "high": "running", "mid": "running"}
    run = store.read().run(run_id)
    assert run.state == "running"
    assert run.started_at == 1001.0
    assert [c.task_key for c in claim(engine)] == ["low"]
    assert claim(engine) == []
    attempts = store.read().attempts(run_id)
    assert len(attempts) == 3
    assert {a.worker_id for a in attempts} == {"w1"}
    # Leases run from the store's clock: the caller's on SQLite, the database's on PostgreSQL.
    base = 1001.0 if store.url.startswith("sqlite") else store.clock()
    assert all(abs(a.lease_expires_at - (base + 30)) < 5 for a in attempts)


def test_claim_serves_only_its_queues(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a", queue="io"), py("b"))
    assert [c.task_key for c in claim(engine, queues=("gpu",))] == []
    assert run_state(store, run_id) == "queued"
    assert [c.task_key for c in claim(engine, queues=("io",))] == ["a"]
    assert [c.task_key for c in claim(engine, queues=("io", "default"))] == ["b"]


def test_claim_with_zero_limit_only_records_outcomes(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b", "a"))
    a = claim_one(engine, "a")
    claimed = engine.claim(
        worker_id="w1", queues=["default"], limit=0, lease=30, outcomes=[outcome(engine, a)]
    )
    assert claimed == []
    assert states(store, run_id) == {"a": "succeeded", "b": "queued"}


# -- completing --------------------------------------------------------------------------


def test_completion_queues_downstream_and_finishes_the_run(
    engine: Engine, store: Store, clock: Clock
) -> None:
    run_id = start(engine, py("a"), py("b", "a"), py("c", "b"))
    a = claim_one(engine, "a")
    clock.now = 1005.0
    before = len(events(store, run_id))
    engine.complete([outcome(engine, a, result="[1, 2]", result_len=2)])
    # a: running -> succeeded, b: pending -> queued; one event each
    assert len(events(store, run_id)) == before + 2
    assert states(store, run_id) == {"a": "succeeded", "b": "queued", "c": "pending"}
    r = rows(store, run_id)
    assert r["a"].result == "[1, 2]"
    assert r["a"].result_len == 2
    assert r["a"].ended_at == 1005.0
    assert r["b"].up_success == 1
    assert store.read().run(run_id).unfinished == 2

    # Report b and claim c in one call, as a worker does.
    b = claim_one(engine, "b")
    clock.now = 1010.0
    claimed = engine.claim(
        worker_id="w1", queues=["default"], limit=5, lease=30, outcomes=[outcome(engine, b)]
    )
    assert [c.task_key for c in claimed] == ["c"]
    assert run_state(store, run_id) == "running"
    engine.complete([outcome(engine, claimed[0])])
    assert set(states(store, run_id).values()) == {"succeeded"}
    run = store.read().run(run_id)
    assert run.state == "succeeded"
    assert run.ended_at == 1010.0
    assert run.unfinished == 0
    assert {a.state for a in store.read().attempts(run_id)} == {"succeeded"}
    assert_history_matches(store, run_id)


def test_a_failure_propagates_upstream_failed_and_fails_the_run(
    engine: Engine, store: Store
) -> None:
    run_id = start(engine, py("a"), py("b", "a"), py("c", "b"), py("d"))
    a = claim_one(engine, "a")
    engine.complete([outcome(engine, a, AttemptState.FAILED)])
    assert states(store, run_id) == {
        "a": "failed",
        "b": "upstream_failed",
        "c": "upstream_failed",
        "d": "running",
    }
    r = rows(store, run_id)
    assert r["a"].error == "boom"
    assert r["a"].error_kind == "user"
    assert r["b"].error_kind == "upstream"
    assert run_state(store, run_id) == "running"  # d has not finished
    (d,) = [c for c in store.read().attempts(run_id) if c.state == "running"]
    engine.complete(
        [
            Outcome(
                attempt_id=d.id,
                task_run_id=d.task_run_id,
                run_id=run_id,
                task_key="d",
                attempt=1,
                state=AttemptState.SUCCEEDED,
                ended_at=1000.0,
            )
        ]
    )
    assert run_state(store, run_id) == "failed"
    assert_history_matches(store, run_id)


def test_a_skip_propagates_and_the_run_succeeds(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b", "a"), py("c", "b"))
    a = claim_one(engine, "a")
    engine.complete([outcome(engine, a, AttemptState.SKIPPED)])
    assert states(store, run_id) == {"a": "skipped", "b": "skipped", "c": "skipped"}
    assert run_state(store, run_id) == "succeeded"


def test_a_trigger_rule_absorbs_a_failure(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("cleanup", "a", trigger_rule="all_done"))
    engine.complete([outcome(engine, claim_one(engine, "a"), AttemptState.FAILED)])
    assert states(store, run_id) == {"a": "failed", "cleanup": "queued"}
    engine.complete([outcome(engine, claim_one(engine, "cleanup"))])
    assert run_state(store, run_id) == "succeeded"  # the leaf succeeded: Airflow's rule


def test_a_branch_skips_what_it_did_not_follow(engine: Engine, store: Store) -> None:
    run_id = start(
        engine,
        py("choose"),
        py("left", "choose"),
        py("right", "choose"),
        py("after_right", "right"),
        py("join", "left", "right", trigger_rule="none_failed"),
    )
    c = claim_one(engine, "choose")
    engine.complete([outcome(engine, c, follow=("left",))])
    assert states(store, run_id) == {
        "choose": "succeeded",
        "left": "queued",
        "right": "skipped",
        "after_right": "skipped",
        "join": "pending",
    }
    engine.complete([outcome(engine, claim_one(engine, "left"))])
    assert states(store, run_id)["join"] == "queued"
    engine.complete([outcome(engine, claim_one(engine, "join"))])
    assert run_state(store, run_id) == "succeeded"
    assert_history_matches(store, run_id)


def test_a_branch_following_an_unknown_task_fails(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("choose"), py("left", "choose"), py("right", "choose"))
    c = claim_one(engine, "choose")
    engine.complete([outcome(engine, c, follow=("left", "middle"))])
    assert states(store, run_id) == {
        "choose": "failed",
        "left": "upstream_failed",
        "right": "upstream_failed",
    }
    error = rows(store, run_id)["choose"].error
    assert "middle" in error
    assert "left, right" in error
    assert run_state(store, run_id) == "failed"
    (attempt,) = store.read().attempts(run_id)
    assert attempt.state == "failed"  # the attempt agrees with its task run


def test_a_mapped_task_expands_to_one_task_run_per_item(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("src"), py("each", "src", map_over="src"), py("total", "each"))
    src = claim_one(engine, "src")
    engine.complete([outcome(engine, src, result="[1, 2, 3]", result_len=3)])
    assert states(store, run_id) == {
        "src": "succeeded",
        "each[0]": "queued",
        "each[1]": "queued",
        "each[2]": "queued",
        "total": "pending",
    }
    assert rows(store, run_id)["total"].up_total == 3
    each = claim(engine)
    assert sorted(c.map_index for c in each) == [0, 1, 2]
    engine.complete([outcome(engine, each[0]), outcome(engine, each[1])])
    assert states(store, run_id)["total"] == "pending"
    engine.complete([outcome(engine, each[2])])
    assert states(store, run_id)["total"] == "queued"
    engine.complete([outcome(engine, claim_one(engine, "total"))])
    assert run_state(store, run_id) == "succeeded"
    assert_history_matches(store, run_id)


# -- refused and forbidden completions ----------------------------------------------------


def test_a_late_completion_is_refused(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b", "a"))
    a = claim_one(engine, "a")
    # The worker is presumed dead: its attempt fails as lost and the task is retried.
    assert engine.fail_lost(store.read().running_attempts([run_id]), "worker gone") == 1
    assert states(store, run_id) == {"a": "queued", "b": "pending"}
    before = len(events(store, run_id))
    engine.complete([outcome(engine, a, result="42")])  # the old attempt reports after all
    assert states(store, run_id) == {"a": "queued", "b": "pending"}
    assert rows(store, run_id)["a"].result is None
    assert len(events(store, run_id)) == before
    (attempt,) = store.read().attempts(run_id)
    assert attempt.state == "failed"
    assert attempt.error_kind == "lost"
    retry = claim_one(engine, "a")
    assert retry.attempt == 2


def test_a_duplicate_completion_is_refused(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b", "a"))
    a = claim_one(engine, "a")
    engine.complete([outcome(engine, a)])
    before = len(events(store, run_id))
    engine.complete([outcome(engine, a, AttemptState.FAILED)])
    assert states(store, run_id) == {"a": "succeeded", "b": "queued"}
    assert len(events(store, run_id)) == before


def test_a_duplicate_report_in_one_batch_counts_once(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b"))
    a, b = claim(engine)
    engine.complete([outcome(engine, a), outcome(engine, a), outcome(engine, b)])
    assert states(store, run_id) == {"a": "succeeded", "b": "succeeded"}
    assert run_state(store, run_id) == "succeeded"


def test_a_stale_transition_raises_and_rolls_back_everything(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b", "a"))
    a = claim_one(engine, "a")
    # Another process ended the task run first (its attempt is still open).
    with store.transaction() as tx:
        tx.move_tasks([TaskMove(a.task_run_id, run_id, T.RUNNING, T.FAILED)], 1000.0)
    before = len(events(store, run_id))
    with pytest.raises(TransitionError):
        engine.complete([outcome(engine, a, result="1")])
    (attempt,) = store.read().attempts(run_id)
    assert attempt.state == "running"  # end_attempt was rolled back too
    assert states(store, run_id) == {"a": "failed", "b": "pending"}
    assert len(events(store, run_id)) == before


# -- retries -----------------------------------------------------------------------------


def test_a_failed_attempt_waits_then_is_retried(engine: Engine, store: Store, clock: Clock) -> None:
    run_id = start(engine, py("a", retry=RetryPolicy(retries=1, delay=10)), py("b", "a"))
    a = claim_one(engine, "a")
    clock.now = 1002.0
    engine.complete([outcome(engine, a, AttemptState.FAILED)])
    r = rows(store, run_id)["a"]
    assert r.state == "retry_wait"
    assert r.ready_at == 1012.0
    assert r.ended_at is None
    assert claim(engine) == []

    clock.now = 1011.0
    assert engine.wake_due() == 1012.0
    assert states(store, run_id)["a"] == "retry_wait"

    clock.now = 1012.0
    assert engine.wake_due() is None
    assert states(store, run_id)["a"] == "queued"
    a2 = claim_one(engine, "a")
    assert a2.attempt == 2
    engine.complete([outcome(engine, a2, AttemptState.FAILED)])
    assert states(store, run_id) == {"a": "failed", "b": "upstream_failed"}
    assert run_state(store, run_id) == "failed"
    assert [x.number for x in store.read().attempts(run_id)] == [1, 2]
    assert_history_matches(store, run_id)


def test_a_retry_without_delay_is_queued_at_once(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a", retry=RetryPolicy(retries=1)))
    engine.complete([outcome(engine, claim_one(engine, "a"), AttemptState.FAILED)])
    assert states(store, run_id) == {"a": "queued"}
    engine.complete([outcome(engine, claim_one(engine, "a"))])
    assert run_state(store, run_id) == "succeeded"


def test_wake_due_only_for_given_runs(engine: Engine, store: Store, clock: Clock) -> None:
    policy = RetryPolicy(retries=1, delay=5)
    first = start(engine, py("a", retry=policy))
    second = engine.create_run(store.read().run(first).version_id, {})
    for c in claim(engine):
        engine.complete([outcome(engine, c, AttemptState.FAILED)])
    clock.now = 2000.0
    assert engine.wake_due([first]) == 1005.0
    assert states(store, first) == {"a": "queued"}
    assert states(store, second) == {"a": "retry_wait"}


# -- cancel ------------------------------------------------------------------------------


def test_cancel_waits_for_running_tasks(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a", priority=1), py("b", "a"), py("c"))
    a = claim(engine, limit=1)[0]
    assert a.task_key == "a"
    assert engine.cancel(run_id) is True
    assert states(store, run_id) == {"a": "running", "b": "cancelled", "c": "cancelled"}
    assert rows(store, run_id)["c"].error_kind == "cancelled"
    assert run_state(store, run_id) == "cancelling"
    assert claim(engine) == []
    engine.complete([outcome(engine, a, AttemptState.FAILED, error_kind=ErrorKind.CANCELLED)])
    assert states(store, run_id)["a"] == "cancelled"
    assert run_state(store, run_id) == "cancelled"
    assert store.read().run(run_id).ended_at == 1000.0
    assert engine.cancel(run_id) is False
    assert_history_matches(store, run_id)


def test_a_task_failing_while_its_run_is_cancelling_is_not_retried(
    engine: Engine, store: Store
) -> None:
    run_id = start(engine, py("a", retry=RetryPolicy(retries=3)))
    a = claim_one(engine, "a")
    engine.cancel(run_id)
    engine.complete([outcome(engine, a, AttemptState.FAILED)])
    assert states(store, run_id) == {"a": "cancelled"}
    assert run_state(store, run_id) == "cancelled"


def test_cancel_a_run_that_has_not_started(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"), py("b", "a"), py("c", "b"))
    assert engine.cancel(run_id) is True
    assert states(store, run_id) == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}
    assert run_state(store, run_id) == "cancelled"
    assert_history_matches(store, run_id)


def test_cancel_a_finished_run_does_nothing(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"))
    engine.complete([outcome(engine, claim_one(engine, "a"))])
    before = len(events(store, run_id))
    assert engine.cancel(run_id) is False
    assert run_state(store, run_id) == "succeeded"
    assert len(events(store, run_id)) == before


# -- repair ------------------------------------------------------------------------------


def failed_run(engine: Engine) -> str:
    """a -> b -> c and d: a and d succeed, b fails, c is upstream_failed."""
    run_id = start(engine, py("a"), py("b", "a"), py("c", "b"), py("d"))
    for c in claim(engine):
        engine.complete([outcome(engine, c, result='"A"' if c.task_key == "a" else None)])
    engine.complete([outcome(engine, claim_one(engine, "b"), AttemptState.FAILED)])
    return run_id


def test_repair_reruns_only_what_did_not_succeed(engine: Engine, store: Store) -> None:
    old = failed_run(engine)
    assert run_state(store, old) == "failed"
    new = engine.repair(old)
    assert new != old
    run = store.read().run(new)
    assert run.parent_run_id == old
    assert run.trigger == "repair"
    assert run.version_id == store.read().run(old).version_id
    assert run.unfinished == 2
    assert states(store, new) == {"a": "succeeded", "b": "queued", "c": "pending", "d": "succeeded"}
    r = rows(store, new)
    assert r["a"].reused_from == old
    assert r["a"].result == '"A"'
    assert r["d"].reused_from == old
    assert r["b"].reused_from is None
    assert states(store, old)["b"] == "failed"  # the old run is never reopened

    engine.complete([outcome(engine, claim_one(engine, "b"))])
    engine.complete([outcome(engine, claim_one(engine, "c"))])
    assert run_state(store, new) == "succeeded"
    assert_history_matches(store, new)


def test_repair_a_mapped_task(engine: Engine, store: Store) -> None:
    old = start(engine, py("src"), py("each", "src", map_over="src"), py("total", "each"))
    engine.complete([outcome(engine, claim_one(engine, "src"), result="[1, 2]", result_len=2)])
    first, second = claim(engine)
    engine.complete([outcome(engine, first), outcome(engine, second, AttemptState.FAILED)])
    assert run_state(store, old) == "failed"
    new = engine.repair(old)
    assert states(store, new) == {  # the item that succeeded keeps its result
        "src": "succeeded",
        "each[0]": "succeeded",
        "each[1]": "queued",
        "total": "pending",
    }
    for c in claim(engine):
        engine.complete([outcome(engine, c)])
    engine.complete([outcome(engine, claim_one(engine, "total"))])
    assert run_state(store, new) == "succeeded"
    assert_history_matches(store, new)


def test_repair_refuses_unfinished_and_successful_runs(engine: Engine) -> None:
    run_id = start(engine, py("a"))
    with pytest.raises(InputError, match="only a finished run"):
        engine.repair(run_id)
    engine.complete([outcome(engine, claim_one(engine, "a"))])
    with pytest.raises(InputError, match="nothing to repair"):
        engine.repair(run_id)


# -- cluster: limits, hand-back, leases on roles, logical dates, assets -----------------


def test_runs_past_max_active_runs_wait_scheduled_and_start_oldest_first(
    engine: Engine, store: Store
) -> None:
    version = engine.register(FlowSpec(name="f", tasks=(py("a"),), max_active_runs=1))
    first = engine.create_run(version, {})
    later = [engine.create_run(version, {}, logical_date=d) for d in (200.0, 100.0)]
    assert [run_state(store, r) for r in (first, *later)] == ["queued", "scheduled", "scheduled"]
    assert states(store, later[0]) == {"a": "pending"}
    (c,) = claim(engine)
    assert c.run_id == first  # a held run has nothing to claim
    engine.complete([outcome(engine, c)])
    assert run_state(store, first) == "succeeded"
    # The oldest logical date goes next, and only one at a time.
    assert [run_state(store, r) for r in later] == ["scheduled", "queued"]
    (c,) = claim(engine)
    assert c.run_id == later[1]
    engine.complete([outcome(engine, c)])
    assert [run_state(store, r) for r in later] == ["queued", "succeeded"]


def test_a_cancelled_held_run_ends_without_starting(engine: Engine, store: Store) -> None:
    version = engine.register(FlowSpec(name="f", tasks=(py("a"),), max_active_runs=1))
    engine.create_run(version, {})
    held = engine.create_run(version, {})
    assert engine.cancel(held)
    assert run_state(store, held) == "cancelled"
    assert states(store, held) == {"a": "cancelled"}


def test_hand_back_queues_the_task_again_without_a_failure(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("a"))
    c = claim_one(engine, "a")
    assert engine.hand_back([c], "handed back: worker w1 stopped") == 1
    assert states(store, run_id) == {"a": "queued"}
    (attempt,) = store.read().attempts(run_id)
    assert (attempt.state, attempt.error) == ("cancelled", "handed back: worker w1 stopped")
    again = claim_one(engine, "a")
    assert again.attempt == 2
    # The first attempt's late report is refused: it was handed back.
    engine.complete([outcome(engine, c)])
    assert states(store, run_id) == {"a": "running"}
    engine.complete([outcome(engine, again)])
    assert run_state(store, run_id) == "succeeded"
    assert engine.hand_back([again], "too late") == 0  # an ended attempt stays ended


def test_a_pool_caps_running_tasks_and_frees_slots_as_they_end(
    engine: Engine, store: Store, clock: Clock
) -> None:
    with store.transaction() as tx:
        tx.set_pool("db", 2, "the warehouse", clock())
    run_id = start(engine, *(py(f"p{i}", pool="db") for i in range(4)), py("free"))
    first = claim(engine)
    assert sorted(c.task_key for c in first) == ["free", "p0", "p1"]
    assert claim(engine) == []
    engine.complete([outcome(engine, first[0])])
    assert [c.task_key for c in claim(engine)] == ["p2"]
    (pool,) = store.read().pools()
    assert (pool["name"], pool["slots"], pool["running"]) == ("db", 2, 2)
    assert states(store, run_id)["p3"] == "queued"


def test_an_undefined_pool_limits_nothing(engine: Engine) -> None:
    start(engine, *(py(f"p{i}", pool="nowhere") for i in range(3)))
    assert len(claim(engine)) == 3


def test_one_run_per_flow_and_logical_date(engine: Engine, store: Store) -> None:
    version = engine.register(FlowSpec(name="f", tasks=(py("a"),)))
    first = engine.create_run(version, {}, trigger="schedule", logical_date=86400.0)
    with pytest.raises(ConflictError, match="already has a run for logical date"):
        engine.create_run(version, {}, trigger="schedule", logical_date=86400.0)
    # A rerun links to the run it repeats, and is allowed.
    engine.create_run(version, {}, trigger="backfill", logical_date=86400.0, parent_run_id=first)
    assert len(store.read().runs(flow="f")) == 2


def test_logical_date_interval_and_trigger_info_are_kept(engine: Engine, store: Store) -> None:
    version = engine.register(FlowSpec(name="f", tasks=(py("a"),)))
    run_id = engine.create_run(
        version,
        {},
        trigger="event",
        logical_date=100.0,
        data_interval=(100.0, 200.0),
        trigger_info={"type": "file", "path": "in/a.csv"},
    )
    row = store.read().run(run_id)
    assert (row.logical_date, row.data_interval_start, row.data_interval_end) == (
        100.0,
        100.0,
        200.0,
    )
    assert Engine(store).run_meta(run_id).trigger_info == {"type": "file", "path": "in/a.csv"}


def test_a_succeeded_task_records_its_output_assets(engine: Engine, store: Store) -> None:
    run_id = start(engine, py("load", outputs=("warehouse.events", "warehouse.users")))
    c = claim_one(engine, "load")
    engine.complete([outcome(engine, c, AttemptState.FAILED)])
    assert store.read()._all("SELECT * FROM asset_materializations") == []
    run2 = start(engine, py("load", outputs=("warehouse.events",)))
    engine.complete([outcome(engine, claim_one(engine, "load"))])
    rows_ = store.read()._all("SELECT asset, run_id, task_key FROM asset_materializations")
    assert [(r["asset"], r["run_id"], r["task_key"]) for r in rows_] == [
        ("warehouse.events", run2, "load")
    ]
    assert run_id != run2


def test_a_role_lock_has_one_holder_until_it_expires(store: Store) -> None:
    # Expiries run from the store's clock (on PostgreSQL the database's, whatever `now` says):
    # a lock held for a negative time is one its holder let expire.
    now = store.clock()
    with store.transaction() as tx:
        assert tx.acquire_lock("scheduler", "s1", now, 10.0)
        assert not tx.acquire_lock("scheduler", "s2", now, 10.0)
        assert tx.acquire_lock("scheduler", "s1", now, -1.0)  # renewed, to a time past
        assert tx.acquire_lock("scheduler", "s2", now, 10.0)  # s1 let it expire
        tx.release_lock("scheduler", "s1")  # not the holder: nothing happens
        assert not tx.acquire_lock("scheduler", "s1", now, 10.0)
        tx.release_lock("scheduler", "s2")
        assert tx.acquire_lock("scheduler", "s1", now, 10.0)
