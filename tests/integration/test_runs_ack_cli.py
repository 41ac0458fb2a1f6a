"""`baton runs ack RUN [--comment]`: on the local store (audited as the OS user) and with
bad input (exit 2, the field named, nothing recorded)."""

from __future__ import annotations

import getpass
import sqlite3
from pathlib import Path

FLOW = """
name: etl
tasks: [{key: load, type: shell, command: "exit 3"}]
"""


def test_ack_a_failed_run_locally_once(baton, write, workdir: Path) -> None:
    write("etl.yaml", FLOW)
    run_id = baton.run("etl.yaml", check=1)["id"]
    out = baton("runs", "ack", run_id[:6], "--comment", "on it").stdout
    assert out == f"run {run_id} acknowledged: its escalation steps `unless: acknowledged` stop\n"
    again = baton.json("runs", "ack", run_id, "--comment", "me too")
    assert again["already_acknowledged"] is True
    assert (again["acknowledged_by"], again["comment"]) == (getpass.getuser(), "on it")
    text = baton("runs", "ack", run_id).stdout
    assert text.startswith(f"run {run_id} was already acknowledged by {getpass.getuser()} at ")
    with sqlite3.connect(workdir / ".baton" / "baton.db") as db:
        audit = db.execute(
            "SELECT actor, action, object_id, outcome, remote FROM audit_log ORDER BY id"
        ).fetchall()
    assert audit == [(getpass.getuser(), "runs.acknowledge", run_id, "ok", "local")] * 3


def test_bad_input_is_exit_2_naming_it(baton, write, workdir: Path) -> None:
    write("etl.yaml", FLOW)
    run_id = baton.run("etl.yaml", check=1)["id"]
    long = baton("runs", "ack", run_id, "--comment", "x" * 2001, check=2)
    assert "'comment' is 2001 characters long; at most 2000" in long.stderr
    assert "Traceback" not in long.stderr
    missing = baton("runs", "ack", "nosuchrun", check=2)
    assert "no run 'nosuchrun'" in missing.stderr
    assert "Traceback" not in missing.stderr
    usage = baton("runs", "ack", check=2)
    assert "RUN" in usage.stderr
    with sqlite3.connect(workdir / ".baton" / "baton.db") as db:
        assert db.execute("SELECT count(*) FROM run_acks").fetchone() == (0,)
