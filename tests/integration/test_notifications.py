"""Notifications end to end: a real SMTP server (aiosmtpd) and a real HTTP server taking
webhooks, both on 127.0.0.1, fed by `baton run`, `baton scheduler` and the outbox."""

from __future__ import annotations

import email
import email.policy
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from baton.engine.service import Engine
from baton.execution.secrets import Secrets
from baton.model.notifications import validate
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState
from baton.notify import message, outbox
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import outcome_of

BASE_URL = "http://baton.example:8080"
TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Mailbox:
    """An aiosmtpd handler keeping what it receives: (recipients, message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self._changed:
            self.received.append((list(envelope.rcpt_tos), msg))
            self._changed.notify_all()
        return "250 OK"


class Hooks:
    """A local HTTP server taking webhooks: keeps each POST (path, headers, JSON body) and
    answers the statuses queued in `statuses`, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], Any]] = []
        self.statuses: list[int] = []
        self._changed = threading.Condition()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hooks._changed:
                    status = hooks.statuses.pop(0) if hooks.statuses else 200
                    if status == 200:
                        hooks.received.append((self.path, dict(self.headers), body))
                        hooks._changed.notify_all()
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"server error")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int) -> list[Any]:
        """The bodies received, once there are at least `count` (fails after TIMEOUT)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, TIMEOUT):
                pytest.fail(f"{len(self.received)} webhooks received, waited for {count}")
            return [body for _, _, body in self.received]


@pytest.fixture
def mailbox(baton: Any) -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    baton.env |= {
        "BATON_SMTP_HOST": "127.0.0.1",
        "BATON_SMTP_PORT": str(controller.port),
        "BATON_SMTP_FROM": "baton@example.com",
    }
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def hooks(baton: Any) -> Iterator[Hooks]:
    h = Hooks()
    thread = threading.Thread(target=h.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield h
    finally:
        h.server.shutdown()
        h.server.server_close()
        thread.join(TIMEOUT)


@pytest.fixture(autouse=True)
def base_url(baton: Any) -> None:
    baton.env["BATON_BASE_URL"] = BASE_URL


def settings_of(baton: Any) -> Settings:
    return Settings.from_env(baton.env)


def test_a_failed_run_emails_the_failed_task_its_error_and_a_link(
    baton: Any, write: Callable[[str, str], str], mailbox: Mailbox
) -> None:
    write(
        "etl.py",
        """
        from baton import flow, task

        @task
        def extract():
            return [1, 2]

        @task
        def load(rows):
            raise ValueError(f"bad row {rows[1]}")

        @flow(notifications=[
            {"on": ["failure"], "email": ["oncall@example.com", "team@example.com"]},
        ])
        def etl():
            load(extract())
        """,
    )
    run = baton.run("etl.py", check=1)
    assert run["state"] == "failed"
    # `baton run` sends before it exits: the message is there already.
    ((to, msg),) = mailbox.received
    assert to == ["oncall@example.com", "team@example.com"]
    assert msg["Subject"] == f"[baton] flow etl run {run['id']} failed"
    assert msg["From"] == "baton@example.com"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    body = text.get_content().replace("\r\n", "\n")
    for expected in (
        "Flow: etl",
        f"Run: {run['id']}",
        "State: failed",
        "- load\n    ValueError: bad row 2",
        f"See the run: {BASE_URL}/runs/{run['id']}",
    ):
        assert expected in body, body
    assert f"href='{BASE_URL}/runs/{run['id']}'" in html.get_content()


def test_a_successful_run_posts_json_to_its_webhook_secrets_resolved_and_masked(
    baton: Any, write: Callable[[str, str], str], hooks: Hooks
) -> None:
    baton.env |= {
        "BATON_SECRET_HOOK": f"{hooks.url}/done",
        "BATON_SECRET_TOKEN": "s3cr3t-token-value",
    }
    write(
        "report.yaml",
        """
        name: report
        params:
          note: {type: string, default: ""}
        notifications:
          - on: [success]
            webhook: ${secret:HOOK}
        tasks:
          - {key: a, type: shell, command: "true"}
        """,
    )
    run = baton.run("report.yaml", "-p", "note=s3cr3t-token-value")
    ((path, headers, body),) = hooks.received
    assert path == "/done"
    assert headers["Content-Type"] == "application/json"
    assert body["params"] == {"note": "***"}  # a secret's value never leaves masked
    assert {k: body[k] for k in ("event", "flow", "run_id", "state", "trigger", "url")} == {
        "event": "success",
        "flow": "report",
        "run_id": run["id"],
        "state": "succeeded",
        "trigger": "manual",
        "url": f"{BASE_URL}/runs/{run['id']}",
    }
    assert body["duration"] >= 0 and body["ended_at"] == run["ended_at"]


def test_the_slack_format_posts_text_and_blocks(
    baton: Any, write: Callable[[str, str], str], hooks: Hooks
) -> None:
    write(
        "etl.yaml",
        f"""
        name: etl
        notifications:
          - webhook: {hooks.url}/slack
            format: slack
        tasks:
          - {{key: a, type: shell, command: "exit 3"}}
        """,
    )
    run = baton.run("etl.yaml", check=1)
    ((_, _, body),) = hooks.received
    assert set(body) == {"text", "blocks"}
    assert body["text"] == f"flow etl run {run['id']} failed: {BASE_URL}/runs/{run['id']}"
    texts = [b["text"]["text"] for b in body["blocks"] if "text" in b]
    assert texts[0] == f"<{BASE_URL}/runs/{run['id']}|flow etl run {run['id']} failed>"
    assert texts[-1] == (
        "*a*\n```the command exited with code 3```\n"
        "Last lines of its log:\n```error: the command exited with code 3```"
    )


def test_a_retried_task_is_notified_and_so_is_the_success(
    baton: Any, write: Callable[[str, str], str], hooks: Hooks
) -> None:
    write(
        "flaky.yaml",
        f"""
        name: flaky
        notifications:
          - on: [retry, success]
            webhook: {hooks.url}/
        tasks:
          - key: a
            type: shell
            command: "test -f marker || {{ touch marker; exit 1; }}"
            retries: 1
        """,
    )
    run = baton.run("flaky.yaml")
    retry, success = sorted(hooks.wait_for(2), key=lambda b: b["event"] != "retry")
    assert (retry["event"], success["event"]) == ("retry", "success")
    assert retry["task"]["key"] == "a" and retry["task"]["attempt"] == 1
    assert retry["task"]["error"] == "the command exited with code 1"
    assert retry["run_id"] == success["run_id"] == run["id"]


def test_an_approval_waiting_is_told_once_with_a_link_to_its_task(
    baton: Any, write: Callable[[str, str], str], hooks: Hooks
) -> None:
    write(
        "gate.yaml",
        f"""
        name: gate
        notifications:
          - on: [approval_required, success]
            webhook: {hooks.url}/
        tasks:
          - key: ok
            type: approval
            prompt: "Ship it?"
            approvers: [alice]
            timeout: 1
            on_timeout: approve
        """,
    )
    run = baton.run("gate.yaml")  # nobody decides: approved when its timeout is up
    waiting, success = sorted(hooks.wait_for(2), key=lambda b: b["event"] != "approval_required")
    assert (waiting["event"], success["event"]) == ("approval_required", "success")
    assert waiting["url"] == f"{BASE_URL}/runs/{run['id']}/tasks/ok"
    assert (waiting["prompt"], waiting["approvers"]) == ("Ship it?", ["alice"])
    assert waiting["task"]["key"] == "ok" and waiting["on_timeout"] == "approve"
    assert waiting["deadline"].endswith("Z")
    assert message.summary(waiting) == f"flow gate run {run['id']}: task ok waits for approval"
    assert "Approve or reject: " + waiting["url"] in message.text(waiting)
    assert len(hooks.received) == 2  # told once


def test_an_sla_breach_is_told_once_while_the_run_goes_on(
    baton: Any, write: Callable[[str, str], str], hooks: Hooks, workdir: Path
) -> None:
    write(
        "slow.yaml",
        f"""
        name: slow
        notifications:
          - on: [sla]
            webhook: {hooks.url}/sla
            sla: 0.5
        tasks:
          - key: wait
            type: shell
            command: "while [ ! -f go ]; do sleep 0.05; done"
        """,
    )
    proc = baton.start("run", "slow.yaml", "--json")
    (sla,) = hooks.wait_for(1)  # sent while the task still waits
    assert proc.poll() is None
    (workdir / "go").touch()
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    run = json.loads(out)
    assert run["state"] == "succeeded"
    assert (sla["event"], sla["run_id"], sla["sla"]) == ("sla", run["id"], 0.5)
    assert len(hooks.received) == 1


def test_a_run_within_its_sla_sends_no_sla_notice(
    baton: Any, write: Callable[[str, str], str], hooks: Hooks
) -> None:
    write(
        "quick.yaml",
        f"""
        name: quick
        notifications:
          - {{on: [sla], webhook: "{hooks.url}/sla", sla: 3600}}
        tasks: [{{key: a, type: shell, command: "true"}}]
        """,
    )
    run = baton.run("quick.yaml")
    assert hooks.received == []
    store = Store(settings_of(baton).database_url)
    try:
        assert store.read().notifications(run["id"]) == []  # dropped as the run ended
    finally:
        store.close()


def test_a_failing_webhook_is_retried_and_the_run_is_unaffected(
    baton: Any, write: Callable[[str, str], str], hooks: Hooks
) -> None:
    hooks.statuses = [500]
    write(
        "ok.yaml",
        f"""
        name: ok
        notifications: [{{on: [success], webhook: "{hooks.url}/x"}}]
        tasks: [{{key: a, type: shell, command: "true"}}]
        """,
    )
    proc = baton("run", "ok.yaml", "--json")
    run = json.loads(proc.stdout)
    assert run["state"] == "succeeded"  # and exit code 0 (checked by the fixture)
    assert proc.stderr == (
        f"baton: notification success of run {run['id']} (webhook 127.0.0.1) failed: "
        "HTTP 500: server error; retrying in 5s\n"
    )
    assert hooks.received == []
    settings = settings_of(baton)
    store = Store(settings.database_url)
    try:
        (row,) = store.read().notifications(run["id"])
        assert (row["state"], row["attempts"]) == ("pending", 1)
        assert row["error"] == "HTTP 500: server error"
        # The next sender to come by, 5 s later, succeeds.
        outbox.deliver_due(store, settings, row["next_at"], secrets=Secrets.empty)
        (row,) = store.read().notifications(run["id"])
        assert (row["state"], row["attempts"], row["error"]) == ("sent", 2, None)
    finally:
        store.close()
    (body,) = hooks.wait_for(1)
    assert body["run_id"] == run["id"]


# -- the timers, and several senders -----------------------------------------------------


def failed_runs(store: Store, hook_url: str, count: int) -> list[str]:
    """`count` runs of a flow notifying `hook_url` of failures, each failed (outbox filled)."""
    engine = Engine(store, rng=random.Random(0))
    spec = FlowSpec(
        name="many",
        tasks=(TaskSpec(key="a", type="shell", config={"command": "false"}),),
        notifications=validate([{"webhook": hook_url}]),
    )
    version = engine.register(spec)
    run_ids = [engine.create_run(version, {}) for _ in range(count)]
    claimed = engine.claim(worker_id="w", queues=["default"], limit=count, lease=30)
    engine.complete(
        [
            outcome_of(c, AttemptState.FAILED, at=time.time())  # a user error "boom"
            for c in claimed
        ]
    )
    return run_ids


def test_baton_scheduler_sends_what_is_due(baton: Any, hooks: Hooks) -> None:
    settings = settings_of(baton)
    Path(settings.home).mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    try:
        (run_id,) = failed_runs(store, f"{hooks.url}/timers", 1)
    finally:
        store.close()
    baton.start("scheduler")
    (body,) = hooks.wait_for(1)
    assert (body["event"], body["run_id"], body["url"]) == (
        "failure",
        run_id,
        f"{BASE_URL}/runs/{run_id}",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite:///{tmp_path}/baton.db"


def test_two_senders_send_each_notification_once(
    store_url: str, tmp_path: Path, hooks: Hooks
) -> None:
    settings = Settings(home=str(tmp_path), database_url=store_url, base_url=BASE_URL)
    store = Store(store_url)
    try:
        run_ids = failed_runs(store, f"{hooks.url}/race", 20)
    finally:
        store.close()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender() -> None:
        own = Store(store_url)
        try:
            start.wait(TIMEOUT)
            for _ in range(100):  # bounded: a pass sends up to outbox.BATCH
                if not own.read().due_notifications(time.time()):
                    break
                outbox.deliver_due(own, settings, time.time(), secrets=Secrets.empty)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert errors == []
    assert sorted(body["run_id"] for body in hooks.wait_for(20)) == sorted(run_ids)
