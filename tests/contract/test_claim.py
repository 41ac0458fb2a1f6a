"""Claiming under concurrency: every backend hands each task run to exactly one claimer."""

from __future__ import annotations

import os
import threading

from baton.model.resources import NONE, Resources, need_fields
from baton.store.store import Store
from store_rows import run_row


def test_concurrent_claimers_never_share_a_task_run_and_take_them_all(url: str) -> None:
    tasks, claimers = 300, 3
    setup = Store(url)
    with setup.transaction() as tx:
        tx.insert_run(run_row("r1", state="running", unfinished=tasks, created_at=1.0))
        tx.insert_task_runs(
            [
                {
                    "run_id": "r1",
                    "task_key": f"t{i}",
                    "map_index": -1,
                    "state": "queued",
                    "queue": "default",
                    "pool": None,
                    "priority": i % 3,
                    "up_total": 0,
                    "ready_at": 1.0,
                }
                for i in range(tasks)
            ],
            1.0,
        )
    start = threading.Barrier(claimers)
    claimed: list[list[int]] = [[] for _ in range(claimers)]
    errors: list[BaseException] = []

    def claim_until_empty(i: int) -> None:
        try:
            store = Store(url)  # a connection of its own
            start.wait()
            while True:
                with store.transaction() as tx:
                    got = tx.claim(
                        worker_id=f"w{i}",
                        queues=["default"],
                        limit=7,
                        run_ids=None,
                        now=2.0,
                        lease_until=30.0,
                        new_id=(os.urandom(8).hex() for _ in iter(int, 1)),
                    )
                if not got:
                    break
                claimed[i] += [c.task_run_id for c in got]
            store.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=claim_until_empty, args=(i,)) for i in range(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    every = [task_run_id for c in claimed for task_run_id in c]
    assert len(every) == len(set(every)) == tasks
    read = setup.read()
    assert {r.state for r in read.task_runs("r1")} == {"running"}
    attempts = read.attempts("r1")
    assert len(attempts) == tasks
    assert len({a.task_run_id for a in attempts}) == tasks
    setup.close()


def _needing(run_id: str, needs: list[tuple[float, int, int]], priority: int = 0) -> list[dict]:
    return [
        {
            "run_id": run_id,
            "task_key": f"t{i}",
            "map_index": -1,
            "state": "queued",
            "queue": "default",
            "pool": None,
            "priority": priority - i,  # claim order: t0 first
            "up_total": 0,
            "ready_at": 1.0,
            **need_fields(Resources(cpu, memory, gpu)),
        }
        for i, (cpu, memory, gpu) in enumerate(needs)
    ]


def test_a_claim_takes_only_what_fits_the_free_capacity_together(url: str) -> None:
    store = Store(url)
    gib = 2**30
    with store.transaction() as tx:
        tx.insert_run(run_row("r1", state="running", unfinished=6, created_at=1.0))
        tx.insert_task_runs(
            _needing(
                "r1",
                [
                    (4, 0, 0),  # t0: more cpu than free: never taken by this claim
                    (1.5, 2 * gib, 0),  # t1: fits
                    (0.2, 0, 1),  # t2: fits (a GPU of two)
                    (0.1, 0, 2),  # t3: alone it fits, after t2 only one GPU is left
                    (0.3, 7 * gib, 0),  # t4: fits alone; after t1 the memory is short
                    (0.0, 0, 0),  # t5: needs nothing in particular: always fits
                ],
            ),
            1.0,
        )
    ids = (os.urandom(8).hex() for _ in iter(int, 1))
    free = Resources(2.0, 8 * gib, 2)
    with store.transaction() as tx:
        got = tx.claim(
            worker_id="w",
            queues=["default"],
            limit=10,
            run_ids=None,
            now=2.0,
            lease_until=30.0,
            new_id=ids,
            free=free,
        )
    assert [c.task_key for c in got] == ["t1", "t2", "t5"]
    assert [c.needs for c in got] == [Resources(1.5, 2 * gib), Resources(0.2, 0, 1), NONE]
    with store.transaction() as tx:  # without a limit of resources (None): all the rest
        rest = tx.claim(
            worker_id="w",
            queues=["default"],
            limit=10,
            run_ids=None,
            now=2.0,
            lease_until=30.0,
            new_id=ids,
        )
    assert sorted(c.task_key for c in rest) == ["t0", "t3", "t4"]
    store.close()


def test_workers_record_their_capacity_and_what_their_tasks_use(url: str) -> None:
    store = Store(url)
    with store.transaction() as tx:
        tx.insert_run(run_row("r1", state="running", unfinished=2, created_at=1.0))
        tx.insert_task_runs(_needing("r1", [(1.5, 2**30, 1), (0.5, 0, 0)]), 1.0)
        for name, capacity in (
            ("old", None),
            ("gpus", Resources(8, 32 * 2**30, 2)),
            ("cpus", Resources(4, 2**30, 0)),
        ):
            tx.register_worker(
                {
                    "id": name,
                    "name": name,
                    "host": "h",
                    "pid": 1,
                    "queues": ["default"],
                    "concurrency": 4,
                    "started_at": 1.0,
                    "resources": capacity,
                }
            )
    with store.transaction() as tx:
        tx.claim(
            worker_id="gpus",
            queues=["default"],
            limit=10,
            run_ids=None,
            now=2.0,
            lease_until=30.0,
            new_id=(os.urandom(8).hex() for _ in iter(int, 1)),
        )
    workers = {w.name: w for w in store.read().workers()}
    assert workers["old"].capacity is None and workers["old"].used == NONE
    assert workers["gpus"].capacity == Resources(8, 32 * 2**30, 2)
    assert workers["gpus"].used == Resources(2.0, 2**30, 1)
    assert workers["cpus"].capacity == Resources(4, 2**30, 0)  # no GPU is 0, not unknown
    store.close()
