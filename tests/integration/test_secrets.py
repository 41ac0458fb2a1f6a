"""Secrets: `${secret:NAME}` resolved by the worker, masked everywhere baton writes.

The real `baton` CLI runs the flows; a local HTTP server checks what an http task sent.
"""

from __future__ import annotations

import http.server
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_http import LocalServer

TOKEN = "tok-9f8e7d6c5b4a"  # from the secrets file
DB_PASSWORD = "pw-0a1b2c3d4e5f"  # from BATON_SECRET_DB_PASSWORD
PLAIN = "plain-5e6f7a8b9c0d"  # from the plain variable PLAIN_SECRET


class Server(LocalServer):
    """Answers every request with the Authorization header it got (so the result has it)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append(dict(self.headers.items()))
                body = json.dumps({"you_sent": self.headers.get("Authorization")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def secret_env(baton, workdir: Path) -> None:
    home = workdir / ".baton"
    home.mkdir()
    (home / "secrets.yaml").write_text(f'API_TOKEN: "{TOKEN}"\n')
    baton.env["BATON_SECRET_DB_PASSWORD"] = DB_PASSWORD
    baton.env["PLAIN_SECRET"] = PLAIN


def assert_nowhere(workdir: Path, baton, run_id: str, *values: str) -> None:
    """No value in the log, `runs show --json`, the database rows or any file baton wrote."""
    shown = baton("runs", "show", run_id, "--json").stdout
    logs = baton("logs", run_id).stdout
    database = json.dumps(db_rows(workdir / ".baton" / "baton.db"))
    files = {
        str(p): p.read_bytes()
        for p in (workdir / ".baton").rglob("*")
        if p.is_file() and p.name != "secrets.yaml"
    }
    for value in values:
        assert value not in shown
        assert value not in logs
        assert value not in database
        for path, content in files.items():
            assert value.encode() not in content, f"{value} written to {path}"


def db_rows(path: Path) -> dict[str, list[list[object]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: [[repr(v) for v in row] for row in conn.execute(f'SELECT * FROM "{t}"')]
            for t in tables
        }
    finally:
        conn.close()


def test_shell_and_http_tasks_get_secrets_masked_everywhere(
    baton, write, h, workdir: Path, server: Server, secret_env: None
):
    path = write(
        "secrets_flow.yaml",
        f"""
        name: secrets_flow
        tasks:
          - key: echo
            type: shell
            command: "echo token=${{secret:API_TOKEN}}; echo db=${{secret:DB_PASSWORD}} >&2"
          - key: env
            type: shell
            command: 'echo "plain=$PLAIN" {{{{ params.nothing | default("") }}}}'
            env: {{PLAIN: "${{secret:PLAIN_SECRET}}"}}
          - key: call
            type: http
            url: {server.url}/check
            auth: {{bearer: "${{secret:API_TOKEN}}"}}
            headers: {{X-Db-Password: "${{secret:DB_PASSWORD}}"}}
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"echo": "succeeded", "env": "succeeded", "call": "succeeded"}
    # The values reached the task: the command, its environment, the request's headers.
    assert server.seen[0]["Authorization"] == f"Bearer {TOKEN}"
    assert server.seen[0]["X-Db-Password"] == DB_PASSWORD

    rid = run["id"]
    assert "token=***" in baton("logs", rid, "echo").stdout
    assert "db=***" in baton("logs", rid, "echo").stdout
    assert "plain=***" in baton("logs", rid, "env").stdout
    assert_nowhere(workdir, baton, rid, TOKEN, DB_PASSWORD, PLAIN)
    # What is stored keeps the reference, never the value.
    rows = json.dumps(db_rows(workdir / ".baton" / "baton.db"))
    assert "${secret:API_TOKEN}" in rows
    # A result holding a value is stored masked.
    assert '"you_sent": "Bearer ***"' in rows.replace('\\"', '"')


def test_an_unknown_secret_fails_the_task_at_once(baton, write, h, workdir: Path):
    path = write(
        "unknown.yaml",
        """
        name: unknown
        tasks:
          - key: needs
            type: shell
            command: "echo ${secret:NO_SUCH_SECRET}"
            retries: 3
            retry_delay: 0
        """,
    )
    proc = baton("run", path, "--json", check=1)
    run = json.loads(proc.stdout)
    task = h.tasks(run)["needs"]
    assert task["state"] == "failed"
    assert task["attempts"] == 1  # not retried: asking again would not find it
    assert "unknown secret 'NO_SUCH_SECRET'" in task["error"]
    assert "BATON_SECRET_NO_SUCH_SECRET" in task["error"]
    assert "secrets.yaml" in task["error"]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "unknown secret 'NO_SUCH_SECRET'" in baton("logs", run["id"], "needs").stdout


