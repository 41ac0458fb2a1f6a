"""The planner's decisions for the service to apply, tested with plain values (no store)."""

from __future__ import annotations

import random
from typing import Any

from baton.engine import planner
from baton.engine.planner import UNMAPPED, Outcome
from baton.model.graph import Graph, validate
from baton.model.resources import Resources
from baton.model.spec import FlowSpec, RetryPolicy, TaskSpec, param_ref
from baton.model.states import AttemptState, ErrorKind, TaskState
from baton.model.trigger_rules import Decision, TriggerRule
from baton.store.assets import Materialization
from baton.store.records import TaskRunRow
from baton.store.store import TaskMove
from store_rows import task_run_record

T = TaskState
NOW = 1000.0


def py(key: str, *depends_on: str, **fields: Any) -> TaskSpec:
    return TaskSpec(key=key, type="python", depends_on=depends_on, **fields)


def compile_(*tasks: TaskSpec) -> tuple[Graph, dict[str, TaskSpec]]:
    spec = FlowSpec(name="f", tasks=tasks)
    return validate(spec, {"python"}), {t.key: t for t in tasks}


def outcome(state: AttemptState, **fields: Any) -> Outcome:
    base: dict[str, Any] = {
        "attempt_id": "att",
        "task_run_id": 7,
        "run_id": "run",
        "task_key": "t",
        "attempt": 1,
        "state": state,
        "ended_at": 990.0,
    }
    return Outcome(**(base | fields))


def old_row(key: str, state: TaskState, map_index: int = UNMAPPED, **fields: Any) -> TaskRunRow:
    """A task run of the run a repair repairs."""
    return task_run_record(key, state.value, map_index, **fields)


# -- initial_rows ------------------------------------------------------------------------


def test_a_new_run_queues_its_roots_and_counts_upstreams() -> None:
    g, tasks = compile_(py("a"), py("b", "a"), py("c"), py("d", "b", "c"))
    rows = planner.initial_rows("r", g, tasks, {}, {}, held=False, parent_run_id=None, now=NOW)
    by_key = {r["task_key"]: r for r in rows}
    assert [r["task_key"] for r in rows] == list(g.order)
    assert {k: r["state"] for k, r in by_key.items()} == {
        "a": "queued",
        "b": "pending",
        "c": "queued",
        "d": "pending",
    }
    assert [by_key[k]["up_total"] for k in "abcd"] == [0, 1, 0, 2]
    assert by_key["a"]["ready_at"] == NOW and by_key["b"]["ready_at"] is None
    assert all(r["map_index"] == UNMAPPED and r["run_id"] == "r" for r in rows)
    assert planner.unfinished_count(rows) == 4


def test_a_held_run_queues_nothing() -> None:
    g, tasks = compile_(py("a"), py("b", "a"))
    rows = planner.initial_rows("r", g, tasks, {}, {}, held=True, parent_run_id=None, now=NOW)
    assert [r["state"] for r in rows] == ["pending", "pending"]


def test_a_mapped_root_waits_pending_to_be_expanded() -> None:
    g, tasks = compile_(py("m", config={"map_items": [1, 2]}))
    rows = planner.initial_rows("r", g, tasks, {}, {}, held=False, parent_run_id=None, now=NOW)
    assert rows[0]["state"] == "pending"


def test_a_repair_copies_kept_rows_and_counts_them_downstream() -> None:
    g, tasks = compile_(py("a"), py("b"), py("c", "a", "b", trigger_rule=TriggerRule.ALL_DONE))
    reuse = {"a": [old_row("a", T.SUCCEEDED)], "b": [old_row("b", T.SKIPPED)]}
    rows = planner.initial_rows("r", g, tasks, reuse, {}, held=False, parent_run_id="old", now=NOW)
    by_key = {r["task_key"]: r for r in rows}
    assert by_key["a"]["state"] == "succeeded" and by_key["a"]["reused_from"] == "old"
    assert by_key["c"]["up_counts"] == [1, 0, 0, 1]
    assert by_key["c"]["up_total"] == 2
    # all_done on counts of 2 of 2 done: it is inserted queued, no second write.
    assert by_key["c"]["state"] == "queued"
    assert planner.unfinished_count(rows) == 1


