"""Cluster mode: `baton deploy`, `baton server` and `baton worker` processes on PostgreSQL.

Every test has a PostgreSQL schema of its own (`pg_url`) and real processes; short leases
(BATON_LEASE_SECONDS) make a dead worker's attempt expire within a few seconds.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton.execution.log_times import line_starts, line_times

pytestmark = pytest.mark.postgres

LEASE = 2.0

CHAIN = """
import os, time
from baton import flow, task

@task
def first() -> int:
    return 1

@task
def second(first: int) -> int:
    return first + 1

@task
def third(second: int) -> int:
    return second + 1

@flow
def chain():
    third(second(first()))
"""


@pytest.fixture
def cluster(baton: Any, pg_url: str) -> Any:
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_LEASE_SECONDS"] = str(LEASE)
    baton.env["BATON_HEARTBEAT_SECONDS"] = "0.3"
    return baton


def test_deploy_then_a_worker_runs_what_run_creates(cluster, write, h, workdir: Path):
    write("chain.py", CHAIN)
    deployed = cluster.json("deploy", ".")
    assert [(d["flow"], d["source"], d["changed"]) for d in deployed] == [
        ("chain", "chain.py", True)
    ]
    assert cluster.json("deploy", ".")[0]["changed"] is False  # same definition, same version

    created = cluster.run("chain.py")  # a cluster store: the run is only created
    assert created["state"] == "queued"
    worker = cluster.start("worker", "--name", "w1", "--concurrency", "4")
    done = h.wait_until(
        lambda: (r := cluster.json("runs", "show", created["id"]))["state"] == "succeeded" and r,
        what="the worker to run the flow",
    )
    assert h.states(done) == {"first": "succeeded", "second": "succeeded", "third": "succeeded"}

    waited = cluster.run("chain.py", "--wait")  # and --wait follows a run to its end
    assert waited["state"] == "succeeded"

    workers = cluster.json("workers")
    assert [(w["name"], w["queues"], w["concurrency"]) for w in workers] == [("w1", ["default"], 4)]
    assert workers[0]["host"] and workers[0]["heartbeat_at"]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    assert cluster.json("workers") == []
    assert cluster.json("workers", "--all")[0]["stopped_at"] is not None


SLOW_ONCE = """
import os, time
from baton import flow, task

