"""Escalation end to end: the timers send each step once through a real SMTP server
(aiosmtpd) and real HTTP receivers, an acknowledgement stops the rest, and two real `baton
server` processes on one PostgreSQL never send a step twice."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.engine import acknowledgement
from baton.engine.service import Engine
from baton.execution.loader import LoadedFlow
from baton.execution.secrets import Secrets
from baton.model.states import AttemptState
from baton.model.yaml_spec import load_yaml_flow
from baton.notify import outbox
from baton.scheduling.registration import deploy
from baton.scheduling.timers import Timers
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import Clock, outcome_of
from local_http import LocalServer
from server_kit import Server
from waiting import wait_until

BASE_URL = "http://baton.example:8080"
T0 = 1_767_571_200.0  # 2026-01-05T00:00:00Z


class Hooks(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, Any]] = []
    changed = threading.Condition()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Hooks.changed:
            Hooks.received.append((self.path, body))
            Hooks.changed.notify_all()
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hooks() -> Iterator[str]:
    Hooks.received = []
    server = LocalServer(Hooks)
    try:
        yield server.url
    finally:
        server.close()


def test_the_timers_send_each_step_once_by_email_and_slack_until_acknowledged(
    tmp_path: Path, smtp, hooks: str
) -> None:
    box, port = smtp
    url = f"sqlite:///{tmp_path}/baton.db"
    settings = Settings(
        home=str(tmp_path),
        database_url=url,
        base_url=BASE_URL,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="baton@example.com",
    )
    flow = f"""
        name: etl
        notifications:
          - on: [failure]
            webhook: {hooks}/first
            escalate:
              - {{after: 15m, unless: acknowledged, email: [lead@example.com]}}
              - {{after: 1h, unless: acknowledged, slack: "{hooks}/slack"}}
              - {{after: 2h, unless: acknowledged, webhook: "{hooks}/pager"}}
        tasks: [{{key: load, type: shell, command: "exit 3"}}]
        """
    store = Store(url)
    try:
        deploy(store, [LoadedFlow(load_yaml_flow(textwrap.dedent(flow), file="etl.yaml"))])
        clock = Clock(T0)
        engine = Engine(store, clock=clock)
        run_id = engine.create_run(store.read().flow("etl").latest_version, {})  # type: ignore[union-attr]
        (c,) = engine.claim(worker_id="w", queues=["default"], limit=1, lease=30)
        engine.complete([outcome_of(c, AttemptState.FAILED, at=T0, error="exit status 3")])
        timers = Timers(engine, settings, clock=clock, holder="test")

        def minute(now: float) -> None:  # a round of the timers, then a pass of the sender
            clock.now = now
            timers.tick()
            outbox.deliver_due(store, settings, now, secrets=Secrets.empty, timeout=10)

        for now in (T0, T0 + 899, T0 + 900, T0 + 960, T0 + 3600, T0 + 3660):
            minute(now)
        acknowledgement.acknowledge(store, run_id, "ann", "looking", T0 + 3700)
        for now in (T0 + 7200, T0 + 7260, T0 + 86400):
            minute(now)
    finally:
        store.close()
    ((to, msg),) = box.received
    assert to == ["lead@example.com"]
    subject = " ".join(msg["Subject"].split())  # a long subject is folded
    assert subject == f"[baton] escalation 1/3 after 15m: flow etl run {run_id} failed"
    text = msg.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "exit status 3" in body and f"{BASE_URL}/runs/{run_id}" in body
    assert [path for path, _ in Hooks.received] == ["/first", "/slack"]  # not the pager
    slack = Hooks.received[1][1]
    assert slack["text"] == (
        f"escalation 2/3 after 1h: flow etl run {run_id} failed: {BASE_URL}/runs/{run_id}"
    )
    assert set(slack) == {"text", "blocks"}


def test_two_servers_never_send_a_step_twice_and_ack_works_through_one(
    baton, write, pg_url: str, hooks: str
) -> None:
    baton.env["BATON_DATABASE_URL"] = pg_url
    write(
        "etl.yaml",
        f"""
        name: etl
        notifications:
          - on: [failure]
            webhook: {hooks}/first
            escalate:
              - {{after: 1, webhook: "{hooks}/s1"}}
              - {{after: 2, unless: acknowledged, webhook: "{hooks}/s2"}}
              - {{after: 8, unless: acknowledged, webhook: "{hooks}/s3"}}
        tasks: [{{key: load, type: shell, command: "exit 3"}}]
        """,
    )
    first = Server(baton)
    second = baton.start("server", "--port", "0")
    assert "serving" in second.stderr.readline()  # type: ignore[union-attr]
    baton.start("worker")
    run = baton.run("etl.yaml", "--wait", check=1)
    run_id = run["id"]
    with Hooks.changed:
        assert Hooks.changed.wait_for(
            lambda: {"/s1", "/s2"} <= {p for p, _ in Hooks.received}, 30
        ), Hooks.received
    acked = baton.json("runs", "ack", run_id[:8], "--comment", "mine", *first.flags())
    assert (acked["run_id"], acked["acknowledged_by"]) == (run_id, "operator-user")
    store = Store(pg_url)
    try:
        # Step 3 comes due 8 s after the failure: the lock holder finds the run acknowledged.
        wait_until(
            lambda: store.read().escalations(run_id)[0]["state"] == "stopped",
            what="the escalation to stop",
        )
        rows = store.read().notifications(run_id)
        wait_until(lambda: all(r["state"] == "sent" for r in store.read().notifications(run_id)))
        audit = store.read().audit(action="runs.acknowledge")
    finally:
        store.close()
    assert sorted(r["key"].rsplit(":", 1)[1] for r in rows if "escalate" in r["key"]) == ["0", "1"]
    paths = sorted(p for p, _ in Hooks.received)
    assert paths == ["/first", "/s1", "/s2"]  # each once, whichever server sent it
    assert [(a["actor"], a["outcome"]) for a in audit] == [("operator-user", "ok")]
    s2 = next(b for p, b in Hooks.received if p == "/s2")
    assert (s2["event"], s2["run_id"], s2["escalation"]["step"]) == ("failure", run_id, 2)
