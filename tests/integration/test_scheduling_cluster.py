"""Scheduling on PostgreSQL with real processes: two schedulers never double-fire, event
triggers chain flows through workers, and a backfill waits for the cluster's workers."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

# A scheduler with a fake clock, stepping through the same 48 hours as any other copy of
# it: both tick on every due date, without the lock, so only the store keeps them apart.
TICKER = """
import os, sys, time
from baton.engine.service import Engine
from baton.scheduling.scheduler import Scheduler
from baton.store.store import Store

url, start, go = sys.argv[1], float(sys.argv[2]), sys.argv[3]
now = [start]
engine = Engine(Store(url), clock=lambda: now[0])
scheduler = Scheduler(engine, clock=lambda: now[0])
deadline = time.monotonic() + 20
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.01)
for minutes in range(0, 48 * 60 + 1, 10):
    now[0] = start + minutes * 60
    scheduler.tick()
"""


@pytest.fixture
def cluster(baton: Any, pg_url: str) -> Any:
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_HEARTBEAT_SECONDS"] = "0.3"
    return baton


def test_two_schedulers_never_fire_a_logical_date_twice(cluster, write, workdir: Path, sql):
    write(
        "hourly.yaml",
        "name: hourly\nschedule: '@hourly'\ntasks: [{key: a, type: shell, command: 'true'}]\n",
    )
    cluster("deploy", ".")
    url = cluster.env["BATON_DATABASE_URL"]
    start = time.time() + 3600  # after the deploy: the first tick creates the latest hour
    write("ticker.py", TICKER)
    go = workdir / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "ticker.py", url, str(start), str(go)],
            cwd=workdir,
            env=cluster.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # both have connected; now they start together
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    rows = sql(url, "SELECT logical_date, count(*) AS n FROM runs GROUP BY logical_date")
    assert len(rows) == 49  # the latest complete hour at the start, then one each hour
    assert {r["n"] for r in rows} == {1}


def test_a_file_trigger_and_an_asset_trigger_chain_two_flows(cluster, write, h, workdir: Path):
    (workdir / "landing").mkdir()
    write(
        "ingest.yaml",
        """
        name: ingest
        triggers: [{file: "landing/*.csv"}]
        tasks:
          - key: load
            type: shell
            command: "cp {{ trigger.path }} loaded.csv"
            outputs: [raw.orders]
        """,
    )
    write(
        "report.yaml",
        """
        name: report
        triggers: [{asset: raw.orders}]
        tasks:
          - key: report
            type: shell
            command: "echo {{ trigger.flow }} {{ trigger.run_id }} >> reported.txt"
        """,
    )
    cluster("deploy", ".")
    scheduler = cluster.start("scheduler")
    worker = cluster.start("worker")
    (workdir / "landing" / "orders.csv").write_text("id\n1\n")
    reported = h.wait_until(
        lambda: (workdir / "reported.txt").exists() and (workdir / "reported.txt").read_text(),
        timeout=20,
        what="the file to trigger ingest, and its asset to trigger report",
    )
    (ingest,) = cluster.json("runs", "list", "--flow", "ingest")
    assert reported == f"ingest {ingest['id']}\n"
    shown = cluster.json("runs", "show", ingest["id"])
    assert shown["trigger"] == "file"
    assert shown["trigger_info"]["path"] == str(workdir / "landing" / "orders.csv")
    assert (workdir / "loaded.csv").read_text() == "id\n1\n"
    for p in (scheduler, worker):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    assert len(cluster.json("runs", "list", "--flow", "ingest")) == 1  # fired once


def test_a_backfill_on_a_cluster_is_run_by_its_workers(cluster, write, workdir: Path):
    write(
        "daily.yaml",
        textwrap.dedent(
            """
            name: daily
            schedule: "@daily"
            tasks: [{key: a, type: shell, command: "echo {{ ds }} >> days.txt"}]
            """
        ),
    )
    cluster("deploy", ".")
    worker = cluster.start("worker")
    runs = cluster.json(
        "backfill", "daily", "--start", "2024-02-27", "--end", "2024-03-01", "--max-parallel", "2"
    )
    assert [r["state"] for r in runs] == ["succeeded"] * 4
    assert sorted((workdir / "days.txt").read_text().split()) == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
