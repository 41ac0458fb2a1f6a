"""Fencing: a worker's task processes never go on once its claim on them is gone.

Workers run in UTS namespaces of their own (`unshare --uts`, another hostname each), as if
on other machines: the server cannot see their processes, so only the lease can tell that a
worker is gone (a dead pid on the server's own host would be found lost at once). Each
attempt of the task writes `start N` to a file, sleeps, then writes `effect N`: the first
attempt's side effect must never happen once the lease that covered it is gone.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")

SIDE = """
name: side
tasks:
  - key: effect
    type: shell
    retries: 1
    command: >-
      echo $$ > pid.$BATON_ATTEMPT; echo start $BATON_ATTEMPT >> events;
      sleep {sleep}; echo effect $BATON_ATTEMPT >> events
"""


@pytest.fixture
def cluster(baton: Any, pg_url: str) -> Any:
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_HEARTBEAT_SECONDS"] = "0.3"
    return baton


def elsewhere(baton: Any, host: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """`baton ARGS` in a UTS namespace of its own, named `host` (killed at the test's end)."""
    proc = subprocess.Popen(
        ["unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$0" "$@"', BATON, *args],
        cwd=baton.cwd,
        env={**baton.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    baton.procs.append(proc)
    return proc


def attempts(sql: Any, url: str) -> list[Any]:
    return sql(
        url,
        "SELECT a.number, a.state, a.error_kind, a.lease_expires_at, w.host FROM attempts a "
        "JOIN workers w ON w.id = a.worker_id ORDER BY a.number",
    )


def gone_at(h: Any, pid: int, timeout: float) -> float:
    """When (UNIX time) process `pid` is gone; fails after `timeout` seconds."""
    h.wait_until(lambda: not h.pid_alive(pid), timeout=timeout, what=f"process {pid} to end")
    return time.time()


def test_a_killed_workers_task_dies_with_it(cluster, write, h, workdir: Path, sql):
    cluster.env["BATON_LEASE_SECONDS"] = "3"
    write("side.yaml", SIDE.format(sleep=8))
    cluster("deploy", ".")
    server = cluster.start("server")
    first = elsewhere(cluster, "host-a", "worker", "--name", "wa")
    run = cluster.run("side.yaml")
    h.wait_until(lambda: h.lines(workdir / "events") == ["start 1"], what="the task to start")
    pid = int((workdir / "pid.1").read_text())
    first.send_signal(signal.SIGKILL)
    killed = time.time()
    first.wait(timeout=10)
    died = gone_at(h, pid, timeout=5)  # its watchdog kills its task's process group
    elsewhere(cluster, "host-b", "worker", "--name", "wb")
    done = h.wait_until(
        lambda: (r := cluster.json("runs", "show", run["id"]))["state"] != "running" and r,
        what="the lease to expire and the retry to run",
    )
    assert done["state"] == "succeeded"
    rows = attempts(sql, cluster.env["BATON_DATABASE_URL"])
    assert [(a["number"], a["state"], a["error_kind"], a["host"]) for a in rows] == [
        (1, "failed", "lost", "host-a"),
        (2, "succeeded", None, "host-b"),
    ]
    # The first attempt would have slept 8 s: its effect would come after the retry's.
    assert h.lines(workdir / "events") == ["start 1", "start 2", "effect 2"]
    print(f"killed worker -> its task's process gone: {died - killed:.3f}s")
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0


def test_a_worker_cut_off_from_its_store_stops_its_task_before_its_lease_ends(
    cluster, write, h, workdir: Path, sql, proxy, pg_url: str
):
    lease = 4.0
    cluster.env["BATON_LEASE_SECONDS"] = str(lease)
    write("side.yaml", SIDE.format(sleep=12))
    cluster("deploy", ".")
    server = cluster.start("server")
    proxy.start()
    cut = elsewhere(
        cluster,
        "host-a",
        "worker",
        "--name",
        "wa",
        env={"BATON_DATABASE_URL": proxy.url(pg_url)},
    )
    run = cluster.run("side.yaml")
    h.wait_until(lambda: h.lines(workdir / "events") == ["start 1"], what="the task to start")
    pid = int((workdir / "pid.1").read_text())
    proxy.stop()  # every connection of the worker cut; new ones refused
    stopped = time.time()
    died = gone_at(h, pid, timeout=lease * 3)
    url = cluster.env["BATON_DATABASE_URL"]
    lost = h.wait_until(
        lambda: (a := attempts(sql, url)) and a[0]["state"] == "failed" and a[0],
        what="the server to find the first attempt lost",
    )
    assert lost["error_kind"] == "lost"
    # Killed before its lease ran out: no other worker could have started it yet.
    assert died < lost["lease_expires_at"]
    elsewhere(cluster, "host-b", "worker", "--name", "wb")
    done = h.wait_until(
        lambda: (r := cluster.json("runs", "show", run["id"]))["state"] != "running" and r,
        what="the retry to run",
    )
    assert done["state"] == "succeeded"
    assert h.lines(workdir / "events") == ["start 1", "start 2", "effect 2"]
    print(
        f"store cut -> task killed: {died - stopped:.3f}s; "
        f"killed {lost['lease_expires_at'] - died:.3f}s before its lease ended"
    )
    assert cut.poll() is None  # the worker itself waits for its store to come back
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
