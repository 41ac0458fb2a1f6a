"""OpenLineage end to end: real `baton run` processes send START, COMPLETE, FAIL and ABORT
events of every attempt through the outbox to a real local receiver (or a file); each event
received is validated with openlineage-python's models."""

from __future__ import annotations

import base64
import json
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from baton.execution.secrets import Secrets
from baton.notify import lineage, openlineage, outbox
from baton.settings import Settings
from baton.store.store import Store, Tx
from openlineage_kit import Receiver, validated

PASSWORD = "s3cr3t-Pw-91"

FLOW = """
name: orders
tasks:
  - {key: extract, type: shell, command: "true", inputs: [raw.orders], outputs: [staging.orders]}
  - key: load
    type: shell
    command: "true"
    depends_on: [extract]
    inputs: [staging.orders, raw.customers]
    outputs: [warehouse.orders]
  - {key: broken, type: shell, command: "echo boom >&2; exit 3", outputs: [warehouse.broken]}
  - {key: slow, type: shell, command: "sleep 30", timeout: 0.5}
"""

OK_FLOW = """
name: small
tasks:
  - {key: a, type: shell, command: "true", outputs: [s.a]}
  - {key: b, type: shell, command: "true", depends_on: [a], inputs: [s.a], outputs: [s.b]}
"""


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def by_job(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in sorted(events, key=lambda e: e["eventTime"]):
        out.setdefault(e["job"]["name"], []).append(e["eventType"])
    return out


def store_of(workdir: Path) -> Store:
    return Store(f"sqlite:///{workdir / '.baton' / 'baton.db'}")


def test_a_run_sends_start_and_end_of_every_attempt(baton, write, receiver, workdir) -> None:
    write("flow.yaml", FLOW)
    url = receiver.url.replace("http://", f"http://lineage:{PASSWORD}@")
    env = {"BATON_OPENLINEAGE_URL": url, "BATON_OPENLINEAGE_NAMESPACE": "prod"}
    proc = baton("run", "flow.yaml", "--json", check=1, env=env)
    run = json.loads(proc.stdout)
    assert run["state"] == "failed"
    events = receiver.wait_for(8)
    assert len(events) == 8, events  # sent once each
    for e in events:
        validated(e)
    assert by_job(events) == {
        "orders.extract": ["START", "COMPLETE"],
        "orders.load": ["START", "COMPLETE"],
        "orders.broken": ["START", "FAIL"],
        "orders.slow": ["START", "FAIL"],  # a timeout fails the attempt
    }
    load = [e for e in events if e["job"]["name"] == "orders.load"]
    for e in load:
        assert e["job"]["namespace"] == "prod"
        assert e["inputs"] == [
            {"namespace": "prod", "name": "staging.orders"},
            {"namespace": "prod", "name": "raw.customers"},
        ]
        assert e["outputs"] == [{"namespace": "prod", "name": "warehouse.orders"}]
    assert load[0]["run"]["runId"] == load[1]["run"]["runId"]
    assert len({e["run"]["runId"] for e in events}) == 4  # one OpenLineage run per attempt
    parents = {json.dumps(e["run"]["facets"]["parent"], sort_keys=True) for e in events}
    (parent,) = parents  # every task's parent is the one baton run
    facet = json.loads(parent)
    assert facet["job"] == {"namespace": "prod", "name": "orders"}
    assert facet["run"]["runId"] == openlineage.run_uuid(run["id"], _created(workdir, run["id"]))
    fail = next(
        e for e in events if e["job"]["name"] == "orders.broken" and e["eventType"] == "FAIL"
    )
    assert fail["run"]["facets"]["errorMessage"]["message"]  # the attempt's error
    assert "errorMessage" not in load[1]["run"]["facets"]
    token = base64.b64encode(f"lineage:{PASSWORD}".encode()).decode()
    assert receiver.auth == [f"Basic {token}"] * 8  # user:password of the URL, as basic auth
    assert PASSWORD not in proc.stdout + proc.stderr


def test_a_cancelled_run_aborts_its_running_attempt(baton, write, receiver, h) -> None:
    write(
        "flow.yaml",
        """
        name: waits
        tasks:
          - {key: nap, type: shell, command: "sleep 60", outputs: [w.nap]}
        """,
    )
    baton.env["BATON_OPENLINEAGE_URL"] = receiver.url
    proc = baton.start("run", "flow.yaml")
    (start,) = receiver.wait_for(1)  # sent while it runs
    assert start["eventType"] == "START"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    events = receiver.wait_for(2)
    assert [e["eventType"] for e in events] == ["START", "ABORT"]
    for e in events:
        validated(e)
    assert events[1]["run"]["runId"] == start["run"]["runId"]
    assert events[1]["outputs"] == [{"namespace": "baton", "name": "w.nap"}]


def test_a_receiver_down_fails_nothing_and_a_server_sends_later(baton, write, workdir) -> None:
    write("flow.yaml", OK_FLOW)
    port = free_port()  # nothing listens there yet
    url = f"http://u:{PASSWORD}@127.0.0.1:{port}"
    began = time.monotonic()
    proc = baton("run", "flow.yaml", "--json", env={"BATON_OPENLINEAGE_URL": url})
    took = time.monotonic() - began
    run = json.loads(proc.stdout)
    assert run["state"] == "succeeded"
    assert took < 5.0, took  # a refused connection is not waited on
    assert "OpenLineage receiver http://127.0.0.1" in proc.stderr
    assert PASSWORD not in proc.stderr
    # One failure a pass (the sender's, the last one's), not one per event (4).
    assert len(proc.stderr.splitlines()) < 4, proc.stderr
    receiver = Receiver(port)
    try:
        # What a server does (`outbox.serve`), an hour later by its clock: sends what is due.
        settings = Settings(
            home=str(workdir / ".baton"),
            database_url=f"sqlite:///{workdir / '.baton' / 'baton.db'}",
            openlineage_url=url,
        )
        s = Store(settings.database_url)
        try:
            outbox.deliver_due(s, settings, time.time() + 3600, secrets=Secrets.empty)
            rows = s.read().notifications(run["id"])
        finally:
            s.close()
        events = receiver.wait_for(4)
        assert by_job(events) == {
            "small.a": ["START", "COMPLETE"],
            "small.b": ["START", "COMPLETE"],
        }
        for e in events:
            validated(e)
        assert {r["state"] for r in rows} == {"sent"}
        assert len(rows) == 4
    finally:
        receiver.close()


def test_an_error_answer_is_retried_and_never_shows_the_password(baton, write) -> None:
    receiver = Receiver(status=500)
    try:
        write("flow.yaml", OK_FLOW)
        url = receiver.url.replace("http://", f"http://u:{PASSWORD}@")
        proc = baton("run", "flow.yaml", env={"BATON_OPENLINEAGE_URL": url})
        assert "answered HTTP 500" in proc.stderr
        assert "retrying in 5s" in proc.stderr
        assert PASSWORD not in proc.stderr + proc.stdout
    finally:
        receiver.close()


def test_the_file_sink_writes_json_lines(baton, write, workdir) -> None:
    write("flow.yaml", OK_FLOW)
    path = workdir / "lineage" / "events.jsonl"
    path.parent.mkdir()
    baton("run", "flow.yaml", env={"BATON_OPENLINEAGE_FILE": str(path)})
    baton("run", "flow.yaml", env={"BATON_OPENLINEAGE_FILE": str(path)})
    lines = path.read_text().splitlines()
    assert len(lines) == 8
    events = [json.loads(line) for line in lines]
    for e in events:
        validated(e)
    assert sorted(e["eventType"] for e in events) == ["COMPLETE"] * 4 + ["START"] * 4
    assert len({e["run"]["facets"]["parent"]["run"]["runId"] for e in events}) == 2


def test_a_run_sends_more_events_than_one_batch_before_it_exits(baton, write, workdir) -> None:
    n = outbox.BATCH  # 2 events a task: twice a batch
    tasks = "\n".join(
        f"  - {{key: t{i}, type: shell, command: 'true', outputs: [fan.t{i}]}}" for i in range(n)
    )
    write("flow.yaml", f"name: fan\ntasks:\n{tasks}\n")
    path = workdir / "events.jsonl"
    baton("run", "flow.yaml", env={"BATON_OPENLINEAGE_FILE": str(path)})
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(events) == 2 * n
    assert {(e["job"]["name"], e["eventType"]) for e in events} == {
        (f"fan.t{i}", kind) for i in range(n) for kind in ("START", "COMPLETE")
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BATON_OPENLINEAGE_URL", f"ftp://u:{PASSWORD}@host/x"),
        ("BATON_OPENLINEAGE_URL", f"http://u:{PASSWORD}@host:99999"),
        ("BATON_OPENLINEAGE_NAMESPACE", " spaced "),
    ],
)
def test_a_bad_setting_is_refused_naming_it(baton, write, name, value) -> None:
    write("flow.yaml", OK_FLOW)
    proc = baton("run", "flow.yaml", check=2, env={name: value})
    assert name in proc.stderr
    assert "Traceback" not in proc.stderr
    assert PASSWORD not in proc.stderr


