"""A lost attempt says why: a worker is SIGKILLed mid-task, its lease expires, `baton server`
fails the attempt as lost, and the CLI, the API and the attempt's log all tell which worker
stopped heartbeating, and when. While it ran, `baton workers` showed the task."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

LEASE = 2.0

SLOW = """
import os, time
from baton import flow, task

@task
def slow() -> str:
    print("started", flush=True)
    with open(os.path.join(os.environ["TEST_DIR"], "started"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
    return "done"

@flow
def lonely():
    slow()
"""

# The error of the lost attempt, and the line that closes its log.
ERROR = re.compile(
    r"lost: worker w1 stopped heartbeating at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z: "
    r"its worker stopped responding \(lease expired\)"
)


def start_at(baton: Any, home: Path | None, *args: str) -> subprocess.Popen[str]:
    """`baton ARGS`, with a BATON_HOME of its own when `home` is given (another machine)."""
    saved = dict(baton.env)
    if home is not None:
        baton.env["BATON_HOME"] = str(home)
    try:
        proc: subprocess.Popen[str] = baton.start(*args)
        return proc
    finally:
        baton.env.clear()
        baton.env.update(saved)


@pytest.mark.parametrize(
    "store",
    [
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("postgresql-elsewhere", marks=pytest.mark.postgres),
    ],
)
def test_a_lost_attempt_says_which_worker_stopped_and_when(
    store: str, baton: Any, write, h, sql, workdir: Path, request: pytest.FixtureRequest
):
    """sqlite: one machine, the log is a file; postgresql: the worker shares the server's
    BATON_HOME (its file gets the line, the store too); -elsewhere: the worker has a home of
    its own (another machine), so the server and CLI read the log from the store alone."""
    if store != "sqlite":
        baton.env["BATON_DATABASE_URL"] = request.getfixturevalue("pg_url")
    baton.env["BATON_LEASE_SECONDS"] = str(LEASE)
    baton.env["BATON_HEARTBEAT_SECONDS"] = "0.3"
    baton.env["TEST_DIR"] = str(workdir)
    write("lonely.py", SLOW)
    baton("deploy", ".")
    server = baton.start("server", "--no-worker", "--port", "0")
    found = re.search(r"serving (http://\S+)/ ", server.stderr.readline())  # type: ignore[union-attr]
    assert found, "the server did not say where it serves"
    home = workdir / "worker-home" if store == "postgresql-elsewhere" else None
    worker = start_at(baton, home, "worker", "--name", "w1")
    url = found.group(1)
    operator = baton("tokens", "create", "--user", "op", "--role", "operator").stdout.strip()
    auth = {"Authorization": f"Bearer {operator}"}
    created = httpx.post(f"{url}/api/v1/flows/lonely/runs", json={}, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    h.wait_until((workdir / "started").exists, what="the task to start")

    def logs() -> str:
        return str(baton("logs", run_id, "slow", "--attempt", "1").stdout)

    h.wait_until(lambda: "started" in logs(), what="the task's first line to reach its log")
    (listed,) = baton.json("workers")
    assert listed["name"] == "w1" and listed["running"] == 1
    assert [
        (t["run_id"], t["task_key"], t["map_index"], t["attempt"]) for t in listed["tasks"]
    ] == [(run_id, "slow", None, 1)]
    assert listed["tasks"][0]["started_at"]
    assert f"{run_id}/slow" in baton("workers").stdout  # the table shows it too

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    shown = h.wait_until(
        lambda: (
            (r := baton.json("runs", "show", run_id))["tasks"][0]["attempt_list"][0]["state"]
            != "running"
            and r
        ),
        timeout=LEASE * 10,
        what="the lease to expire and the server to fail the attempt as lost",
    )
    (task,) = shown["tasks"]
    # Lost is not the task's fault: it is queued again (one retry more than its policy),
    # for a worker that is not there.
    assert (task["state"], task["attempts"]) == ("queued", 1)
    (attempt,) = task["attempt_list"]
    assert (attempt["number"], attempt["state"], attempt["error_kind"], attempt["worker"]) == (
        1,
        "failed",
        "lost",
        "w1",
    )
    assert ERROR.fullmatch(attempt["error"]), attempt["error"]
    assert attempt["started_at"] and attempt["ended_at"]

    # The log ends with the reason: what the task printed, then the closing line.
    closing = f"baton: attempt 1 {attempt['error']}\n"
    assert logs() == f"=== slow attempt 1 ===\nstarted\n{closing}"
    if store != "sqlite":  # the store holds the same bytes, whoever shipped them
        stored = sql(
            baton.env["BATON_DATABASE_URL"], 'SELECT data FROM log_chunks ORDER BY "offset"'
        )
        assert "".join(r["data"] for r in stored) == f"started\n{closing}"
        if home is not None:  # the dead worker's machine: its file never got the line
            assert (home / "logs" / run_id / "slow" / "1.log").read_text() == "started\n"
        else:  # one machine: the file got the line too
            assert (workdir / ".baton" / "logs" / run_id / "slow" / "1.log").read_text() == (
                f"started\n{closing}"
            )

    detail = httpx.get(f"{url}/api/v1/runs/{run_id}", headers=auth, timeout=30).json()
    (api_attempt,) = detail["tasks"][0]["attempt_list"]
    assert {k: api_attempt[k] for k in attempt} == attempt  # the same list as the CLI's
    page = httpx.get(f"{url}/api/v1/runs/{run_id}/logs/slow", headers=auth, timeout=30).json()
    assert page["text"].endswith(f"baton: attempt 1 {attempt['error']}\n")
    assert page["complete"] is True
    (listed,) = baton.json("workers")  # nobody marked it stopped; it runs nothing now
    assert (listed["name"], listed["running"], listed["tasks"]) == ("w1", 0, [])
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
