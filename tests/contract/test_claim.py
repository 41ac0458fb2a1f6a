"""Claiming under concurrency: every backend hands each task run to exactly one claimer."""

from __future__ import annotations

import os
import threading

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
