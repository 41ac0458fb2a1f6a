"""Partitions in the store, on SQLite and PostgreSQL: racing runs of one partition get one
active run; racing adds of dynamic keys report each new key once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from baton.engine import partitions
from baton.engine.service import Engine
from baton.errors import ConflictError
from baton.model.partitions import static
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store

RACERS = 8


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """`fn(i)` in `n` threads released at once: each one's result or exception."""
    start = threading.Barrier(n)
    out: list[Any] = [None] * n

    def one(i: int) -> None:
        start.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # what the test looks at
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_racing_runs_of_one_partition_get_one(url: str) -> None:
    stores = [Store(url) for _ in range(RACERS)]
    try:
        spec = FlowSpec(
            name="f",
            tasks=(TaskSpec(key="a", type="python", config={"function": "m:a"}),),
            partitions=static(["eu", "us"]),
        )
        version = Engine(stores[0]).register(spec)
        results = race(RACERS, lambda i: Engine(stores[i]).create_run(version, {}, partition="eu"))
        made = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, ConflictError)]
        assert len(made) == 1, results
        assert len(refused) == RACERS - 1, results
        runs = stores[0].read().runs(flow="f", limit=50)
        assert [(r.id, r.partition) for r in runs] == [(made[0], "eu")]
    finally:
        for s in stores:
            s.close()


def test_racing_adds_of_dynamic_keys_report_each_new_key_once(url: str) -> None:
    stores = [Store(url) for _ in range(RACERS)]
    try:
        keys = [f"c{i:03}" for i in range(40)]
        results = race(
            RACERS, lambda i: partitions.add(stores[i], "customers", keys[i * 3 :], 1.0 + i)
        )
        added = [k for r in results for k in r]
        assert sorted(added) == keys  # each once, none lost
        assert sorted(stores[0].read().dynamic_partition_keys("customers")) == keys
    finally:
        for s in stores:
            s.close()