def test_the_servers_feed_reads_every_run_once(baton, write, receiver, workdir) -> None:
    """Servers share one cursor in the store: what ran (here, a `baton run` with no
    OpenLineage of its own) is queued once, however many servers read it."""
    settings = Settings(
        home=str(workdir / ".baton"),
        database_url=f"sqlite:///{workdir / '.baton' / 'baton.db'}",
        openlineage_url=receiver.url,
    )
    write("flow.yaml", OK_FLOW)
    baton("run", "flow.yaml")  # before the feed started: not sent (no backfill)
    s = Store(settings.database_url)
    try:
        first, second = lineage.Feed(settings), lineage.Feed(settings)
        assert first.step(s, time.time()) == 0  # starts the cursor at the newest event
        run = baton.run("flow.yaml")
        queued = first.step(s, time.time()) + second.step(s, time.time())
        assert queued == 4
        assert second.step(s, time.time()) == first.step(s, time.time()) == 0
        outbox.deliver_due(s, settings, time.time(), secrets=Secrets.empty)
    finally:
        s.close()
    events = receiver.wait_for(4)
    assert len(events) == 4
    for e in events:
        validated(e)
    parent = openlineage.run_uuid(run["id"], _created(workdir, run["id"]))
    assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in events} == {parent}


def _created(workdir: Path, run_id: str) -> float:
    s = store_of(workdir)
    try:
        return float(s.read().run(run_id).created_at)
    finally:
        s.close()