def test_a_malformed_reference_fails_the_task(baton, write, h):
    path = write(
        "malformed.yaml",
        """
        name: malformed
        tasks:
          - {key: bad, type: shell, command: "echo ${secret:not-a-name}"}
        """,
    )
    run = baton.run(path, check=1)
    assert "malformed secret reference '${secret:not-a-name}'" in h.tasks(run)["bad"]["error"]


def test_a_malformed_secrets_file_fails_the_task_clearly(baton, write, h, workdir: Path):
    (workdir / ".baton").mkdir()
    (workdir / ".baton" / "secrets.yaml").write_text("API_TOKEN: [unclosed\n")
    path = write(
        "any.yaml",
        """
        name: any
        tasks:
          - {key: t, type: shell, command: "echo hi", retries: 2, retry_delay: 0}
        """,
    )
    run = baton.run(path, check=1)
    task = h.tasks(run)["t"]
    assert task["attempts"] == 1
    assert "secrets.yaml:2: not valid YAML" in task["error"]


def test_python_task_arguments_are_resolved(baton, write, h, workdir: Path, secret_env: None):
    path = write(
        "py_secrets.py",
        """
        from baton import flow, task

        @task
        def use(token: str, options: dict) -> dict:
            print("using", token, options["password"])
            if token != options["expected"]:
                raise ValueError(f"got {token}")
            return {"token": token, "length": len(token)}

        @task
        def fail(token: str) -> None:
            raise RuntimeError(f"rejected {token}")

        @flow
        def py_secrets():
            use("${secret:API_TOKEN}", {"password": "${secret:PLAIN_SECRET}",
                                        "expected": "${secret:API_TOKEN}"})
            fail("${secret:DB_PASSWORD}")
        """,
    )
    run = baton.run(path, check=1)
    tasks = h.tasks(run)
    assert tasks["use"]["state"] == "succeeded"
    assert tasks["fail"]["state"] == "failed"
    assert tasks["fail"]["error"] == "RuntimeError: rejected ***"
    rid = run["id"]
    assert "using *** ***" in baton("logs", rid, "use").stdout
    assert "rejected ***" in baton("logs", rid, "fail").stdout
    assert_nowhere(workdir, baton, rid, TOKEN, DB_PASSWORD, PLAIN)
    rows = json.dumps(db_rows(workdir / ".baton" / "baton.db"))
    assert '{"token": "***", "length": 16}' in rows.replace('\\"', '"')


def test_a_param_cannot_reveal_a_secret(baton, write, h, workdir: Path, secret_env: None):
    path = write(
        "echo_param.yaml",
        """
        name: echo_param
        params: {text: {type: string, required: true}}
        tasks:
          - {key: echo, type: shell, command: "echo '{{ params.text }}'"}
        """,
    )
    run = baton.run(path, "-p", "text=${secret:API_TOKEN}")
    assert h.states(run) == {"echo": "succeeded"}
    assert "${secret:API_TOKEN}" in baton("logs", run["id"], "echo").stdout


def test_a_flow_task_cannot_pass_a_secret_to_its_sub_flow(
    baton, write, h, workdir: Path, secret_env: None
):
    write(
        "child.yaml",
        """
        name: child
        params: {token: {type: string, required: true}}
        tasks:
          - {key: echo, type: shell, command: "echo '{{ params.token }}'"}
        """,
    )
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - {key: sub, type: flow, path: child.yaml, params: {token: "${secret:API_TOKEN}"}}
        """,
    )
    run = baton.run(path, check=1)
    assert "cannot pass a secret to its sub-flow" in h.tasks(run)["sub"]["error"]
    assert_nowhere(workdir, baton, run["id"], TOKEN)


def test_an_http_url_may_hold_a_secret(baton, write, h, server: Server, secret_env: None):
    path = write(
        "url.yaml",
        f"""
        name: url
        tasks:
          - key: call
            type: http
            url: "{server.url}/check?key=${{secret:API_TOKEN}}"
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"call": "succeeded"}
    assert "/check?key=***" in baton("logs", run["id"], "call").stdout
