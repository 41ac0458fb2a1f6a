"""`sensor` tasks: wait for a file, an HTTP status, a SQL row or a Python predicate, in state
`waiting`."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RECORD = """
import json

def save(value):
    with open("got.json", "w") as f:
        json.dump(value, f)

# Arguments bind to upstream tasks by name.
def record(data):
    save(data)

def record_api(api):
    save(api)

def record_ready(ready):
    save(ready)
"""

FILE_FLOW = """
name: sensing
tasks:
  - {key: data, type: sensor, file: "in/*.csv", poke_interval: 0.1, timeout: 20}
  - {key: record, type: python, function: "lib:record", depends_on: [data]}
"""


def waiting_run(baton, h, proc, key: str) -> str:
    """The id of the one run, once its task `key` is seen `waiting`."""
    rid = h.wait_until(
        lambda: baton.json("runs", "list") or proc.poll() is not None, what="the run"
    )
    assert proc.poll() is None, proc.communicate()
    rid = rid[0]["id"]
    h.wait_until(
        lambda: (
            h.states(baton.json("runs", "show", rid))[key] == "waiting" or proc.poll() is not None
        ),
        what=f"{key} to be waiting",
    )
    assert proc.poll() is None, proc.communicate()
    return rid


def finish(proc) -> dict:
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, (out, err)
    return json.loads(out)


def test_file_sensor_waits_then_passes_the_matched_paths(baton, write, h, workdir: Path):
    write("lib.py", RECORD)
    path = write("sensing.yaml", FILE_FLOW)
    (workdir / "in").mkdir()
    (workdir / "in" / "note.txt").touch()  # does not match the glob
    baton("runs", "list")  # creates the store before two processes use it at once
    proc = baton.start("run", path, "--json")
    rid = waiting_run(baton, h, proc, "data")
    assert h.states(baton.json("runs", "show", rid))["record"] == "pending"
    assert not (workdir / "got.json").exists()
    for name in ("b.csv", "a.csv"):
        (workdir / "in" / name).touch()
    run = finish(proc)
    assert run["id"] == rid
    assert h.states(run) == {"data": "succeeded", "record": "succeeded"}
    assert h.tasks(run)["data"]["attempts"] == 1, "a poke is not a new attempt"
    got = json.loads((workdir / "got.json").read_text())
    assert got == [str(workdir / "in" / "a.csv"), str(workdir / "in" / "b.csv")]
    log = baton("logs", rid, "data").stdout
    assert "not yet" in log
    assert "a.csv" in log


def test_file_sensor_times_out(baton, write, h, workdir: Path):
    path = write(
        "late.yaml",
        """
        name: late
        tasks:
          - {key: data, type: sensor, file: "never/*.csv", poke_interval: 0.1, timeout: 0.6}
          - {key: after, type: shell, command: "touch after_ran", depends_on: [data]}
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    assert time.monotonic() - started < 5
    assert run["state"] == "failed"
    tasks = h.tasks(run)
    assert tasks["data"]["state"] == "failed"
    assert "timed out" in tasks["data"]["error"]
    assert tasks["after"]["state"] == "upstream_failed"
    assert not (workdir / "after_ran").exists()
    # More than one check: the timeout spans the pokes, it is not one poke's limit.
    assert baton("logs", run["id"], "data").stdout.count("not yet") >= 2


def test_waiting_sensors_hold_no_worker_slot(baton, write, h, workdir: Path):
    """20 sensors, 2 slots: all wait at once, and all succeed once their files exist."""
    n = 20
    body = "\n".join(
        f"  - {{key: s{i}, type: sensor, file: ready/{i}, poke_interval: 0.2, timeout: 20}}"
        for i in range(n)
    )
    path = write("many.yaml", "name: many\ntasks:\n" + body + "\n")
    (workdir / "ready").mkdir()
    baton("runs", "list")  # creates the store before two processes use it at once
    proc = baton.start("run", path, "--concurrency", "2", "--json")
    rid = h.wait_until(
        lambda: baton.json("runs", "list") or proc.poll() is not None, what="the run"
    )[0]["id"]

    def all_waiting() -> bool:
        assert proc.poll() is None, proc.communicate()
        states = h.states(baton.json("runs", "show", rid))
        return sum(s == "waiting" for s in states.values()) > 2

    # More sensors wait at once than there are slots: waiting holds none.
    h.wait_until(all_waiting, what="more than 2 sensors to be waiting")
    for i in range(n):
        (workdir / "ready" / str(i)).touch()
    run = finish(proc)
    assert set(h.states(run).values()) == {"succeeded"}
    assert len(run["tasks"]) == n


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first requests, then 200."""

    hits: list[str]
    fail_first: int

    def do_GET(self) -> None:
        self.hits.append(self.path)
        code = 503 if len(self.hits) <= self.fail_first else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (Flaky,), {"hits": hits, "fail_first": 2})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health", hits
    finally:
        server.shutdown()
        server.server_close()


def test_http_sensor_waits_for_an_ok_status(baton, write, h, workdir: Path, flaky_server):
    url, hits = flaky_server
    write("lib.py", RECORD)
    path = write(
        "up.yaml",
        f"""
        name: up
        tasks:
          - {{key: api, type: sensor, http: "{url}", poke_interval: 0.1, timeout: 10}}
          - {{key: record, type: python, function: "lib:record_api", depends_on: [api]}}
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"api": "succeeded", "record": "succeeded"}
    assert len(hits) == 3, hits  # 503, 503, then 200
    assert json.loads((workdir / "got.json").read_text()) == 200
    assert "not yet" in baton("logs", run["id"], "api").stdout