@task(retries=1)
def slow() -> str:
    if not os.path.exists("started"):
        with open("started", "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
    return "done"

@flow
def once():
    slow()
"""


def test_a_killed_workers_task_is_retried_on_another_worker(cluster, write, h, workdir: Path, sql):
    write("once.py", SLOW_ONCE)
    cluster("deploy", ".")
    server = cluster.start("server")
    w1 = cluster.start("worker", "--name", "w1")
    run = cluster.run("once.py")
    h.wait_until((workdir / "started").exists, what="the task to start")
    assert int((workdir / "started").read_text()) == w1.pid
    w2 = cluster.start("worker", "--name", "w2")
    w1.send_signal(signal.SIGKILL)
    w1.wait(timeout=10)

    done = h.wait_until(
        lambda: (
            (r := cluster.json("runs", "show", run["id"]))["state"] in ("succeeded", "failed") and r
        ),
        timeout=LEASE * 5,
        what="the lease to expire and the retry to run",
    )
    assert done["state"] == "succeeded"
    task = h.tasks(done)["slow"]
    assert task["attempts"] == 2
    attempts = sql(
        cluster.env["BATON_DATABASE_URL"],
        "SELECT a.number, a.state, a.error_kind, w.name FROM attempts a "
        "JOIN workers w ON w.id = a.worker_id ORDER BY a.number",
    )
    assert [(a["number"], a["state"], a["error_kind"], a["name"]) for a in attempts] == [
        (1, "failed", "lost", "w1"),
        (2, "succeeded", None, "w2"),
    ]
    for p in (server, w2):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0


SLEEPY = """
import time
from baton import flow, task

@task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds

@flow
def sleepy(seconds: float = 1.0):
    nap(seconds)
"""


def test_sigterm_lets_running_tasks_finish(cluster, write, h):
    write("sleepy.py", SLEEPY)
    worker = cluster.start("worker", "--grace", "20")
    run = cluster.run("sleepy.py", "-p", "seconds=1.0")
    h.wait_until(
        lambda: h.states(cluster.json("runs", "show", run["id"]))["nap"] == "running",
        what="nap to start",
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    done = cluster.json("runs", "show", run["id"])
    assert done["state"] == "succeeded"
    assert h.tasks(done)["nap"]["attempts"] == 1


def test_sigterm_hands_back_what_outlives_the_grace(cluster, write, h, sql):
    write("sleepy.py", SLEEPY)
    w1 = cluster.start("worker", "--name", "w1", "--grace", "0.5")
    run = cluster.run("sleepy.py", "-p", "seconds=3")
    h.wait_until(
        lambda: h.states(cluster.json("runs", "show", run["id"]))["nap"] == "running",
        what="nap to start",
    )
    w1.send_signal(signal.SIGTERM)
    assert w1.wait(timeout=10) == 0
    after = cluster.json("runs", "show", run["id"])
    assert h.states(after)["nap"] == "queued"  # handed back, not failed

    w2 = cluster.start("worker", "--name", "w2")
    done = h.wait_until(
        lambda: (r := cluster.json("runs", "show", run["id"]))["state"] == "succeeded" and r,
        what="another worker to finish it",
    )
    assert h.tasks(done)["nap"]["attempts"] == 2
    rows = sql(
        cluster.env["BATON_DATABASE_URL"], "SELECT state, error FROM attempts ORDER BY number"
    )
    assert [r["state"] for r in rows] == ["cancelled", "succeeded"]
    assert "handed back" in rows[0]["error"]
    w2.send_signal(signal.SIGTERM)
    w2.wait(timeout=10)


POOLED = """
import os, time
from baton import flow, task

@task(pool="db")
def query(i: int) -> int:
    with open(f"spans/{i}", "w") as f:
        f.write(f"{time.time()}\\n")
        time.sleep(0.3)
        f.write(f"{time.time()}\\n")
    return i

@flow
def pooled():
    for i in range(10):
        query(i)
"""


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = most = 0
    for _, d in edges:
        now += d
        most = max(most, now)
    return most


def test_a_pool_caps_tasks_across_all_workers(cluster, write, h, workdir: Path):
    write("pooled.py", POOLED)
    (workdir / "spans").mkdir()
    cluster("pools", "set", "db", "--slots", "2")
    workers = [cluster.start("worker", "--concurrency", "4") for _ in range(2)]
    done = cluster.run("pooled.py", "--wait")
    assert done["state"] == "succeeded", done
    spans = []
    for f in (workdir / "spans").iterdir():
        start, end = f.read_text().split()
        spans.append((float(start), float(end)))
    assert len(spans) == 10
    assert _most_at_once(spans) == 2  # never more than the pool's slots, and it filled them
    pools = cluster.json("pools", "list")
    assert pools == [{"name": "db", "slots": 2, "running": 0, "description": None}]
    for w in workers:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=10)


def test_two_servers_do_not_double_fire_retries(cluster, write, h, workdir: Path):
    write(
        "flaky.py",
        """
        import os
        from baton import flow, task

        @task(retries=3, retry_delay=0.3)
        def flaky() -> int:
            n = len(os.listdir("tries"))
            open(f"tries/{n}", "w").close()
            if n < 2:
                raise RuntimeError(f"try {n} fails")
            return n

        @flow
        def retried():
            flaky()
        """,
    )
    (workdir / "tries").mkdir()
    servers = [cluster.start("server") for _ in range(2)]
    worker = cluster.start("worker")
    done = cluster.run("flaky.py", "--wait")
    assert done["state"] == "succeeded"
    assert h.tasks(done)["flaky"]["attempts"] == 3
    assert len(list((workdir / "tries").iterdir())) == 3
    for p in [*servers, worker]:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
        assert "Traceback" not in p.stderr.read()  # type: ignore[union-attr]


def test_workers_ride_out_a_database_outage(cluster, write, h, workdir: Path, sql):
    write(
        "long.py",
        """
        import time
        from baton import flow, task

        @task
        def step(prev: int | None = None) -> int:
            with open("ran", "a") as f:
                f.write(f"{(prev or 0) + 1}\\n")
            time.sleep(0.05)
            return (prev or 0) + 1

        @flow
        def long():
            prev = None
            for i in range(40):
                prev = step(prev)
        """,
    )
    url = cluster.env["BATON_DATABASE_URL"]
    app = url.rpartition("application_name=")[2]
    # Each step must run once: a lease that outlives a reconnect on a loaded machine (a
    # longer outage would expire it, and the step would run again: at-least-once).
    cluster.env["BATON_LEASE_SECONDS"] = "8"
    workers = [cluster.start("worker") for _ in range(2)]
    server = cluster.start("server")
    run = cluster.run("long.py")
    killed = 0
    for _ in range(3):  # cut every baton connection three times while the chain runs
        h.wait_until(
            lambda n=killed: (
                sum(
                    t["state"] == "succeeded"
                    for t in cluster.json("runs", "show", run["id"])["tasks"]
                )
                > 8 * (n + 1)
            ),
            what="progress between outages",
        )
        rows = sql(
            url,
            (
                "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
                "WHERE application_name = ? AND pid <> pg_backend_pid()",
                (app,),
            ),
        )
        assert rows and all(r["ok"] for r in rows)
    done = h.wait_until(
        lambda: (
            (r := cluster.json("runs", "show", run["id"]))["state"] != "running"
            and r["state"] != "queued"
            and r
        ),
        timeout=60,  # a step claimed as a connection died waits out its lease (8 s)
        what="the run to end",
    )
    assert done["state"] == "succeeded"
    # Each step ran once. An attempt may have been claimed in a transaction whose commit
    # went through while the connection died: it never ran, its lease expired, and it
    # was retried (at-least-once, DESIGN section 6).
    assert h.lines(workdir / "ran") == [str(i) for i in range(1, 41)]
    retried = sql(url, "SELECT task_run_id, error_kind FROM attempts WHERE state != 'succeeded'")
    assert {r["error_kind"] for r in retried} <= {"lost"}
    events = sql(
        url,
        "SELECT task_run_id, to_state, count(*) AS n FROM state_events "
        "WHERE task_run_id IS NOT NULL GROUP BY task_run_id, to_state HAVING count(*) > 1",
    )
    # No state recorded twice, but by a task run retried as lost: it was queued and its
    # attempt started again, rightly.
    again = {r["task_run_id"] for r in retried}
    assert [e for e in events if e["task_run_id"] not in again] == []
    for p in [*workers, server]:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    assert "database error" in "".join(p.stderr.read() for p in workers)  # type: ignore[union-attr]


def test_bad_cluster_input_is_exit_2(cluster, write):
    assert "no such file or folder" in cluster("deploy", "nowhere", check=2).stderr
    assert "no pool 'x'" in cluster("pools", "delete", "x", check=2).stderr
    assert "--slots" in cluster("pools", "set", "x", "--slots", "-1", check=2).stderr
    assert "no such folder" in cluster("worker", "--path", "nowhere", check=2).stderr
    env = {"BATON_LEASE_SECONDS": "soon"}
    assert "BATON_LEASE_SECONDS" in cluster("workers", env=env, check=2).stderr
    write("a.py", CHAIN)
    write("b.py", CHAIN)
    err = cluster("deploy", ".", check=2).stderr
    assert "flow 'chain' is defined twice" in err
    assert json.loads(cluster("workers", "--json").stdout) == []


def test_deploy_refuses_triggers_naming_unknown_flows_or_assets(cluster, write, sql):
    write(
        "producer.yaml",
        """
        name: producer
        tasks:
          - {key: load, type: shell, command: "true", outputs: [warehouse.events]}
        """,
    )
    write(
        "consumer.yaml",
        """
        name: consumer
        triggers:
          - {asset: warehouse.users}
        tasks:
          - {key: use, type: shell, command: "true"}
        """,
    )
    err = cluster("deploy", ".", check=2).stderr
    assert "consumer.yaml" in err and "flow 'consumer'" in err
    assert "asset 'warehouse.users'" in err and "warehouse.events" in err
    assert sql(cluster.env["BATON_DATABASE_URL"], "SELECT name FROM flows") == []  # all or none
    write(
        "consumer.yaml",
        """
        name: consumer
        triggers:
          - {flow: ingest, states: [succeeded]}
        tasks:
          - {key: use, type: shell, command: "true"}
        """,
    )
    err = cluster("deploy", ".", check=2).stderr
    assert "flow 'ingest', which is not deployed" in err
    write(
        "consumer.yaml",
        """
        name: consumer
        triggers:
          - {flow: producer, states: [succeeded]}
          - {assets: [warehouse.events]}
        tasks:
          - {key: use, type: shell, command: "true"}
        """,
    )
    assert sorted(d["flow"] for d in cluster.json("deploy", ".")) == ["consumer", "producer"]


TALK = """
import os, time
from baton import flow, task

@task
def talk() -> int:
    key = os.environ["BATON_SECRET_API_KEY"]
    for i in (1, 2, 3):
        print(f"line {i}: naïve ✓ key={key}")
        for _ in range(3000):  # until the test has seen the line (at most 30 s)
            if os.path.exists(f"go{i}"):
                break
            time.sleep(0.01)
    return 3

@flow
def talkative():
    talk()
"""
SECRET = "sk-5f4e3d2c1b0a"


def start_at(cluster: Any, home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """`baton ARGS` with a BATON_HOME of its own: another machine, as far as logs go."""
    saved = dict(cluster.env)
    cluster.env.update(BATON_HOME=str(home), **env)
    try:
        proc: subprocess.Popen[str] = cluster.start(*args)
        return proc
    finally:
        cluster.env.clear()
        cluster.env.update(saved)


def test_logs_are_shipped_to_the_store_for_the_cli_and_api_elsewhere(
    cluster, write, h, workdir: Path, sql
):
    write("talk.py", TALK)
    worker = start_at(cluster, workdir / "worker-home", "worker", BATON_SECRET_API_KEY=SECRET)
    server = start_at(cluster, workdir / "server-home", "server", "--no-worker", "--port", "0")
    found = re.search(r"serving (http://\S+)/ ", server.stderr.readline())  # type: ignore[union-attr]
    assert found
    token = cluster("tokens", "create", "--user", "v", "--role", "viewer").stdout.strip()
    run_id = cluster.run("talk.py")["id"]  # a cluster store: the worker runs it
    page_url = f"{found.group(1)}/api/v1/runs/{run_id}/logs/talk"
    auth = {"Authorization": f"Bearer {token}"}

    def cli() -> str:
        return cluster("logs", run_id, "talk").stdout

    line = "line {}: naïve ✓ key=***\n"  # masked by the worker, before the log reached a file
    for i in (1, 2, 3):  # each line shows while the task runs, before it prints the next
        shown = h.wait_until(lambda i=i: line.format(i) in (out := cli()) and out, what=f"line {i}")
        assert shown == "=== talk attempt 1 ===\n" + "".join(
            line.format(n) for n in range(1, i + 1)
        )
        page = httpx.get(page_url, headers=auth).json()
        assert page["text"] == shown.partition("\n")[2] and page["complete"] is False
        (workdir / f"go{i}").touch()
    h.wait_until(
        lambda: cluster.json("runs", "show", run_id)["state"] == "succeeded", what="the run"
    )
    whole = "".join(line.format(i) for i in (1, 2, 3))
    assert cli() == f"=== talk attempt 1 ===\n{whole}"
    remote = cluster("logs", run_id, "talk", "--server", found.group(1), "--token", token).stdout
    assert remote == cli()
    page = httpx.get(page_url, headers=auth).json()
    assert (page["text"], page["next_offset"], page["complete"]) == (
        whole,
        len(whole.encode()),
        True,
    )
    # Each line's time went to the store with it: the server, which has no file, has them.
    stamps = httpx.get(page_url, headers=auth, params={"times": "true"}).json()["times"]
    path = workdir / "worker-home" / "logs" / run_id / "talk" / "1.log"
    starts = line_starts(0, path.read_bytes())
    assert stamps == line_times(str(path), starts) and None not in stamps
    assert stamps[0] < stamps[1] < stamps[2]  # printed after go1, then go2: apart
    with httpx.stream("GET", f"{page_url}/stream", headers=auth) as r:
        body = r.read().decode()
    assert body.endswith(
        f'event: end\ndata: {{"next_offset": {len(whole.encode())}, "complete": true}}\n\n'
    )
    data = [ln[len("data: ") :] for ln in body.splitlines() if ln.startswith("data: ")][:-1]
    assert "\n".join(data) == whole  # one event: the whole log, line by line
    # Only the worker's machine has the file; the store has the same text, never the secret.
    stored = "".join(
        r["data"]
        for r in sql(
            cluster.env["BATON_DATABASE_URL"], 'SELECT data FROM log_chunks ORDER BY "offset"'
        )
    )
    assert stored == whole and SECRET not in stored
    assert (workdir / "worker-home" / "logs" / run_id / "talk" / "1.log").read_text() == whole
    assert not (workdir / ".baton" / "logs").exists()
    assert not (workdir / "server-home" / "logs").exists()
    for p in (worker, server):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0


def test_a_waiting_attempt_resumed_on_another_machine_keeps_one_log(
    cluster, write, h, workdir: Path
):
    write(
        "waits.yaml",
        """
        name: waits
        tasks:
          - {key: wait, type: sensor, python: "checks:ready", poke_interval: 0.2}
        """,
    )
    write(
        "checks.py",
        """
        import os

        def ready():
            print(f"check by {os.path.basename(os.environ['BATON_HOME'])}")
            return os.path.exists("ready")
        """,
    )
    server = cluster.start("server", "--no-worker")  # wakes the sensor for its next check
    w1 = start_at(cluster, workdir / "w1", "worker")
    run_id = cluster.run("waits.yaml")["id"]

    def log() -> list[str]:
        return cluster("logs", run_id, "wait").stdout.splitlines()[1:]

    h.wait_until(lambda: log().count("check by w1") >= 2, what="checks on w1")
    w1.send_signal(signal.SIGTERM)
    assert w1.wait(timeout=10) == 0
    w2 = start_at(cluster, workdir / "w2", "worker")
    h.wait_until(lambda: "check by w2" in log(), what="a check on w2")
    (workdir / "ready").touch()
    h.wait_until(lambda: cluster.json("runs", "show", run_id)["state"] == "succeeded", what="end")
    lines = log()  # each check: what checks.py printed, then the sensor's line (or its end)
    checks = lines[0::2]
    on_w1 = checks.count("check by w1")
    assert on_w1 >= 2 and checks == ["check by w1"] * on_w1 + ["check by w2"] * (
        len(checks) - on_w1
    )
    assert lines[1::2] == [
        *(f"check {n}: not yet; next in 0.2s" for n in range(1, len(checks))),
        f"condition met after {len(checks)} check(s): True",
    ]
    # w2's file got the checks made on w1 before its own: it holds the whole log too.
    assert (workdir / "w2" / "logs" / run_id / "wait" / "1.log").read_text().splitlines() == lines
    # w1's file ends where the attempt left w1: read there, the log comes whole from the store.
    there = cluster("logs", run_id, "wait", env={"BATON_HOME": str(workdir / "w1")}).stdout
    assert there.splitlines()[1:] == lines
    for p in (w2, server):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