def test_baton_scheduler_sends_the_events_of_runs_it_did_not_start(
    baton, write, receiver, workdir, h
) -> None:
    write("flow.yaml", OK_FLOW)
    baton.env["BATON_OPENLINEAGE_URL"] = receiver.url
    scheduler = baton.start("scheduler", "--path", ".")
    del baton.env["BATON_OPENLINEAGE_URL"]

    def started() -> bool:
        if not (workdir / ".baton" / "baton.db").exists():
            return False
        s = store_of(workdir)
        try:
            return s.read().feed_cursor(lineage.FEED) is not None
        finally:
            s.close()

    h.wait_until(started, what="the scheduler's feed to start")
    run = baton.run("flow.yaml")  # no OpenLineage of its own: the scheduler sends
    events = receiver.wait_for(4)
    assert by_job(events) == {"small.a": ["START", "COMPLETE"], "small.b": ["START", "COMPLETE"]}
    for e in events:
        validated(e)
    parent = openlineage.run_uuid(run["id"], _created(workdir, run["id"]))
    assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in events} == {parent}
    assert scheduler.poll() is None


def test_a_cluster_sends_the_events_through_its_server(baton, write, receiver, pg_url, h) -> None:
    """PostgreSQL: workers run the tasks, the scheduler's feed reads their events (once
    they have settled: SETTLE seconds) and sends them."""
    write("flow.yaml", OK_FLOW)
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_OPENLINEAGE_URL"] = receiver.url
    baton.start("scheduler", "--path", ".")

    def started() -> bool:
        s = Store(pg_url)
        try:
            return s.read().feed_cursor(lineage.FEED) is not None
        finally:
            s.close()

    h.wait_until(started, what="the scheduler's feed to start")
    baton.start("worker")
    baton.run("flow.yaml")  # created here, run by the worker
    events = receiver.wait_for(4, timeout=60)
    assert len(events) == 4
    assert by_job(events) == {"small.a": ["START", "COMPLETE"], "small.b": ["START", "COMPLETE"]}
    for e in events:
        validated(e)


def test_a_server_that_loses_the_race_for_the_cursor_queues_nothing(
    baton, write, receiver, workdir, monkeypatch
) -> None:
    settings = Settings(
        home=str(workdir / ".baton"),
        database_url=f"sqlite:///{workdir / '.baton' / 'baton.db'}",
        openlineage_url=receiver.url,
    )
    write("flow.yaml", OK_FLOW)
    baton("run", "flow.yaml")
    s, other = Store(settings.database_url), Store(settings.database_url)
    try:
        feed = lineage.Feed(settings)
        feed.step(s, time.time())
        start = s.read().feed_cursor(lineage.FEED)
        assert start is not None
        baton("run", "flow.yaml")
        read_changes = Tx.attempt_changes

        def raced(self: Tx, after_id: int, **kw: Any) -> Any:
            got = read_changes(self, after_id, **kw)
            with other.transaction() as tx:  # another server queues them meanwhile
                assert tx.move_feed(lineage.FEED, after_id, got[0], time.time())
            return got

        monkeypatch.setattr(Tx, "attempt_changes", raced)
        assert feed.step(s, time.time()) == 0  # its rows rolled back with the lost update
        assert s.read().due_notifications(time.time() + 1) == []
        assert s.read().feed_cursor(lineage.FEED) != start
    finally:
        s.close()
        other.close()