def test_a_repair_runs_failed_items_again_and_waits_for_them() -> None:
    g, tasks = compile_(py("m", config={"map_items": [1, 2]}), py("after", "m"))
    reuse = {"m": [old_row("m", T.SUCCEEDED, 0)]}
    items = {"m": [old_row("m", T.FAILED, 1)]}
    for held, again in ((False, "queued"), (True, "pending")):
        rows = planner.initial_rows(
            "r", g, tasks, reuse, items, held=held, parent_run_id="old", now=NOW
        )
        assert [(r["task_key"], r["map_index"], r["state"]) for r in rows] == [
            ("m", 0, "succeeded"),
            ("m", 1, again),
            ("after", UNMAPPED, "pending"),
        ]
        assert rows[2]["up_total"] == 2 and rows[2]["up_counts"] == [1, 0, 0, 0]


# -- check_branch ------------------------------------------------------------------------


def test_a_branch_choosing_a_stranger_fails() -> None:
    g, _ = compile_(py("t"), py("left", "t"))
    ok = outcome(AttemptState.SUCCEEDED, follow=("left",))
    assert planner.check_branch(g, ok) is ok
    plain = outcome(AttemptState.SUCCEEDED)
    assert planner.check_branch(g, plain) is plain
    bad = planner.check_branch(g, outcome(AttemptState.SUCCEEDED, follow=("nope",)))
    assert bad.state is AttemptState.FAILED and bad.follow is None
    assert bad.error_kind is ErrorKind.USER
    assert bad.error == (
        "branch returned nope, which is not a downstream task of 't' (downstream: left)"
    )


# -- completion --------------------------------------------------------------------------


def complete(task: TaskSpec, o: Outcome, *, cancelling: bool = False) -> planner.Completion:
    return planner.completion(
        task, o, flow_name="f", cancelling=cancelling, now=NOW, rng=random.Random(0)
    )


def test_a_success_keeps_its_result_and_records_its_assets() -> None:
    o = outcome(AttemptState.SUCCEEDED, result="[1]", result_len=1)
    done = complete(py("t", outputs=("db.table",)), o)
    assert done.move == TaskMove(
        7,
        "run",
        T.RUNNING,
        T.SUCCEEDED,
        {
            "ended_at": 990.0,
            "result": "[1]",
            "result_ref": None,
            "result_len": 1,
            "error": None,
            "error_kind": None,
            "defer_state": None,
            "resume_attempt": None,
        },
    )
    assert done.requeue is None and done.ready_at is None
    assert done.assets == [
        Materialization("db.table", "f", "run", "t", 7, 1, "att", None, None, NOW)
    ]


def test_a_failure_keeps_its_error() -> None:
    o = outcome(AttemptState.FAILED, error="boom", error_kind=ErrorKind.USER)
    done = complete(py("t", outputs=("db.table",)), o)
    assert done.move.to is T.FAILED
    assert done.move.fields["error"] == "boom" and done.move.fields["error_kind"] == "user"
    assert done.move.fields["ended_at"] == 990.0
    assert done.assets == [] and done.requeue is None


def test_a_retry_waits_or_is_queued_at_once_when_due() -> None:
    o = outcome(AttemptState.FAILED, error="boom")
    later = complete(py("t", retry=RetryPolicy(retries=1, delay=60)), o)
    assert later.move.to is T.RETRY_WAIT and later.ready_at == 1050.0
    assert later.move.fields["ready_at"] == 1050.0 and later.move.fields["ended_at"] is None
    assert later.requeue is None
    now = complete(py("t", retry=RetryPolicy(retries=1)), o)
    assert now.move.to is T.RETRY_WAIT
    assert now.requeue == TaskMove(7, "run", T.RETRY_WAIT, T.QUEUED, {"ready_at": NOW})


def test_a_deferred_task_waits_with_its_state() -> None:
    o = outcome(AttemptState.WAITING, wake_at=2000.0, defer_state='{"n": 1}')
    done = complete(py("t"), o)
    assert done.move.to is T.WAITING and done.ready_at == 2000.0
    fields = done.move.fields
    assert fields["ready_at"] == 2000.0 and fields["defer_state"] == '{"n": 1}'
    assert fields["resume_attempt"] == "att" and fields["ended_at"] is None
    cancelled = complete(py("t"), o, cancelling=True)
    assert cancelled.move.to is T.CANCELLED
    assert cancelled.move.fields["resume_attempt"] is None


# -- pending tasks and mapping -----------------------------------------------------------


