"""The approval routes: who may decide (403 for the others, changing nothing), the decision
and what it does to the run, concurrent deciders (one wins), and bad input (4xx naming the
field, changing nothing)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from baton.api.auth import create_token

GATE = """\
name: gate
params: {v: 1}
tasks:
  - key: ok
    type: approval
    prompt: "Ship {{ params.v }}?"
    approvers: [alice, "role:editor"]
    form: {amount_ok: {type: boolean, required: true}, note: {type: string, default: none}}
  - {key: after, type: shell, command: "echo after", depends_on: [ok]}
  - {key: plain, type: shell, command: "echo plain"}
"""


def started(client_for, define, worker, wait_until) -> str:
    """A run of `gate` whose approval task waits for a decision."""
    define(GATE)
    r = client_for("operator").post("/api/v1/flows/gate/runs", json={"params": {"v": 3}})
    assert r.status_code == 201, r.text
    worker.wake()
    viewer = client_for("viewer")
    wait_until(
        lambda: viewer.get("/api/v1/approvals").json()["items"],
        what="the approval to wait",
    )
    run_id: str = r.json()["id"]
    return run_id


def task_row(store, run_id: str, key: str = "ok") -> tuple[Any, ...]:
    r = store.read().task_runs(run_id, [key])[0]
    return (r.state, r.defer_state, r.attempts, r.result, r.error_kind)


def test_only_approvers_decide_others_get_403_and_change_nothing(
    client_for, define, worker, wait_until, store
):
    run_id = started(client_for, define, worker, wait_until)
    before = task_row(store, run_id)
    listed = client_for("operator", "bob").get("/api/v1/approvals").json()["items"]
    assert [(a["task"], a["prompt"], a["may_decide"]) for a in listed] == [("ok", "Ship 3?", False)]
    assert listed[0]["approvers"] == ["alice", "role:editor"]
    for role, user in (("viewer", "mallory"), ("operator", "bob"), ("viewer", "alicex")):
        for action in ("approve", "reject"):
            r = client_for(role, user).post(
                f"/api/v1/runs/{run_id}/tasks/ok/{action}", json={"inputs": {"amount_ok": True}}
            )
            assert r.status_code == 403, r.text
            assert "approvers are alice, role:editor" in r.json()["detail"]
    assert task_row(store, run_id) == before
    audit = store.read().audit(limit=100, actor=None, action=None)
    refused = [a for a in audit if a["action"].startswith("approvals.")]
    assert len(refused) == 6 and {a["outcome"] for a in refused} == {"refused"}
    assert {a["status"] for a in refused} == {403}

    alice = client_for("viewer", "alice")  # a viewer by role, an approver by name
    assert alice.get("/api/v1/approvals").json()["items"][0]["may_decide"] is True
    r = alice.post(
        f"/api/v1/runs/{run_id}/tasks/ok/approve",
        json={"comment": "fine", "inputs": {"amount_ok": True}},
    )
    assert r.status_code == 200, r.text
    decision = r.json()
    assert decision["decision"] == "approved" and decision["by"] == "alice"
    assert decision["inputs"] == {"amount_ok": True, "note": "none"}
    assert decision["comment"] == "fine" and decision["at"].endswith("Z")
    worker.wake()
    viewer = client_for("viewer")
    done = wait_until(
        lambda: (x := viewer.get(f"/api/v1/runs/{run_id}").json())["state"] == "succeeded" and x,
        what="the run to succeed",
    )
    ok = next(t for t in done["tasks"] if t["key"] == "ok")
    assert ok["state"] == "succeeded"
    assert json.loads(store.read().task_runs(run_id, ["ok"])[0].result) == {
        k: decision[k] for k in ("decision", "by", "at", "comment", "inputs")
    }
    assert viewer.get("/api/v1/approvals").json()["items"] == []
    r = alice.post(f"/api/v1/runs/{run_id}/tasks/ok/reject", json={})
    assert r.status_code == 409 and "not waiting for approval" in r.json()["detail"]


def test_of_100_concurrent_approvals_one_wins_the_rest_get_409(
    client_for, define, worker, wait_until, store, app
):
    run_id = started(client_for, define, worker, wait_until)
    with store.transaction() as tx:
        tokens = [create_token(tx, f"ed{i}", "editor")[1] for i in range(100)]

    async def decide_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/runs/{run_id}/tasks/ok/{'approve' if i % 2 else 'reject'}",
                        json={"inputs": {"amount_ok": "yes"}},
                        headers={"Authorization": f"Bearer {t}"},
                    )
                    for i, t in enumerate(tokens)
                )
            )

    answers = asyncio.run(decide_all())
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [409] * 99, codes
    winner = next(r.json() for r in answers if r.status_code == 200)
    assert task_row(store, run_id)[0] != "waiting"  # queued, or already run by the worker
    events = [e for e in store.read().events(run_id) if e["from_state"] == "waiting" and e["note"]]
    assert [e["note"] for e in events] == [f"{winner['decision']} by {winner['by']}"]


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    client_for, define, worker, wait_until, store
):
    run_id = started(client_for, define, worker, wait_until)
    before = task_row(store, run_id)
    editor = client_for("editor")
    url = f"/api/v1/runs/{run_id}/tasks/ok/approve"
    cases: list[tuple[Any, int, str]] = [
        ({"inputs": {}}, 422, "inputs.amount_ok: is required"),
        ({"inputs": {"amount_ok": "perhaps"}}, 422, "inputs.amount_ok: has the wrong type"),
        ({"inputs": {"amount_ok": True, "x": 1}}, 422, "inputs.x: is not a field of the form"),
        ({"inputs": [1, 2]}, 422, "inputs"),
        ({"inputs": {"amount_ok": True}, "surprise": 1}, 422, "surprise"),
        ({"comment": "c" * 2001, "inputs": {"amount_ok": True}}, 422, "comment"),
        ({"comment": 5, "inputs": {"amount_ok": True}}, 422, "comment"),
        ({"inputs": {f"f{i}": 1 for i in range(101)}}, 422, "inputs"),
        ("not json", 422, ""),
        ({"inputs": {"amount_ok": True}, "comment": "x" * (1 << 20)}, 413, ""),
    ]
    for body, status, named in cases:
        if isinstance(body, str):
            r = editor.post(url, content=body, headers={"Content-Type": "application/json"})
        else:
            r = editor.post(url, json=body)
        assert r.status_code == status, (body if len(str(body)) < 300 else status, r.text)
        assert named in r.text
        assert "Traceback" not in r.text
    assert editor.post("/api/v1/runs/nope/tasks/ok/approve", json={}).status_code == 404
    r = editor.post(f"/api/v1/runs/{run_id}/tasks/nope/approve", json={})
    assert r.status_code == 404 and "no task 'nope'" in r.json()["detail"]
    r = editor.post(f"/api/v1/runs/{run_id}/tasks/plain/approve", json={})
    assert r.status_code == 409 and "shell task, not an approval" in r.json()["detail"]
    r = editor.post(f"/api/v1/runs/{run_id}/tasks/{'k' * 301}/approve", json={})
    assert r.status_code == 422
    assert task_row(store, run_id) == before
    assert [a["task"] for a in editor.get("/api/v1/approvals").json()["items"]] == ["ok"]


def test_the_routes_are_in_the_openapi_document(client_for):
    doc = client_for(None).get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    assert "/api/v1/approvals" in paths
    for action in ("approve", "reject"):
        op = paths[f"/api/v1/runs/{{run_id}}/tasks/{{task}}/{action}"]["post"]
        assert op["tags"] == ["approvals"]
        assert "Decision" in json.dumps(op["requestBody"])


def test_a_secret_in_the_prompt_is_masked_in_the_list(
    client_for, define, worker, wait_until, settings
):
    secret = "hunter2-very-secret"
    Path(settings.home).mkdir(parents=True, exist_ok=True)
    Path(settings.home, "secrets.yaml").write_text(f'TOKEN: "{secret}"\n')
    define(GATE.replace("Ship {{ params.v }}?", "Ship with ${secret:TOKEN}?"))
    client_for("operator").post("/api/v1/flows/gate/runs", json={})
    worker.wake()
    viewer = client_for("viewer")
    items = wait_until(
        lambda: viewer.get("/api/v1/approvals").json()["items"], what="the approval to wait"
    )
    assert items[0]["prompt"] == "Ship with ***?"
    assert secret not in viewer.get("/api/v1/approvals").text


def test_a_cancelled_runs_approval_is_no_longer_pending(
    client_for, define, worker, wait_until, store
):
    run_id = started(client_for, define, worker, wait_until)
    operator = client_for("operator")
    assert operator.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200
    assert task_row(store, run_id)[0] == "cancelled"
    assert operator.get("/api/v1/approvals").json()["items"] == []
    r = client_for("editor").post(
        f"/api/v1/runs/{run_id}/tasks/ok/approve", json={"inputs": {"amount_ok": True}}
    )
    assert r.status_code == 409 and "is cancelled, not waiting" in r.json()["detail"]
