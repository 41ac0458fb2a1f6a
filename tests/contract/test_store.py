"""The StateStore contract: every backend must pass this suite (see conftest.BACKENDS)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from baton.errors import InputError, NotFoundError, StoreError, TransitionError
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import RunState, TaskState
from baton.store import store as store_mod
from baton.store.store import Store, TaskMove, Tx
from store_rows import run_row, task_row

T = TaskState


def add_run(
    store: Store, run_id: str, tasks: Mapping[str, Mapping[str, Any]] | None = None, **fields: Any
) -> dict[str, int]:
    """Insert a run and its task runs (key -> field overrides); returns task run ids by key."""
    tasks = tasks if tasks is not None else {"a": {}}
    with store.transaction() as tx:
        tx.insert_run(run_row(run_id, unfinished=len(tasks), **fields))
        if not tasks:
            return {}
        return tx.insert_task_runs(
            [task_row(run_id, k, **overrides) for k, overrides in tasks.items()], 1000.0
        )


def count(tx: Tx, table: str) -> int:
    row = tx._one(f"SELECT count(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


def ids() -> Iterator[str]:
    return (uuid.uuid4().hex for _ in itertools.count())


def claim(
    store: Store, queues: list[str], limit: int = 10, run_ids: list[str] | None = None
) -> list[str]:
    with store.transaction() as tx:
        claimed = tx.claim(
            worker_id="w1",
            queues=queues,
            limit=limit,
            run_ids=run_ids,
            now=2000.0,
            lease_until=2030.0,
            new_id=ids(),
        )
    return [f"{c.run_id}/{c.task_key}" for c in claimed]


def spec(name: str = "f", *keys: str) -> FlowSpec:
    return FlowSpec(name=name, tasks=tuple(TaskSpec(key=k, type="python") for k in keys or "a"))


# -- schema ------------------------------------------------------------------------------


def test_the_schema_is_created_on_first_open_and_reopened(url: str) -> None:
    first = Store(url)
    add_run(first, "r1")
    first.close()
    again = Store(url)
    assert again.read().run("r1").state == "queued"
    assert [r.task_key for r in again.read().task_runs("r1")] == ["a"]
    again.close()


def test_another_schema_revision_asks_for_an_upgrade(
    url: str, set_revision: Callable[[str, str], None]
) -> None:
    Store(url).close()
    set_revision(url, "9999")
    with pytest.raises(StoreError, match="baton db upgrade") as err:
        Store(url)
    assert "9999" in str(err.value)
    assert store_mod.SCHEMA_REVISION in str(err.value)


def test_sql_text_passes_through_unchanged(store: Store) -> None:
    """Quoted `%`, `?` and `:name` are text, not placeholders, on every backend."""
    read = store.read()
    row = read._one("SELECT '50%' AS pct, '?' AS q, ':x' AS colon, 'it''s' AS s, ? AS p", ("p",))
    assert row is not None
    assert (row["pct"], row["q"], row["colon"], row["s"], row["p"]) == (
        "50%",
        "?",
        ":x",
        "it's",
        "p",
    )
    row = read._one("SELECT ':n' AS colon, :n AS n", {"n": "named"})
    assert row is not None
    assert (row["colon"], row["n"]) == (":n", "named")


def test_names_order_byte_by_byte(store: Store) -> None:
    """As SQLite does, whatever the PostgreSQL server's default collation."""
    add_run(store, "r1", tasks={k: {} for k in ("b", "B", "_a", "a-b", "ab", "a")})
    keys = ["b", "B", "_a", "a-b", "ab", "a"]
    assert [r.task_key for r in store.read().task_runs("r1", keys)] == sorted(keys)
    assert store.read().resolve_run_id("r") == "r1"


# -- flow versions -----------------------------------------------------------------------


def test_save_version_is_idempotent_by_content_hash(store: Store) -> None:
    with store.transaction() as tx:
        v1 = tx.save_version(spec("f", "a"), 1.0)
        again = tx.save_version(spec("f", "a"), 2.0)
        v2 = tx.save_version(spec("f", "a", "b"), 3.0)
    assert v1 == again == spec("f", "a").content_hash()
    assert v2 != v1
    read = store.read()
    assert count(read, "flow_versions") == 2
    assert count(read, "flows") == 1
    assert read.load_version(v1) == spec("f", "a")
    assert read.load_version(v2) == spec("f", "a", "b")
    latest = read._one("SELECT latest_version FROM flows WHERE name = 'f'")
    assert latest is not None and latest["latest_version"] == v2


