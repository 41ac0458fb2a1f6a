"""`http` tasks against a real HTTP server on 127.0.0.1, started by each test."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton import get_run
from baton.errors import TaskTimeout
from baton.settings import Settings
from baton.tasks import http as http_type
from baton.tasks.base import TaskFailed
from local_http import LocalServer

TOKEN = "s3cr3t-t0ken-value"

SAVE = """
import json

def save(call):
    with open("received.json", "w") as f:
        json.dump(call, f)
"""


class Server(LocalServer):
    """A local API: routes by path, records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.flaky_failures = 2  # /flaky answers 503 this many times, then 200
        self.stop = threading.Event()  # wakes /slow at shutdown
        super().__init__(self._handler())

    def close(self) -> None:
        self.stop.set()
        super().close()

    def hits(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                split = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                seen = {
                    "method": self.command,
                    "path": split.path,
                    "query": dict(urllib.parse.parse_qsl(split.query)),
                    "headers": dict(self.headers.items()),
                    "body": body,
                }
                server.requests.append(seen)
                if split.path == "/ok":
                    is_json = self.headers.get("Content-Type") == "application/json"
                    self.reply(
                        200,
                        {
                            "method": self.command,
                            "query": seen["query"],
                            "json": json.loads(body) if is_json and body else None,
                            "body": None if is_json else body,
                            "auth": "Authorization" in self.headers,
                        },
                    )
                elif split.path == "/flaky":
                    failing = len(server.hits("/flaky")) <= server.flaky_failures
                    self.reply(503, "try later") if failing else self.reply(200, {"ok": True})
                elif split.path == "/slow":
                    server.stop.wait(30)
                    self.reply(200, {"slow": True})
                else:
                    self.reply(404, "no such thing " + "x" * 1000)

            def reply(self, status: int, content: Any) -> None:
                is_text = isinstance(content, str)
                data = (content if is_text else json.dumps(content)).encode()
                try:
                    self.send_response(status)
                    self.send_header(
                        "Content-Type", "text/plain" if is_text else "application/json"
                    )
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (a timed out task)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    try:
        yield s
    finally:
        s.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def result_of(workdir: Path, run_id: str, key: str) -> Any:
    settings = Settings.from_env({"BATON_HOME": str(workdir / ".baton")})
    return get_run(run_id, settings=settings).result(key)


def test_get_json_result_reaches_downstream(baton, write, h, server, workdir: Path):
    write("lib.py", SAVE)
    path = write(
        "get.yaml",
        f"""
        name: get
        tasks:
          - key: call
            type: http
            url: "{server.url}/ok?a=1"
            query: {{b: 2, c: [x, y]}}
            headers: {{X-Request-Id: abc}}
          - {{key: save, type: python, function: "lib:save", depends_on: [call]}}
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"call": "succeeded", "save": "succeeded"}
    received = json.loads((workdir / "received.json").read_text())
    assert received == {
        "method": "GET",
        "query": {"a": "1", "b": "2", "c": "y"},
        "json": None,
        "body": "",
        "auth": False,
    }
    (seen,) = server.hits("/ok")
    assert seen["headers"]["X-Request-Id"] == "abc"
    log = baton("logs", run["id"], "call").stdout
    assert f"GET {server.url}/ok?a=1&b=2&c=x&c=y -> 200 OK in " in log


def test_python_flow_posts_a_json_body_built_upstream(baton, write, h, server, workdir: Path):
    path = write(
        "post.py",
        f"""
        from baton import flow, task
        from baton.tasks.http import http_task

        @task
        def payload(n: int):
            return {{"name": "widget", "n": n}}

        @flow
        def post(n: int = 3):
            created = http_task("{server.url}/ok", key="create", method="post", json=payload(n))
            http_task(
                "{server.url}/ok",
                key="raw",
                method="PUT",
                body="plain words",
                headers={{"Content-Type": "text/plain"}},
                response="text",
                wait_for=created,
            )
        """,
    )
    run = baton.run(path, "-p", "n=4")
    assert h.states(run) == {"payload": "succeeded", "create": "succeeded", "raw": "succeeded"}
    created = result_of(workdir, run["id"], "create")
    assert created["method"] == "POST"
    assert created["json"] == {"name": "widget", "n": 4}
    raw = result_of(workdir, run["id"], "raw")
    assert isinstance(raw, str)  # response: text keeps the body as it came
    assert json.loads(raw)["body"] == "plain words"
    assert [r["method"] for r in server.hits("/ok")] == ["POST", "PUT"]


def test_auth_from_environment_is_sent_and_never_logged(baton, write, h, server, workdir: Path):
    path = write(
        "auth.yaml",
        f"""
        name: auth
        tasks:
          - key: bearer
            type: http
            url: {server.url}/ok
            auth: {{bearer_env: API_TOKEN}}
          - key: basic
            type: http
            url: {server.url}/ok
            auth: {{basic_env: [API_USER, API_PASSWORD]}}
          - key: missing
            type: http
            url: {server.url}/ok
            auth: {{bearer_env: NOT_SET_ANYWHERE}}
            retries: 2
        """,
    )
    env = {"API_TOKEN": TOKEN, "API_USER": "ann", "API_PASSWORD": "pa55"}
    proc = baton("run", path, "--json", check=1, env=env)
    run = json.loads(proc.stdout)
    tasks = h.tasks(run)
    assert tasks["bearer"]["state"] == "succeeded"
    assert tasks["basic"]["state"] == "succeeded"
    assert tasks["missing"]["state"] == "failed"
    assert tasks["missing"]["attempts"] == 1  # a missing variable will not appear by retrying
    assert "NOT_SET_ANYWHERE" in tasks["missing"]["error"]
    sent = sorted(r["headers"]["Authorization"] for r in server.hits("/ok"))
    assert sent == ["Basic " + base64.b64encode(b"ann:pa55").decode(), f"Bearer {TOKEN}"]
    assert "GET " in baton("logs", run["id"], "bearer").stdout
    # Not in the logs, the store or anything else baton wrote.
    for f in (workdir / ".baton").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert TOKEN.encode() not in data, f
            assert b"pa55" not in data, f
    assert TOKEN not in proc.stdout + proc.stderr


def test_503_is_retried_until_it_succeeds(baton, write, h, server):
    path = write(
        "flaky.yaml",
        f"""
        name: flaky
        tasks:
          - {{key: call, type: http, url: "{server.url}/flaky", retries: 2}}
        """,
    )
    run = baton.run(path)
    call = h.tasks(run)["call"]
    assert (call["state"], call["attempts"]) == ("succeeded", 3)
    assert len(server.hits("/flaky")) == 3
    log = baton("logs", run["id"], "call").stdout
    assert log.count("-> 503 Service Unavailable") == 2
    assert "-> 200 OK" in log
    assert "HTTP Request" not in log  # httpx's own line, which would repeat ours


def test_404_fails_at_once_whatever_the_retries(baton, write, h, server):
    path = write(
        "missing.yaml",
        f"""
        name: missing
        tasks:
          - {{key: call, type: http, url: "{server.url}/notfound", retries: 3}}
          - {{key: after, type: shell, command: "echo no", depends_on: [call]}}
        """,
    )
    run = baton.run(path, check=1)
    call = h.tasks(run)["call"]
    assert (call["state"], call["attempts"]) == ("failed", 1)
    assert "404" in call["error"]
    assert "no such thing xxx" in call["error"]  # an excerpt of the body...
    assert len(call["error"]) < 700  # ...not all of it
    assert h.states(run)["after"] == "upstream_failed"
    assert len(server.hits("/notfound")) == 1


def test_expected_and_retryable_statuses_are_configurable(baton, write, h, server, workdir: Path):
    path = write(
        "custom.yaml",
        f"""
        name: custom
        tasks:
          - {{key: gone, type: http, url: "{server.url}/notfound", expect: [404]}}
          - key: never
            type: http
            url: "{server.url}/flaky"
            retryable_statuses: [429]
            retries: 3
        """,
    )
    run = baton.run(path, check=1)
    tasks = h.tasks(run)
    assert tasks["gone"]["state"] == "succeeded"
    assert result_of(workdir, run["id"], "gone").startswith("no such thing")  # text, not JSON
    assert (tasks["never"]["state"], tasks["never"]["attempts"]) == ("failed", 1)
    assert "503" in tasks["never"]["error"]


def test_connection_refused_is_retried_then_fails(baton, write, h):
    path = write(
        "refused.yaml",
        f"""
        name: refused
        tasks:
          - {{key: call, type: http, url: "http://127.0.0.1:{closed_port()}/x", retries: 1}}
        """,
    )
    run = baton.run(path, check=1)
    call = h.tasks(run)["call"]
    assert (call["state"], call["attempts"]) == ("failed", 2)
    assert "ConnectError" in call["error"]


def test_timeout_cuts_a_slow_response(baton, write, h, server):
    path = write(
        "slow.yaml",
        f"""
        name: slow
        tasks:
          - {{key: call, type: http, url: "{server.url}/slow", timeout: 1}}
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    assert time.monotonic() - started < 6
    call = h.tasks(run)["call"]
    assert call["state"] == "failed"
    assert "timed out" in call["error"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("method: 5", "method"),
        ('json: {a: 1}\n    body: "b"', "json or body"),
        ("url: ftp://example.com", "url"),
        ("auth: {token: x}", "auth"),
    ],
)
def test_bad_fields_exit_2_naming_the_field(baton, write, server, fields: str, named: str):
    url = "" if fields.startswith("url") else f"url: {server.url}/ok\n    "
    path = write(
        "bad.yaml",
        f"""
name: bad
tasks:
  - key: call
    type: http
    {url}{fields}
""",
    )
    proc = baton("run", path, check=2)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "task 'call'" in proc.stderr
    assert named in proc.stderr
    assert not server.requests


# -- the task type on its own --------------------------------------------------------


def test_an_interrupt_aborts_a_blocked_request(tmp_path: Path, server, task_context):
    # No httpx timeout here: only the interrupt can end the request early.
    ctx = task_context()
    cfg = http_type.HttpConfig(url=f"{server.url}/slow")
    threading.Timer(0.3, ctx.interrupt, args=(TaskTimeout,)).start()
    started = time.monotonic()
    with pytest.raises(TaskTimeout):
        http_type.execute(ctx, cfg)
    assert time.monotonic() - started < 3


def test_status_rules():
    cfg = http_type.HttpConfig(url="http://h")
    assert http_type.accepted(cfg, 204) and not http_type.accepted(cfg, 302)
    assert [s for s in (400, 404, 429, 500, 503) if http_type.retryable(cfg, s)] == [429, 500, 503]
    custom = http_type.HttpConfig(url="http://h", expect=(404,), retryable_statuses=(409,))
    assert http_type.accepted(custom, 404) and not http_type.accepted(custom, 200)
    assert http_type.retryable(custom, 409) and not http_type.retryable(custom, 503)


@pytest.mark.parametrize(
    ("content_type", "content", "mode", "expected"),
    [
        ("application/json; charset=utf-8", b'{"a": 1}', "json", {"a": 1}),
        ("application/problem+json", b"[1]", "json", [1]),
        ("application/json", b"", "json", None),
        ("text/plain", b"hi", "json", "hi"),
        ("application/json", b'{"a": 1}', "text", '{"a": 1}'),
        ("application/json", b'{"a": 1}', "none", None),
    ],
)
def test_result_follows_the_content_type(content_type, content, mode, expected):
    response = httpx.Response(200, headers={"Content-Type": content_type}, content=content)
    assert http_type.result(response, mode) == expected


def test_invalid_json_fails_naming_it():
    response = httpx.Response(200, headers={"Content-Type": "application/json"}, content=b"{")
    with pytest.raises(TaskFailed, match="not valid JSON"):
        http_type.result(response, "json")


def test_passwords_in_urls_are_masked():
    shown = http_type.shown_url(httpx.URL("https://ann:pa55@h/x?q=1"))
    assert shown == "https://ann:***@h/x?q=1"


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("T", "tok")
    assert http_type.authorization(http_type.Auth(bearer_env="T")) == "Bearer tok"
    monkeypatch.delenv("T")
    with pytest.raises(TaskFailed, match=r"T \(auth.bearer_env\) is not set") as failed:
        http_type.authorization(http_type.Auth(bearer_env="T"))
    assert failed.value.retryable is False
