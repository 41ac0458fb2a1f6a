"""No output of baton shows a database password: not the store's errors (unreachable, wrong
URL, not a baton database, old schema), not the driver's own messages, not the commands, the
worker's and server's logs, the API's answers, nor a sql task's or sensor's errors.

The password is the one of BATON_TEST_POSTGRES_URL if it has one; otherwise one is added,
which a server trusting local connections ignores.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

ADDED_PASSWORD = "hunter2-s3cret"

FLOW = """
name: f
schedule: "@daily"
tasks:
  - {key: a, type: shell, command: "echo hello"}
"""


def with_password(url: str, password: str = ADDED_PASSWORD) -> tuple[str, str]:
    """`url` with a password (its own if it has one), and that password."""
    scheme, rest = url.split("://", 1)
    userinfo, at, rest = rest.rpartition("@")
    assert at, "BATON_TEST_POSTGRES_URL names its user"
    user, _, own = userinfo.partition(":")
    password = own or password
    return f"{scheme}://{user}:{password}@{rest}", password


def output(*procs: Any) -> str:
    """Everything the processes (CompletedProcess or Popen, finished) printed."""
    texts = []
    for p in procs:
        if isinstance(p, subprocess.Popen):
            out, err = p.communicate(timeout=60)
            texts += [out or "", err or ""]
        else:
            texts += [p.stdout, p.stderr]
    return "\n".join(texts)


def server_address(stderr: Any, h: Any) -> str:
    """The http://HOST:PORT a `baton server` says it serves."""
    found = h.wait_until(
        lambda: re.search(r"serving (http://\S+?)/ ", stderr.text()), what="the server's address"
    )
    return str(found.group(1))


def free_port() -> int:
    """A port nobody listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_hidden(text: str, password: str, *, traceback: bool = False) -> None:
    assert password not in text, f"the password shows in:\n{text}"
    if not traceback:
        assert "Traceback" not in text, text


@pytest.fixture
def secret(baton: Any, pg_url: str, write: Any) -> tuple[str, str]:
    """This test's PostgreSQL URL with a password, and the password."""
    write("f.yaml", FLOW)
    url, password = with_password(pg_url)
    baton.env["BATON_DATABASE_URL"] = url
    return url, password


COMMANDS = [
    ["workers"],
    ["runs", "list"],
    ["runs", "show", "r1", "--wait-for-db", "0"],
    ["runs", "show", "r1", "--wait", "--wait-for-db", "0.5"],
    ["logs", "r1"],
    ["tokens", "list"],
    ["deploy", "."],
    ["run", "f.yaml", "--wait-for-db", "0"],
    ["run", "f.yaml", "--wait", "--wait-for-db", "1"],
    ["worker", "--wait-for-db", "1"],
    ["server", "--wait-for-db", "1"],
    ["scheduler", "--wait-for-db", "0"],
    ["backfill", "f", "--start", "2024-01-01", "--end", "2024-01-02", "--wait-for-db", "0"],
    ["db", "upgrade"],
]


@pytest.mark.postgres
def test_an_unreachable_database_is_exit_3_and_its_password_never_shows(baton, secret, proxy):
    url, password = secret
    env = {"BATON_DATABASE_URL": proxy.url(url)}  # a port nobody listens on
    for command in COMMANDS:
        proc = baton(*command, env=env, check=3)
        assert_hidden(output(proc), password)
        last = proc.stderr.splitlines()[-1]
        assert last.startswith(
            f"error: cannot connect to postgresql://postgres:***@127.0.0.1:{proxy.port}/"
        )
        assert proc.stdout == ""


@pytest.mark.postgres
def test_a_wrong_url_is_exit_2_at_once_and_its_password_never_shows(baton, secret):
    url, password = secret
    host = url.split("@", 1)[1].split("/", 1)[0]
    wrong = {
        # libpq quotes the part of the URL it cannot read: here, the password
        f"postgresql://postgres:{password}%zz@{host}/test": "invalid percent-encoded token",
        f"postgresql://postgres:{password}@{host}/baton_no_such_db": "does not exist",
        f"postgresql://postgres:{password}@127.0.0.1:port/test": 'invalid integer value "port"',
        f"postgresql://postgres:{password}@{host}/test?options=-cnosuch%3D1": "configuration",
        f"mysql://root:{password}@127.0.0.1/x": "unsupported database URL 'mysql://root:***@",
        f"host=127.0.0.1 password={password}": "unsupported database URL 'host=127.0.0.1 pass",
    }
    for bad, says in wrong.items():
        for command in (["workers"], ["db", "upgrade"], ["worker", "--wait-for-db", "30"]):
            began = time.monotonic()
            proc = baton(*command, env={"BATON_DATABASE_URL": bad}, check=2)
            assert time.monotonic() - began < 15  # not worth waiting for: at once
            assert_hidden(output(proc), password)
            assert says in proc.stderr, proc.stderr
            assert len(proc.stderr.splitlines()) == 1, proc.stderr


