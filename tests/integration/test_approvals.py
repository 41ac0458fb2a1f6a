"""Approval tasks with real processes: `baton run` waits for a human, who decides with
`baton runs approve|reject` (on the store, or through a real `baton server` with a token);
timeouts with each on_timeout; concurrent deciders, of whom exactly one wins, on SQLite and
on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server_kit import Server

GATE = """
name: gate
tasks:
  - key: build
    type: shell
    command: echo built
  - key: ok
    type: approval
    prompt: "Ship {{ upstream.build }}?"
    depends_on: [build]
    form: {amount_ok: {type: boolean, required: true}}
    TIMEOUT
  - {key: ship, type: shell, command: echo shipped, depends_on: [ok]}
  - {key: on_reject, type: shell, command: echo handled, depends_on: [ok], trigger_rule: one_failed}
"""


def gate(timeout: str = "") -> str:
    return GATE.replace("TIMEOUT", timeout)


def waiting(baton: Any, h: Any, *flags: str) -> dict[str, Any]:
    """The one approval waiting (once it waits)."""
    found: list[dict[str, Any]] = h.wait_until(
        lambda: baton.json("approvals", *flags), what="the approval to wait"
    )
    assert len(found) == 1, found
    return found[0]


def started(baton: Any, write: Any, h: Any, flow: str) -> tuple[subprocess.Popen[str], str]:
    write("gate.yaml", flow)
    proc = baton.start("run", "gate.yaml", "--json")
    return proc, waiting(baton, h)["run_id"]


def finished(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def result(workdir: Path, run_id: str, key: str) -> Any:
    """A task's result, as the SQLite store of `baton run` keeps it."""
    conn = sqlite3.connect(workdir / ".baton" / "baton.db")
    try:
        (text,) = conn.execute(
            "SELECT result FROM task_runs WHERE run_id = ? AND task_key = ?", (run_id, key)
        ).fetchone()
    finally:
        conn.close()
    return json.loads(text)


def test_approve_on_the_cli_lets_downstream_run(baton, write, h, workdir):
    proc, run_id = started(baton, write, h, gate())
    pending = baton.json("approvals")[0]
    assert (pending["flow"], pending["task"], pending["prompt"]) == ("gate", "ok", "Ship built?")
    assert pending["approvers"] == ["role:operator"] and pending["may_decide"] is True
    out = baton("approvals").stdout
    assert "Ship built?" in out and "amount_ok (boolean)" in out

    bad = baton("runs", "approve", run_id, "ok", "-f", "amount_ok=perhaps", check=2)
    assert "inputs.amount_ok: has the wrong type" in bad.stderr and "Traceback" not in bad.stderr
    bad = baton("runs", "approve", run_id, "ok", "-f", "amount_ok", check=2)
    assert "form field" in bad.stderr and "-f" in bad.stderr
    bad = baton("runs", "approve", run_id, "build", check=2)
    assert "shell task, not an approval" in bad.stderr
    decision = baton.json(
        "runs", "approve", run_id[:8], "ok", "-f", "amount_ok=yes", "--comment", "fine"
    )
    assert decision["decision"] == "approved" and decision["by"].startswith("cli:")
    assert decision["inputs"] == {"amount_ok": True} and decision["comment"] == "fine"

    code, out, err = finished(proc)
    assert code == 0, err
    run = baton.json("runs", "show", run_id)
    assert h.states(run) == {
        "build": "succeeded",
        "ok": "succeeded",
        "ship": "succeeded",
        "on_reject": "skipped",
    }
    assert result(workdir, run_id, "ok") == {
        k: decision[k] for k in ("decision", "by", "at", "comment", "inputs")
    }
    assert baton.json("approvals") == []
    again = baton("runs", "reject", run_id, "ok", check=2)
    assert "is succeeded, not waiting for approval" in again.stderr
    audit = baton.json("audit", "--action", "approvals.approve")
    assert [(a["outcome"], a["status"]) for a in reversed(audit)] == [
        ("failed", 422),
        ("failed", 409),
        ("ok", 200),
    ]
    assert all(a["actor"].startswith("cli:") for a in audit)