def test_a_pending_task_leaves_on_its_decision() -> None:
    assert planner.leave_pending(Decision.WAIT, NOW) is None
    assert planner.leave_pending(Decision.RUN, NOW) == (T.QUEUED, {"ready_at": NOW})
    assert planner.leave_pending(Decision.SKIP, NOW) == (T.SKIPPED, {"ended_at": NOW})
    assert planner.leave_pending(Decision.UPSTREAM_FAILED, NOW) == (
        T.UPSTREAM_FAILED,
        {"ended_at": NOW, "error_kind": "upstream"},
    )


def test_source_length_of_a_plain_task_or_of_items() -> None:
    ok = old_row("s", T.SUCCEEDED, result_len=3)
    assert planner.source_length([ok]) == 3
    assert planner.source_length([old_row("s", T.SUCCEEDED)]) is None  # not a list
    assert planner.source_length([old_row("s", T.FAILED, result_len=3)]) is None
    assert planner.source_length([old_row("s", T.SUCCEEDED, i) for i in range(4)]) == 4


def test_expansion_adds_one_task_run_per_item_after_the_first() -> None:
    # Each item needs what its task needs: the claim compares it with a worker's capacity.
    task = py("m", map_over="s", queue="q", priority=2, resources=Resources(cpu=0.5, gpu=1))
    row = {"up_total": 1}
    e = planner.expansion("r", task, row, {}, {"s": 3}, NOW)
    assert (e.to, e.fields, e.note) == (T.QUEUED, {"ready_at": NOW, "map_index": 0}, None)
    assert [i["map_index"] for i in e.items] == [1, 2]
    assert e.items[0] == {
        "run_id": "r",
        "task_key": "m",
        "map_index": 1,
        "state": "queued",
        "queue": "q",
        "pool": None,
        "priority": 2,
        "up_total": 1,
        "ready_at": NOW,
        "need_cpu": 0.5,
        "need_memory": 0,
        "need_gpu": 1,
    }
    assert planner.expansion("r", task, row, {}, {"s": 1}, NOW).items == []


def test_a_task_run_on_a_compute_backend_holds_none_of_its_workers_capacity() -> None:
    # The cluster places it by its resources; the baton worker only waits for it.
    need = Resources(cpu=4, memory=2**30, gpu=1)
    for compute in ("dask", {"backend": "dask", "address": "tcp://127.0.0.1:8786"}):
        remote = py("m", map_over="s", resources=need, config={"compute": compute})
        e = planner.expansion("r", remote, {"up_total": 1}, {}, {"s": 2}, NOW)
        assert (e.items[0]["need_cpu"], e.items[0]["need_memory"], e.items[0]["need_gpu"]) == (
            0,
            0,
            0,
        )
    for compute in (None, "local", {"backend": "local"}):
        config = {} if compute is None else {"compute": compute}
        assert planner.worker_needs(py("t", resources=need, config=config)) == need


def test_expansion_over_nothing_skips_and_over_no_list_fails() -> None:
    task = py("m", config={"map_items": param_ref("xs")})
    none = planner.expansion("r", task, {"up_total": 0}, {"xs": []}, {}, NOW)
    assert (none.to, none.fields, none.note, none.items) == (
        T.SKIPPED,
        {"ended_at": NOW},
        "mapped over no items",
        [],
    )
    bad = planner.expansion("r", task, {"up_total": 0}, {"xs": "abc"}, {}, NOW)
    assert bad.to is T.FAILED and bad.note is None and bad.items == []
    assert bad.fields == {
        "ended_at": NOW,
        "error": "cannot map over its items: not a list",
        "error_kind": "user",
    }


# -- admitting and cancelling ------------------------------------------------------------


def test_an_admitted_repair_queues_its_items_only() -> None:
    pending = [old_row("a", T.PENDING), old_row("m", T.PENDING, 2, id=5)]
    assert planner.admitted_items("r", pending, NOW) == [
        TaskMove(5, "r", T.PENDING, T.QUEUED, {"ready_at": NOW})
    ]


def test_cancel_ends_all_but_running_task_runs() -> None:
    unfinished = [
        old_row("a", T.RUNNING, id=1),
        old_row("b", T.QUEUED, id=2),
        old_row("c", T.WAITING, id=3),
    ]
    fields = {"ended_at": NOW, "error_kind": "cancelled"}
    assert planner.cancel_moves("r", unfinished, NOW) == [
        TaskMove(2, "r", T.QUEUED, T.CANCELLED, fields),
        TaskMove(3, "r", T.WAITING, T.CANCELLED, fields),
    ]