@pytest.mark.postgres
def test_a_database_not_baton_s_or_too_old_shows_no_password(baton, secret, sql):
    url, password = secret
    sql(url, "CREATE TABLE someone_elses (x int)")
    for command in (["workers"], ["db", "upgrade"], ["server", "--wait-for-db", "1"]):
        proc = baton(*command, check=2)
        assert "is not a baton database" in proc.stderr
        assert "postgresql://postgres:***@" in proc.stderr
        assert_hidden(output(proc), password)
    sql(url, "DROP TABLE someone_elses")
    baton("workers")  # makes the schema
    sql(url, "UPDATE alembic_version SET version_num = '0003'")
    for command in (["workers"], ["run", "f.yaml", "--wait"], ["worker"]):
        proc = baton(*command, check=2)
        assert "has schema revision 0003" in proc.stderr and "baton db upgrade" in proc.stderr
        assert "postgresql://postgres:***@" in proc.stderr
        assert_hidden(output(proc), password)
    sql(url, "DROP TABLE alembic_version", "CREATE TABLE baton_schema (version int)")
    sql(url, "INSERT INTO baton_schema VALUES (99)")
    proc = baton("db", "upgrade", check=2)
    assert "unknown baton_schema version: 99" in proc.stderr
    assert_hidden(output(proc), password)


@pytest.mark.postgres
def test_commands_logs_and_api_answers_never_show_the_password(
    baton, secret, proxy, h, sql, workdir: Path
):
    url, password = secret
    seen = [baton("deploy", "."), baton("db", "upgrade")]
    token = baton("tokens", "create", "--user", "ann", "--role", "admin").stdout.strip()
    proxy.start()
    baton.env["BATON_DATABASE_URL"] = proxy.url(url)  # the worker and server lose it later
    worker = baton.start("worker")
    server = baton.start("server")
    baton.env["BATON_DATABASE_URL"] = url
    done = baton.run("f.yaml", "--wait")
    assert done["state"] == "succeeded"
    seen += [
        baton("runs", "list"),
        baton("runs", "show", done["id"], "--json"),
        baton("logs", done["id"]),
        baton("workers"),
        baton("tokens", "list"),
    ]
    server_err, worker_err = h.stderr(server), h.stderr(worker)
    base = server_address(server_err, h)
    auth = {"Authorization": f"Bearer {token}"}
    answers = [
        httpx.get(f"{base}/healthz"),
        httpx.get(f"{base}/api/v1/runs", headers=auth),
        httpx.get(f"{base}/api/v1/runs/{done['id']}", headers=auth),
        httpx.get(f"{base}/api/v1/workers", headers=auth),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    proxy.stop()  # the server's database is gone: its answers say so, without the password
    away = [
        httpx.get(f"{base}/api/v1/runs", headers=auth),
        httpx.get(f"{base}/api/v1/runs", headers=auth),
        httpx.get(f"{base}/runs", headers={"x-baton-ui": "1"}, cookies={"baton_token": token}),
        httpx.get(
            f"{base}/api/v1/runs/{done['id']}/logs/a", params={"times": "true"}, headers=auth
        ),
    ]
    # 503 (try again), never a 500: the connection lost mid-request is baton's StoreUnavailable
    assert [a.status_code for a in away] == [503, 503, 503, 503], [a.text for a in away]
    # Until the worker has said it lost the database, and the server's notification sender
    # (after its pause) that it cannot connect again.
    h.wait_until(
        lambda: (
            "database error" in worker_err.text()
            and "sending notifications: cannot connect" in server_err.text()
        ),
        timeout=60,
        what="the worker and server to fail to reconnect",
    )
    proxy.start()
    h.wait_until(
        lambda: httpx.get(f"{base}/api/v1/runs", headers=auth).status_code == 200,
        what="the server to be back",
    )
    for p in (worker, server):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    logs = "\n".join([*worker_err.finish(), *server_err.finish()])
    assert_hidden(logs, password)
    for text in [output(*seen), *(a.text for a in answers + away)]:
        assert_hidden(text, password)
    assert password not in json.dumps(sql(url, "SELECT * FROM audit_log"), default=str)


def test_sql_task_and_sensor_errors_show_no_password(baton, write):
    password = ADDED_PASSWORD
    target = f"postgresql://postgres:{password}@127.0.0.1:{free_port()}/x"
    write(
        "q.yaml",
        f"""
        name: q
        tasks:
          - {{key: query, type: sql, url: "{target}", sql: "SELECT 1"}}
          - {{key: other, type: sql, url: "nosuchdb://root:{password}@h/x", sql: "SELECT 1"}}
          - {{key: wait, type: sensor, url: "{target}", sql: "SELECT 1", poke_interval: 0.1,
              timeout: 1}}
        """,
    )
    run = baton("run", "q.yaml", "--json", check=1)
    done = json.loads(run.stdout)
    errors = {t["key"]: t["error"] for t in done["tasks"]}
    assert all(errors.values()), errors
    assert "postgresql+psycopg://postgres:***@127.0.0.1" in errors["query"]
    seen = [run, baton("runs", "show", done["id"]), baton("logs", done["id"])]
    assert_hidden(output(*seen), password)