def test_reject_fails_it_rejected_and_a_one_failed_branch_runs(baton, write, h):
    proc, run_id = started(baton, write, h, gate())
    said = baton("runs", "reject", run_id, "ok", "--comment", "not today").stdout
    assert said.strip() == f"task ok of run {run_id} rejected: not today"
    code, _, err = finished(proc)
    assert code == 1, err  # `ship` could not run: the run failed
    run = baton.json("runs", "show", run_id)
    assert h.states(run) == {
        "build": "succeeded",
        "ok": "failed",
        "ship": "upstream_failed",
        "on_reject": "succeeded",
    }
    ok = h.tasks(run)["ok"]
    assert ok["error_kind"] == "rejected" and "not today" in ok["error"]
    assert ok["attempts"] == 1  # a rejection is not retried


@pytest.mark.parametrize(
    ("on_timeout", "code", "ok_state", "error_kind", "ran"),
    [
        ("approve", 0, "succeeded", None, "ship"),
        ("reject", 1, "failed", "rejected", "on_reject"),
        ("fail", 1, "failed", "timeout", "on_reject"),
    ],
)
def test_a_timeout_does_on_timeout(
    baton, write, h, workdir, on_timeout, code, ok_state, error_kind, ran
):
    write("gate.yaml", gate(f"timeout: 1\n    on_timeout: {on_timeout}"))
    proc = baton.start("run", "gate.yaml", "--json")
    returned, _, err = finished(proc)  # nobody decides
    assert returned == code, err
    run = baton.json("runs", "show", run_id_of(baton))
    ok = h.tasks(run)["ok"]
    assert (ok["state"], ok["error_kind"]) == (ok_state, error_kind)
    assert h.states(run)[ran] == "succeeded"
    if on_timeout == "approve":
        assert result(workdir, run_id_of(baton), "ok")["by"] == "timeout"


def run_id_of(baton: Any) -> str:
    runs = baton.json("runs", "list")
    assert len(runs) == 1
    run_id: str = runs[0]["id"]
    return run_id


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest, baton: Any) -> str:
    if request.param == "postgres":
        baton.env["BATON_DATABASE_URL"] = request.getfixturevalue("pg_url")
    kind: str = request.param
    return kind


def test_through_a_server_only_approvers_decide_and_of_concurrent_deciders_one_wins(
    baton, store_kind, h
):
    server = Server(baton)
    if store_kind == "postgres":  # a cluster store: the server's timers, a worker's work
        baton.start("worker")
    server.define(gate().replace("    form:", '    approvers: [alice, "role:editor"]\n    form:'))
    run_id = server.trigger("gate")
    pending = waiting(baton, h, *server.flags("viewer"))
    assert pending["may_decide"] is False and pending["approvers"] == ["alice", "role:editor"]
    refused = baton(
        "runs", "approve", run_id, "ok", "-f", "amount_ok=yes", *server.flags("operator"), check=2
    )
    assert "may not decide" in refused.stderr and "role:editor" in refused.stderr
    assert waiting(baton, h)["run_id"] == run_id  # nothing changed

    # Six deciders at once, on the store (three approve, three reject): one wins.
    procs = [
        baton.start("runs", action, run_id, "ok", "-f", "amount_ok=no")
        for action in ("approve", "reject") * 3
    ]
    ends = [finished(p) for p in procs]
    assert sorted(code for code, _, _ in ends) == [0, 2, 2, 2, 2, 2], ends
    assert all("not waiting for approval" in err for code, _, err in ends if code == 2)
    winner = next(out for code, out, _ in ends if code == 0)
    approved = " approved" in winner

    def ended() -> Any:
        run = baton.json("runs", "show", run_id, *server.flags("viewer"))
        return run["state"] in ("succeeded", "failed") and run

    run = h.wait_until(ended, what="the run to end")
    ok = h.tasks(run)["ok"]
    if approved:
        assert ok["state"] == "succeeded"
        assert h.states(run)["ship"] == "succeeded"
    else:
        assert (ok["state"], ok["error_kind"]) == ("failed", "rejected")
        assert h.states(run)["on_reject"] == "succeeded"
    assert baton.json("approvals", *server.flags("editor")) == []
