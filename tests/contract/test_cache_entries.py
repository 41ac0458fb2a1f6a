"""Cache entries in the store (store.cache_entries) on SQLite and PostgreSQL: one result per
key (the first writer wins, a refresh or an expired entry is overwritten), lookups that skip
expired entries, listing and clearing by flow, task and age; and a hit's attempt discarded
with its events (Tx.discard_attempts)."""

from __future__ import annotations

import itertools

from baton.store.records import CacheEntryRow
from baton.store.store import Store
from store_rows import run_row, task_row


def entry(
    key: str,
    run_id: str,
    *,
    at: float = 10.0,
    expires_at: float | None = None,
    flow: str = "f",
    task: str = "t",
    result: str = "1",
) -> CacheEntryRow:
    return CacheEntryRow(key, flow, task, run_id, 1, 1, result, None, None, at, expires_at)


def put(store: Store, *entries: CacheEntryRow, replace: bool = False) -> None:
    with store.transaction() as tx:
        tx.put_cache_entries(entries, replace=replace)


def test_the_first_writer_of_a_key_wins_and_a_refresh_replaces(store):
    put(store, entry("k", "r1", result="1"))
    put(store, entry("k", "r2", result="2"))  # computed too, at the same time: not kept
    assert store.read().cache_hits(["k"], 20.0)["k"].run_id == "r1"
    put(store, entry("k", "r3", result="3"), replace=True)
    (found,) = store.read().cache_hits(["k", "k", "other"], 20.0).values()
    assert (found.run_id, found.result) == ("r3", "3")


def test_an_expired_entry_is_no_hit_and_the_next_result_takes_its_key(store):
    put(store, entry("k", "r1", at=10.0, expires_at=20.0))
    assert store.read().cache_hits(["k"], 19.9)
    assert store.read().cache_hits(["k"], 20.0) == {}
    put(store, entry("k", "r2", at=25.0, expires_at=35.0))
    assert store.read().cache_hits(["k"], 30.0)["k"].run_id == "r2"
    with store.transaction() as tx:
        assert tx.prune_expired_cache(35.0, dry_run=True) == 1
        assert tx.prune_expired_cache(34.0) == 0
        assert tx.prune_expired_cache(35.0) == 1
    assert store.read().cache_entries() == []


def test_many_keys_are_looked_up_in_one_call(store):
    put(store, *(entry(f"k{i:04}", "r1") for i in range(1200)))
    keys = [f"k{i:04}" for i in range(0, 2400, 2)]
    assert len(store.read().cache_hits(keys, 20.0)) == 600


def test_entries_are_listed_newest_first_and_cleared_by_flow_task_and_age(store):
    put(
        store,
        entry("a", "r1", at=1.0, flow="f", task="x"),
        entry("b", "r1", at=2.0, flow="f", task="y"),
        entry("c", "r2", at=3.0, flow="g", task="x"),
    )
    read = store.read()
    assert [e.key for e in read.cache_entries()] == ["c", "b", "a"]
    assert [e.key for e in read.cache_entries(flow="f")] == ["b", "a"]
    assert [e.key for e in read.cache_entries(limit=1, after=(3.0, "c"))] == ["b"]
    with store.transaction() as tx:
        assert tx.clear_cache(flow="f", task="x") == 1
        assert tx.clear_cache(before=2.5) == 1
        assert tx.clear_cache(flow="nope") == 0
    assert [e.key for e in store.read().cache_entries()] == ["c"]


def test_a_hits_attempt_is_discarded_with_its_events_once(store):
    with store.transaction() as tx:
        tx.insert_run(run_row("r1", state="running", unfinished=2, created_at=1.0))
        tx.insert_task_runs([task_row("r1", k, ready_at=1.0) for k in ("t1", "t2")], 1.0)
    ids = (f"a{i}" for i in itertools.count(1))
    with store.transaction() as tx:
        claimed = tx.claim(
            worker_id="w",
            queues=["default"],
            limit=10,
            run_ids=None,
            now=2.0,
            lease_until=32.0,
            new_id=ids,
        )
    hit, other = sorted(c.attempt_id for c in claimed)
    with store.transaction() as tx:
        assert tx.discard_attempts([hit]) == {hit}
        assert tx.discard_attempts([hit]) == set()  # a second report is late
    assert [a.id for a in store.read().attempts("r1")] == [other]
    assert {e["note"] for e in store.read().attempt_events("r1")} == {other}
