"""Cached results shared by `baton worker` processes on PostgreSQL: an entry one worker
stored is a hit on another (with a BATON_HOME of its own, as on another machine), and two
runs computing one key at once both finish with one entry kept."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

FLOW = """
import os, time
from baton import flow, task

@task(cache=True)
def compute(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()

@task
def report(pid: int) -> int:
    return pid

@flow
def shared(seconds: float = 0.0):
    report(compute(seconds))
"""


@pytest.fixture
def cluster(baton: Any, pg_url: str) -> Any:
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_LEASE_SECONDS"] = "5"
    baton.env["BATON_HEARTBEAT_SECONDS"] = "0.3"
    return baton


def stop(*workers: Any) -> None:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(timeout=15) == 0


def results(sql: Any, url: str, key: str) -> dict[str, int]:
    rows = sql(url, ("SELECT run_id, result FROM task_runs WHERE task_key = ?", (key,)))
    return {r["run_id"]: json.loads(r["result"]) for r in rows}


def test_an_entry_one_worker_stored_is_a_hit_on_another(cluster, write, h, workdir: Path, sql):
    write("shared.py", FLOW)
    cluster("deploy", ".")
    w1 = cluster.start("worker", "--name", "w1")
    first = cluster.run("shared.py", "--wait")
    stop(w1)
    cluster.env["BATON_HOME"] = str(workdir / "elsewhere")  # another machine's home
    w2 = cluster.start("worker", "--name", "w2")
    second = cluster.run("shared.py", "--wait")
    stop(w2)

    compute = h.tasks(second)["compute"]
    assert (compute["state"], compute["attempts"], compute["cached"]) == ("succeeded", 0, True)
    assert compute["cached_from"] == {"run_id": first["id"], "attempt": 1}
    url = cluster.env["BATON_DATABASE_URL"]
    computed = results(sql, url, "compute")
    assert computed[second["id"]] == computed[first["id"]] == w1.pid  # w1 computed it
    assert results(sql, url, "report")[second["id"]] == w1.pid  # downstream got it on w2
    attempts = sql(url, ("SELECT count(*) AS n FROM attempts WHERE run_id = ?", (second["id"],)))
    assert attempts[0]["n"] == 1  # report's only


def test_two_runs_computing_one_key_at_once_keep_one_entry(cluster, write, h, sql):
    write("shared.py", FLOW)
    cluster("deploy", ".")
    workers = [cluster.start("worker", "--concurrency", "1") for _ in range(2)]
    h.wait_until(lambda: len(cluster.json("workers")) == 2, what="both workers to register")
    runs = [cluster.run("shared.py", "-p", "seconds=1.5")["id"] for _ in range(2)]
    for run_id in runs:
        h.wait_until(
            lambda run_id=run_id: cluster.json("runs", "show", run_id)["state"] == "succeeded",
            what="both runs to succeed",
        )
    url = cluster.env["BATON_DATABASE_URL"]
    (entry,) = sql(url, "SELECT key, run_id, result FROM cache_entries")
    computed = results(sql, url, "compute")
    assert entry["run_id"] in runs
    assert json.loads(entry["result"]) == computed[entry["run_id"]]
    # Both may have computed it (each then has its own result); the entry is one of them,
    # and every later run reads that one.
    third = cluster.run("shared.py", "-p", "seconds=1.5", "--wait")
    assert h.tasks(third)["compute"]["cached_from"]["run_id"] == entry["run_id"]
    assert results(sql, url, "report")[third["id"]] == json.loads(entry["result"])
    stop(*workers)