def test_http_sensor_with_expected_statuses(baton, write, h, workdir: Path, flaky_server):
    """`status` lists what counts as up: here 503 does, at the first check."""
    url, hits = flaky_server
    path = write(
        "down.yaml",
        f"""
        name: down
        tasks:
          - key: api
            type: sensor
            http: "{url}"
            status: [503]
            poke_interval: 0.1
            timeout: 10
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"api": "succeeded"}
    assert len(hits) == 1


def test_http_sensor_times_out_on_a_refused_connection(baton, write, h):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = write(
        "gone.yaml",
        f"""
        name: gone
        tasks:
          - {{key: api, type: sensor, http: "http://127.0.0.1:{port}/", poke_interval: 0.1,
              timeout: 0.6}}
        """,
    )
    run = baton.run(path, check=1)
    assert "timed out" in h.tasks(run)["api"]["error"]


PREDICATES = """
import os

def enough(minimum):
    # Truthy once `minimum` marker files exist: the list of them.
    found = sorted(f for f in os.listdir(".") if f.startswith("mark"))
    return found if len(found) >= minimum else None
"""


def test_python_sensor_binds_params_by_name(baton, write, h, workdir: Path):
    write("preds.py", PREDICATES)
    write("lib.py", RECORD)
    path = write(
        "pred.yaml",
        """
        name: pred
        params:
          minimum: {type: integer, default: 2}
        tasks:
          - {key: ready, type: sensor, python: "preds:enough", poke_interval: 0.1, timeout: 20}
          - {key: record, type: python, function: "lib:record_ready", depends_on: [ready]}
        """,
    )
    baton("runs", "list")  # creates the store before two processes use it at once
    proc = baton.start("run", path, "-p", "minimum=3", "--json")
    rid = waiting_run(baton, h, proc, "ready")
    for i in range(3):
        (workdir / f"mark{i}").touch()
    run = finish(proc)
    assert run["id"] == rid
    assert h.states(run) == {"ready": "succeeded", "record": "succeeded"}
    assert json.loads((workdir / "got.json").read_text()) == ["mark0", "mark1", "mark2"]


def test_python_flow_sensor_task(baton, write, h, workdir: Path):
    write("preds.py", PREDICATES)
    (workdir / "mark0").touch()
    path = write(
        "pyflow.py",
        """
        import json
        from baton import flow, task
        from baton.tasks.sensor import sensor_task

        @task
        def record(found, marks) -> None:
            with open("got.json", "w") as f:
                json.dump({"found": found, "marks": marks}, f)

        @flow
        def sensed(minimum: int = 1):
            found = sensor_task(key="inbox", file="mark*", poke_interval=0.1, timeout=10)
            marks = sensor_task(
                key="marks", python="preds:enough", poke_interval=0.1, timeout=10
            )
            record(found, marks)
        """,
    )
    run = baton.run(path)
    assert set(h.states(run).values()) == {"succeeded"}
    got = json.loads((workdir / "got.json").read_text())
    assert got == {"found": [str(workdir / "mark0")], "marks": ["mark0"]}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("poke_interval: 0.1", "exactly one of"),
        ('file: "x", http: "http://127.0.0.1:1/"', "got file, http"),
        ('file: "x", python: "m:f"', "got file, python"),
        ('sql: "SELECT 1"', "url, conn"),
        ('file: "x", poke_interval: 0', "poke_interval"),
        ('file: "x", status: "many"', "status"),
        ('file: "x", nonsense: 1', "nonsense"),
    ],
)
def test_bad_sensor_fields_are_definition_errors(baton, write, fields: str, expected: str):
    path = write(
        "bad.yaml",
        f"""
        name: bad
        tasks:
          - {{key: watcher, type: sensor, {fields}}}
        """,
    )
    proc = baton("run", path, check=2)
    assert "Traceback" not in proc.stderr
    assert "watcher" in proc.stderr
    assert expected in proc.stderr


SQL_FLOW = """
name: sql_sensing
tasks:
  - key: row
    type: sensor
    sql: "SELECT id, note FROM arrivals WHERE note = 'ready'"
    url: "sqlite:///{db}"
    poke_interval: 0.1
    timeout: 20
  - key: record
    type: python
    function: lib:record_row
    depends_on: [row]
"""


def test_sql_sensor_waits_for_a_row(baton, write, h, workdir: Path):
    import sqlite3

    db = workdir / "arrivals.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE arrivals (id INTEGER, note TEXT)")
    conn.close()
    write("lib.py", RECORD + "\ndef record_row(row):\n    save(row)\n")
    path = write("sql_sensing.yaml", SQL_FLOW.format(db=db))
    baton("runs", "list")
    proc = baton.start("run", path, "--json")
    waiting_run(baton, h, proc, "row")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO arrivals VALUES (7, 'ready')")
    conn.close()
    run = finish(proc)
    assert h.states(run) == {"row": "succeeded", "record": "succeeded"}
    assert json.loads((workdir / "got.json").read_text()) == {"id": 7, "note": "ready"}
