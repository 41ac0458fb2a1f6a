"""Pruning history (store.prune, scheduling.retention) on SQLite and PostgreSQL: old finished
runs go with everything they own; running runs, each flow's latest run, runs with a
notification still to send, and the families of any of those stay whole."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baton.execution import local
from baton.scheduling import retention
from baton.settings import Settings
from baton.store import prune as store_prune
from baton.store.records import CacheEntryRow
from baton.store.store import Store

DAY = 86400.0
NOW = 1_800_000_000.0
OLD = NOW - 40 * DAY  # before a 30-day cutoff
RECENT = NOW - DAY
TABLES = (
    "runs",
    "task_runs",
    "attempts",
    "state_events",
    "log_chunks",
    "notifications",
    "escalations",
    "run_acks",
    "cache_entries",
)


@pytest.fixture
def settings(tmp_path: Path, url: str) -> Settings:
    return Settings.from_env({"BATON_HOME": str(tmp_path / "home"), "BATON_DATABASE_URL": url})


@pytest.fixture
def add(store: Store, settings: Settings) -> Callable[..., None]:
    """`add(run_id, flow, state, created_at, ended_at=..., parent=..., root=...,
    subflow=..., notification=...)`: a run with one task run, one attempt, a shipped log
    piece, a log file, a notification and the cache entry of its task's result, as a real
    run leaves them."""

    def make(
        run_id: str,
        flow: str,
        state: str,
        created_at: float,
        *,
        ended_at: float | None = None,
        parent: str | None = None,
        root: str | None = None,
        subflow: bool = False,
        notification: str = "sent",
    ) -> None:
        done = state in ("succeeded", "failed", "cancelled")
        ended = (ended_at or created_at + 60) if done else None
        with store.transaction() as tx:
            parent_task = None
            if subflow:
                assert parent is not None
                parent_task = tx.task_runs(parent)[0].id
            tx.insert_run(
                {
                    "id": run_id,
                    "flow_name": flow,
                    "version_id": "v1",
                    "state": state,
                    "params": "{}",
                    "trigger": "flow" if subflow else "repair" if parent else "manual",
                    "parent_run_id": parent,
                    "root_run_id": root,
                    "parent_task_run_id": parent_task,
                    "unfinished": 0 if done else 1,
                    "created_at": created_at,
                }
            )
            tx._c.execute("UPDATE runs SET ended_at = ? WHERE id = ?", (ended, run_id))
            task_state = "succeeded" if done else "running"
            ids = tx.insert_task_runs(
                [
                    {
                        "run_id": run_id,
                        "task_key": "t",
                        "map_index": -1,
                        "state": task_state,
                        "queue": "default",
                        "pool": None,
                        "priority": 0,
                        "up_total": 0,
                    }
                ],
                created_at,
            )
            attempt_id = f"a-{run_id}"
            tx._c.execute(
                "INSERT INTO attempts (id, task_run_id, run_id, number, worker_id, state, "
                "started_at, ended_at, lease_expires_at) VALUES (?, ?, ?, 1, 'w', ?, ?, ?, ?)",
                (attempt_id, ids["t"], run_id, task_state, created_at, ended, created_at + 30),
            )
            tx.append_log_chunks([(attempt_id, 0, "hello\n", None)])
            tx.enqueue_notifications(
                [
                    {
                        "key": f"n-{run_id}",
                        "flow_name": flow,
                        "run_id": run_id,
                        "event": "success",
                        "channel": "{}",
                        "payload": "{}",
                        "next_at": created_at,
                        "created_at": created_at,
                    }
                ]
            )
            tx.put_cache_entries(
                [entry(run_id, ids["t"], f"k-{run_id}", created_at)], replace=False
            )
            if notification != "pending":
                tx._c.execute(
                    "UPDATE notifications SET state = ? WHERE run_id = ?", (notification, run_id)
                )
        log = Path(settings.logs_dir, run_id, "t", "1.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("hello\n")

    return make


def entry(
    run_id: str, task_run_id: int, key: str, at: float, expires_at: float | None = None
) -> CacheEntryRow:
    return CacheEntryRow(key, "f", "t", run_id, task_run_id, 1, "1", None, None, at, expires_at)


def escalation(run_id: str) -> dict[str, Any]:
    return {
        "key": f"escalate:{run_id}:-:failure:0",
        "flow_name": "h",
        "run_id": run_id,
        "task_run_id": None,
        "event": "failure",
        "steps": '[{"after": 60, "email": ["a@example.com"]}]',
        "payload": "{}",
        "next_at": OLD + 60,
        "created_at": OLD,
    }


def counts(store: Store) -> dict[str, int]:
    read = store.read()
    return {t: int(read._one(f"SELECT count(*) AS n FROM {t}")["n"]) for t in TABLES}  # type: ignore[index]


def run_ids(store: Store) -> set[str]:
    return {r.id for r in store.read().runs(limit=1000)}


def prune(store: Store, settings: Settings, **kw: Any) -> dict[str, int]:
    return retention.prune(store, settings, older_than=30 * DAY, now=NOW, **kw)


def test_old_finished_runs_go_with_all_they_own_and_the_rest_stays(store, settings, add):
    add("f1", "f", "succeeded", OLD)
    add("f2", "f", "failed", OLD + 1)
    add("f3", "f", "running", OLD + 2)  # not finished: never pruned, however old
    add("f4", "f", "cancelled", OLD + 3, ended_at=RECENT)  # ended within the 30 days
    add("f5", "f", "succeeded", OLD + 4)  # the latest run of f: its last run stays shown
    add("g1", "g", "succeeded", OLD)  # the only (so the latest) run of g
    add("h1", "h", "succeeded", OLD, notification="pending")  # not sent yet
    add("h2", "h", "failed", OLD + 1, notification="failed")  # given up: it goes
    add("h3", "h", "succeeded", RECENT)
    with store.transaction() as tx:  # entries of a run that stays: ttl over, and not yet
        kept = tx.task_runs("f5")[0].id
        tx.put_cache_entries(
            [entry("f5", kept, "expired", OLD, NOW - 1), entry("f5", kept, "live", OLD, NOW + 1)],
            replace=False,
        )
        for run_id in ("h2", "h3"):  # an acknowledged run and its escalation go with it
            tx.acknowledge_run(run_id, "ann", None, OLD + 2)
            tx.start_escalations([escalation(run_id)])
    before = counts(store)

    removed = prune(store, settings)

    assert run_ids(store) == {"f3", "f4", "f5", "g1", "h1", "h3"}
    assert removed == {
        "runs": 3,
        "task_runs": 3,
        "attempts": 3,
        "state_events": 6,  # each run's and its task run's first state
        "log_chunks": 3,
        "notifications": 3,
        "escalations": 1,
        "run_acks": 1,
        "cache_entries": 4,  # those of the 3 runs, and the entry whose ttl ran out
        "log_files": 3,
        "result_files": 0,
        "kept": 4,  # f4, f5, g1 and h1 (f3 and h3 are not even candidates)
    }
    assert {t: before[t] - n for t, n in counts(store).items()} == {t: removed[t] for t in TABLES}
    for gone in ("f1", "f2", "h2"):
        assert not Path(settings.logs_dir, gone).exists()
        assert store.read().attempts(gone) == []
    for kept in ("f3", "f4", "f5", "g1", "h1", "h3"):
        assert Path(settings.logs_dir, kept, "t", "1.log").exists()
        (attempt,) = store.read().attempts(kept)
        assert store.read().log_text(attempt.id, 0, 100) == ("hello\n", 6)
    assert prune(store, settings)["runs"] == 0  # nothing more to do


def test_a_family_of_runs_goes_whole_or_not_at_all(store, settings, add):
    # p made a sub-flow run c (flow "child") and was repaired by r, which made its own c2.
    add("p", "f", "failed", OLD)
    add("c", "child", "succeeded", OLD + 1, parent="p", root="p", subflow=True)
    add("r", "f", "succeeded", OLD + 2, parent="p")
    add("c2", "child", "succeeded", OLD + 3, parent="r", root="r", subflow=True)
    # q's sub-flow run is the latest run of its flow: q's family stays, links and all.
    add("q", "f", "succeeded", OLD + 4)
    add("qc", "other", "succeeded", OLD + 5, parent="q", root="q", subflow=True)
    # s's repair ended recently: s stays with it (the repair's link would dangle).
    add("s", "f", "failed", OLD + 6)
    add("sr", "f", "succeeded", OLD + 7, parent="s", ended_at=RECENT)
    add("latest", "f", "succeeded", NOW - 60)
    add("latest-child", "child", "succeeded", NOW - 60)

    removed = prune(store, settings)

    assert removed["runs"] == 4 and removed["kept"] == 2
    assert run_ids(store) == {"q", "qc", "s", "sr", "latest", "latest-child"}
    # No run left links to one that is gone, and each still reads whole.
    for run_id in run_ids(store):
        row = store.read().run(run_id)
        for link in (row.parent_run_id, row.root_run_id):
            assert link is None or link in run_ids(store)
        result = local.load_result(store, run_id)
        assert [t.attempt_list[0].number for t in result.tasks.values()] == [1]
    assert [r["id"] for r in store.read().runs_from("q")] == ["qc"]
    assert [r["id"] for r in store.read().runs_from("s")] == ["sr"]


def test_flow_limits_the_prune_to_one_flows_runs(store, settings, add):
    for flow in ("f", "g"):
        add(f"{flow}1", flow, "succeeded", OLD)
        add(f"{flow}2", flow, "succeeded", OLD + 1)
    assert prune(store, settings, flow="g")["runs"] == 1
    assert run_ids(store) == {"f1", "f2", "g2"}
    assert prune(store, settings, flow="nope")["runs"] == 0


def test_batches_are_small_and_together_prune_everything(store, settings, add):
    for i in range(7):
        add(f"r{i}", "f", "succeeded", OLD + i)
    with store.transaction() as tx:
        first = store_prune.prune_batch(tx, before=NOW - 30 * DAY, limit=3)
    assert first.run_ids == ["r0", "r1", "r2"]
    assert first.after is not None
    removed = prune(store, settings, batch=2)  # r3..r5 in two batches, then r6 is kept
    assert (removed["runs"], removed["kept"]) == (3, 1)
    assert run_ids(store) == {"r6"}


def test_a_dry_run_counts_what_would_go_and_changes_nothing(store, settings, add):
    add("p", "f", "failed", OLD)
    add("c", "child", "succeeded", OLD + 1, parent="p", root="p", subflow=True)
    add("f2", "f", "succeeded", OLD + 2)
    add("f3", "f", "running", OLD + 3)
    add("x", "child", "succeeded", RECENT)
    before = counts(store)
    files = sorted(str(p) for p in Path(settings.logs_dir).rglob("*.log"))

    would = prune(store, settings, dry_run=True, batch=1)

    assert counts(store) == before
    assert sorted(str(p) for p in Path(settings.logs_dir).rglob("*.log")) == files
    assert would["runs"] == 3 and would["log_files"] == 3
    assert prune(store, settings) == would
    assert run_ids(store) == {"f3", "x"}
    assert sorted(os.listdir(settings.logs_dir)) == ["f3", "x"]
