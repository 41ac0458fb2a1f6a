"""Waiting clients: `baton run --wait`, `runs show --wait`, `worker`, `server` and
`scheduler` across a database that goes away (`--wait-for-db SECONDS`, exit 3).

A connection is dropped for real: its backend is terminated (`pg_terminate_backend`), or the
client reaches PostgreSQL through a TCP proxy (`proxy`) the test stops and starts again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

# A task that says it started, then waits for a file `go` (`fail` in it: it fails).
HELD = """
import os, time
from baton import flow, task

@task
def hold() -> str:
    open({started!r}, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists({go!r}) and time.monotonic() < deadline:
        time.sleep(0.05)
    if open({go!r}).read() == "fail":
        raise RuntimeError("told to fail")
    return "done"

@flow
def held():
    hold()
"""


@pytest.fixture
def cluster(baton: Any, pg_url: str, write: Any, workdir: Path) -> Any:
    baton.env["BATON_DATABASE_URL"] = pg_url
    write("held.py", HELD.format(started=str(workdir / "started"), go=str(workdir / "go")))
    return baton


def start(baton: Any, *args: str, url: str) -> subprocess.Popen[str]:
    """`baton ARGS` in the background with BATON_DATABASE_URL=`url`."""
    saved = baton.env["BATON_DATABASE_URL"]
    baton.env["BATON_DATABASE_URL"] = url
    try:
        proc: subprocess.Popen[str] = baton.start(*args)
    finally:
        baton.env["BATON_DATABASE_URL"] = saved
    return proc


def terminate(sql: Any, url: str, app: str) -> None:
    """Cut the connections of clients whose application_name is `app`."""
    rows = sql(
        url,
        (
            "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
            "WHERE application_name = ? AND pid <> pg_backend_pid()",
            (app,),
        ),
    )
    assert rows and all(r["ok"] for r in rows)


def assert_one_line_each(lines: list[str], prefix: str) -> None:
    """Every line is one whole message of `prefix` or the final `error:`: no traceback, no
    continuation lines (psycopg's messages span lines)."""
    for line in lines:
        assert line.startswith((prefix, "error: ")), f"not a line of its own: {line!r}"
    assert "Traceback" not in "\n".join(lines)


def test_run_wait_survives_a_dropped_connection(cluster, workdir: Path, h, sql):
    url = cluster.env["BATON_DATABASE_URL"]
    app = url.rpartition("application_name=")[2]
    cluster.start("worker")
    client = start(cluster, "run", "held.py", "--wait", "--json", url=f"{url}_client")
    h.wait_until((workdir / "started").exists, what="the task to start")
    terminate(sql, url, f"{app}_client")
    (workdir / "go").write_text("ok")
    out, err = client.communicate(timeout=60)
    assert client.returncode == 0, err
    assert json.loads(out)["state"] == "succeeded"
    lines = err.splitlines()
    assert any("lost the connection" in line for line in lines), err
    assert_one_line_each(lines, "baton run: ")


def test_runs_show_wait_survives_a_dropped_connection_and_exits_1_on_failure(
    cluster, workdir: Path, h, sql
):
    url = cluster.env["BATON_DATABASE_URL"]
    app = url.rpartition("application_name=")[2]
    run_id = cluster.run("held.py")["id"]  # only created: the worker runs it
    cluster.start("worker")
    client = start(cluster, "runs", "show", run_id, "--wait", "--json", url=f"{url}_client")
    h.wait_until((workdir / "started").exists, what="the task to start")
    # Past opening its store (whose queries name no run table): the connection it then loses
    # is the one it follows the run on. Terminated while opening, it waits that out too, but
    # says "cannot connect" instead.
    h.wait_until(
        lambda: sql(
            url,
            "SELECT 1 FROM pg_stat_activity "
            f"WHERE application_name = '{app}_client' AND query LIKE '%runs%'",
        ),
        what="the client to follow the run",
    )
    terminate(sql, url, f"{app}_client")
    (workdir / "go").write_text("fail")
    out, err = client.communicate(timeout=60)
    assert client.returncode == 1, err  # the run failed: 1, as `baton run --wait` says it
    done = json.loads(out)
    assert (done["id"], done["state"]) == (run_id, "failed")
    assert any("lost the connection" in line for line in err.splitlines()), err
    assert_one_line_each(err.splitlines(), "baton runs show: ")


def test_run_wait_waits_out_an_outage_of_a_few_seconds(cluster, workdir: Path, h, proxy):
    url = cluster.env["BATON_DATABASE_URL"]
    cluster.start("worker")  # straight to the database: only the client loses it
    proxy.start()
    client = start(cluster, "run", "held.py", "--wait", "--json", url=proxy.url(url))
    h.wait_until((workdir / "started").exists, what="the task to start")
    proxy.stop()
    (workdir / "go").write_text("ok")  # the run ends while the client cannot see it
    lines = h.stderr(client)
    h.wait_until(lambda: len(lines.lines) >= 3, what="the client to try a few times")
    proxy.start()
    out, _ = client.communicate(timeout=60)
    err = lines.finish()
    assert client.returncode == 0, err
    assert json.loads(out)["state"] == "succeeded"
    assert_one_line_each(err, "baton run: ")
    assert "cannot connect to" in "\n".join(err)


def test_run_wait_gives_up_after_wait_for_db_with_exit_3(cluster, workdir: Path, h, proxy, sql):
    url = cluster.env["BATON_DATABASE_URL"]
    cluster.start("worker")
    proxy.start()
    client = start(
        cluster, "run", "held.py", "--wait", "--json", "--wait-for-db", "3", url=proxy.url(url)
    )
    h.wait_until((workdir / "started").exists, what="the task to start")
    proxy.stop()
    cut = time.monotonic()
    out, err = client.communicate(timeout=60)
    waited = time.monotonic() - cut
    assert client.returncode == 3, err
    assert out == ""
    lines = err.splitlines()
    assert_one_line_each(lines, "baton run: ")
    assert len(lines) >= 3  # a line per try, then the error
    assert lines[-1].startswith("error: ") and "gave up after" in lines[-1], err
    assert "--wait-for-db 3" in lines[-1]
    assert 3 <= waited < 30
    # The run goes on without its follower: the worker ends it.
    (workdir / "go").write_text("ok")
    h.wait_until(
        lambda: sql(url, "SELECT state FROM runs")[0]["state"] == "succeeded",
        what="the run to end",
    )


@pytest.mark.parametrize("command", ["worker", "server"])
def test_start_waits_for_an_unreachable_database(cluster, h, proxy, command):
    url = cluster.env["BATON_DATABASE_URL"]
    proc = start(cluster, command, "--wait-for-db", "60", url=proxy.url(url))
    lines = h.stderr(proc)
    h.wait_until(lambda: len(lines.lines) >= 2, what=f"baton {command} to try twice")
    assert proc.poll() is None
    proxy.start()
    ready = "concurrency" if command == "worker" else "serving http://"
    h.wait_until(lambda: ready in lines.text(), what=f"baton {command} to start")
    if command == "worker":
        assert len(h.wait_until(lambda: cluster.json("workers"), what="the worker")) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    tries = lines.finish()[:2]
    for i, line in enumerate(tries, 1):
        assert line.startswith(f"baton {command}: cannot connect to postgresql://"), line
        assert f"try {i}, next in " in line


@pytest.mark.parametrize("command", ["worker", "server", "scheduler"])
def test_start_gives_up_after_wait_for_db_with_exit_3(cluster, proxy, command):
    url = cluster.env["BATON_DATABASE_URL"]
    began = time.monotonic()
    proc = cluster(
        command, "--wait-for-db", "2", env={"BATON_DATABASE_URL": proxy.url(url)}, check=3
    )
    assert time.monotonic() - began >= 2
    lines = proc.stderr.splitlines()
    assert_one_line_each(lines, f"baton {command}: ")
    *tries, last = lines
    assert len(tries) >= 2
    for i, line in enumerate(tries, 1):
        assert line.startswith(f"baton {command}: cannot connect to postgresql://"), line
        assert f"try {i}, next in " in line
    assert last.startswith("error: cannot connect to postgresql://")
    assert last.endswith("gave up after 2s (--wait-for-db 2)")


def test_wait_for_db_rejects_a_bad_value(cluster):
    err = cluster("worker", "--wait-for-db", "soon", check=2).stderr
    assert "--wait-for-db" in err and "expected a number of seconds, got 'soon'" in err
    err = cluster("run", "held.py", "--wait-for-db", "-1", check=2).stderr
    assert "expected a number of seconds >= 0, got -1" in err


def test_backfill_survives_a_dropped_connection(cluster, write, workdir: Path, h, sql):
    url = cluster.env["BATON_DATABASE_URL"]
    app = url.rpartition("application_name=")[2]
    started, go = workdir / "started", workdir / "go"
    write(
        "daily.yaml",
        f"""
        name: daily
        schedule: "@daily"
        tasks:
          - key: hold
            type: shell
            command: "touch {started}; while [ ! -f {go} ]; do sleep 0.05; done"
        """,
    )
    (workdir / "held.py").unlink()
    cluster("deploy", ".")
    cluster.start("worker")
    client = start(
        cluster,
        *("backfill", "daily", "--start", "2024-01-01", "--end", "2024-01-01", "--json"),
        url=f"{url}_client",
    )
    h.wait_until(started.exists, what="the task to start")
    terminate(sql, url, f"{app}_client")
    go.write_text("ok")
    out, err = client.communicate(timeout=60)
    assert client.returncode == 0, err
    assert [r["state"] for r in json.loads(out)] == ["succeeded"]
    assert any("lost the connection" in line for line in err.splitlines()), err
    assert_one_line_each(err.splitlines(), "baton backfill: ")