def test_load_an_unknown_version(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        store.read().load_version("nope")


# -- runs --------------------------------------------------------------------------------


def test_resolve_run_id_by_prefix(store: Store) -> None:
    for run_id in ("abc123", "abd456", "xyz789"):
        add_run(store, run_id)
    read = store.read()
    assert read.resolve_run_id("abc") == "abc123"
    assert read.resolve_run_id("abc123") == "abc123"
    assert read.resolve_run_id("x") == "xyz789"
    with pytest.raises(InputError, match="ambiguous"):
        read.resolve_run_id("ab")
    with pytest.raises(NotFoundError, match="baton runs list"):
        read.resolve_run_id("abe")
    with pytest.raises(NotFoundError):
        read.resolve_run_id("b")


def test_an_unknown_run(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        store.read().run("nope")


def test_runs_filters_and_orders_newest_first(store: Store) -> None:
    add_run(store, "r1", flow_name="etl", created_at=1.0)
    add_run(store, "r2", flow_name="etl", created_at=3.0, state="running")
    add_run(store, "r3", flow_name="ml", created_at=2.0)
    add_run(store, "r4", flow_name="etl", created_at=4.0)
    read = store.read()
    assert [r.id for r in read.runs()] == ["r4", "r2", "r3", "r1"]
    assert [r.id for r in read.runs(flow="etl")] == ["r4", "r2", "r1"]
    assert [r.id for r in read.runs(state="queued")] == ["r4", "r3", "r1"]
    assert [r.id for r in read.runs(flow="etl", state="queued")] == ["r4", "r1"]
    assert [r.id for r in read.runs(limit=2)] == ["r4", "r2"]
    assert read.runs(flow="nope") == []


def test_move_run_checks_the_table_and_records_the_event(store: Store) -> None:
    add_run(store, "r1", tasks={})
    with store.transaction() as tx:
        assert tx.move_run("r1", RunState.RUNNING, {"started_at": 5.0}, 5.0) is True
        # only_from: a run no longer queued is left alone, nothing written
        queued = (RunState.QUEUED,)
        assert (
            tx.move_run("r1", RunState.RUNNING, {"started_at": 6.0}, 6.0, only_from=queued) is False
        )
        assert tx.move_run("r1", RunState.SUCCEEDED, {"ended_at": 7.0}, 7.0) is True
    with pytest.raises(TransitionError), store.transaction() as tx:
        # a forbidden transition raises (and its transaction rolls back)
        tx.move_run("r1", RunState.CANCELLING, None, 8.0)
    run = store.read().run("r1")
    assert (run.state, run.started_at, run.ended_at) == ("succeeded", 5.0, 7.0)
    events = [(e["from_state"], e["to_state"], e["at"]) for e in store.read().events("r1")]
    assert events == [
        (None, "queued", 1000.0),
        ("queued", "running", 5.0),
        ("running", "succeeded", 7.0),
    ]
    with store.transaction() as tx, pytest.raises(NotFoundError):
        tx.move_run("nope", RunState.RUNNING)


# -- task runs ---------------------------------------------------------------------------


def test_insert_task_runs_records_their_first_state(store: Store) -> None:
    ids_ = add_run(store, "r1", tasks={"a": {}, "b": {"state": "pending", "up_total": 1}})
    rows = {r.task_key: r for r in store.read().task_runs("r1")}
    assert ids_ == {"a": rows["a"].id, "b": rows["b"].id}
    assert [
        (e["task_run_id"], e["from_state"], e["to_state"]) for e in store.read().events("r1")
    ] == [
        (None, None, "queued"),
        (ids_["a"], None, "queued"),
        (ids_["b"], None, "pending"),
    ]
    assert [r.task_key for r in store.read().task_runs("r1", ["b"])] == ["b"]
    assert store.read().task_runs("r1", []) == []


def test_move_tasks_is_a_compare_and_set(store: Store) -> None:
    ids_ = add_run(store, "r1", tasks={"a": {}, "b": {"state": "pending"}})
    with store.transaction() as tx:
        finished = tx.move_tasks(
            [
                TaskMove(ids_["a"], "r1", T.QUEUED, T.RUNNING, {"started_at": 3.0}),
                TaskMove(ids_["b"], "r1", T.PENDING, T.SKIPPED, {"ended_at": 3.0}, note="why"),
            ],
            3.0,
        )
    assert finished == {"r1": 1}
    a = store.read().task_run(ids_["a"])
    assert (a.state, a.started_at) == ("running", 3.0)
    last = store.read().events("r1")[-1]
    assert (last["task_run_id"], last["from_state"], last["to_state"], last["note"]) == (
        ids_["b"],
        "pending",
        "skipped",
        "why",
    )

    before = len(store.read().events("r1"))
    # a is running, not queued: a stale move loses the race
    with pytest.raises(TransitionError, match="another process"), store.transaction() as tx:
        tx.move_tasks([TaskMove(ids_["a"], "r1", T.QUEUED, T.RUNNING)], 4.0)
    # skipped is terminal: a forbidden move is refused before touching the row
    with pytest.raises(TransitionError, match="not allowed"), store.transaction() as tx:
        tx.move_tasks([TaskMove(ids_["b"], "r1", T.SKIPPED, T.QUEUED)], 4.0)
    assert store.read().task_run(ids_["a"]).state == "running"
    assert store.read().task_run(ids_["b"]).state == "skipped"
    assert len(store.read().events("r1")) == before


def test_a_stale_move_in_a_batch_rolls_back_the_whole_transaction(store: Store) -> None:
    ids_ = add_run(store, "r1", tasks={"a": {}, "b": {}, "c": {"state": "running"}})
    before = len(store.read().events("r1"))
    with pytest.raises(TransitionError), store.transaction() as tx:
        tx.move_tasks(
            [TaskMove(ids_[k], "r1", T.QUEUED, T.CANCELLED) for k in ("a", "b", "c")], 5.0
        )
    assert {r.state for r in store.read().task_runs("r1")} == {"queued", "running"}
    assert len(store.read().events("r1")) == before


def test_a_transaction_rolls_back_on_any_error(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        tx.insert_run(run_row("r1"))
        tx.insert_task_runs([task_row("r1", "a")], 1.0)
        raise Boom
    with pytest.raises(NotFoundError):
        store.read().run("r1")
    assert store.read().task_runs("r1") == []
    assert store.read().events("r1") == []
    add_run(store, "r1")  # the store is usable after a rollback
    assert store.read().run("r1").id == "r1"


def test_bump_upstream_counts_only_pending_task_runs(store: Store) -> None:
    add_run(store, "r1", tasks={"a": {"state": "pending", "up_total": 3}, "b": {}})
    with store.transaction() as tx:
        tx.bump_upstream("r1", "a", 1, 0, 0, 0)
        row = tx.bump_upstream("r1", "a", 0, 1, 1, 0)
        assert row is not None
        assert (row["up_total"], row["up_success"], row["up_failed"]) == (3, 1, 1)
        assert (row["up_upstream_failed"], row["up_skipped"]) == (1, 0)
        assert tx.bump_upstream("r1", "b", 1, 0, 0, 0) is None  # queued, not pending
        assert tx.bump_upstream("r1", "nope", 1, 0, 0, 0) is None


def test_finish_tasks_counts_down(store: Store) -> None:
    add_run(store, "r1", tasks={"a": {}, "b": {}, "c": {}})
    with store.transaction() as tx:
        assert tx.finish_tasks("r1", 2) == 1
        assert tx.finish_tasks("r1", 1) == 0


def test_retry_times(store: Store) -> None:
    add_run(store, "r1", tasks={"a": {"state": "retry_wait", "ready_at": 50.0}, "b": {}})
    add_run(store, "r2", tasks={"a": {"state": "retry_wait", "ready_at": 20.0}})
    read = store.read()
    assert read.next_wakeup_at() == 20.0
    assert read.due_wakeups(10.0, None) == []
    assert sorted(r["run_id"] for r in read.due_wakeups(60.0, None)) == ["r1", "r2"]
    assert [r["run_id"] for r in read.due_wakeups(60.0, ["r1"])] == ["r1"]


# -- claim -------------------------------------------------------------------------------


def test_claim_respects_queues_run_ids_and_limit(store: Store) -> None:
    add_run(store, "r1", tasks={"a": {}, "io": {"queue": "io"}, "p": {"state": "pending"}})
    add_run(store, "r2", tasks={"a": {}, "b": {}})
    assert claim(store, ["gpu"]) == []
    assert claim(store, ["io"]) == ["r1/io"]
    assert claim(store, ["default"], run_ids=["r2"], limit=1) == ["r2/a"]
    assert claim(store, ["default"], run_ids=["r2"]) == ["r2/b"]
    assert claim(store, ["default", "io"]) == ["r1/a"]
    assert claim(store, ["default", "io"]) == []


def test_claim_takes_priority_then_age(store: Store) -> None:
    add_run(
        store,
        "r1",
        tasks={
            "old": {"ready_at": 1.0},
            "new": {"ready_at": 9.0},
            "urgent": {"ready_at": 9.0, "priority": 5},
            "middle": {"ready_at": 5.0},
        },
    )
    assert claim(store, ["default"], limit=3) == ["r1/urgent", "r1/old", "r1/middle"]
    assert claim(store, ["default"]) == ["r1/new"]


def test_claim_starts_an_attempt(store: Store, backend: str) -> None:
    ids_ = add_run(store, "r1", tasks={"a": {"attempts": 1}})
    with store.transaction() as tx:
        (c,) = tx.claim(
            worker_id="w9",
            queues=["default"],
            limit=5,
            run_ids=None,
            now=2000.0,
            lease_until=2030.0,
            new_id=iter(["att-x"]),
        )
    assert (c.task_run_id, c.run_id, c.task_key, c.map_index) == (ids_["a"], "r1", "a", -1)
    assert (c.attempt_id, c.attempt) == ("att-x", 2)
    row = store.read().task_run(ids_["a"])
    assert (row.state, row.attempts, row.started_at) == ("running", 2, 2000.0)
    (attempt,) = store.read().attempts("r1")
    assert attempt.id == "att-x"
    assert (attempt.worker_id, attempt.number, attempt.state) == ("w9", 2, "running")
    if backend == "sqlite":  # the lease runs from the store's clock: the caller's here...
        assert attempt.lease_expires_at == 2030.0
    else:  # ...the database's on PostgreSQL
        assert abs(attempt.lease_expires_at - (store.clock() + 30)) < 5
    assert [a.id for a in store.read().running_attempts(["r1"])] == ["att-x"]
    assert store.read().events("r1")[-1]["to_state"] == "running"
