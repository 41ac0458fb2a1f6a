"""Approvals with namespaces, grants and groups: `group:NAME` approvers are the group's
members (`baton groups`), the default approvers (the flow's operators) count the effective
role on the flow (grants included), the pending list shows only flows the caller may see,
and a decision on a run of a flow the caller may not see is 404, changing nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from baton.api import grants
from baton.api.auth import create_token

GATE = """\
name: gate
namespace: finance
tasks:
  - {key: ok, type: approval, approvers: ["group:leads"]}
  - {key: dflt, type: approval}
"""
OTHER = """\
name: other
namespace: hr
tasks:
  - {key: ok, type: approval}
"""


def _people(app: Any, store: Any) -> dict[str, TestClient]:
    """Tokens without a global role: what each may do comes from grants and groups."""
    with store.transaction() as tx:
        tokens = {u: create_token(tx, u, None)[1] for u in ("gail", "otto", "hank")}
        grants.add_grant(tx, role="viewer", by="t", user="gail", namespace="finance")
        grants.add_grant(tx, role="operator", by="t", user="otto", namespace="finance")
        grants.add_grant(tx, role="operator", by="t", user="hank", namespace="hr")
        tx.add_group_member("leads", "gail", 0.0)
        tx.add_group_member("leads", "hank", 0.0)
    return {u: TestClient(app, headers={"Authorization": f"Bearer {t}"}) for u, t in tokens.items()}


def _pending(client: TestClient) -> list[tuple[str, str, bool]]:
    r = client.get("/api/v1/approvals")
    assert r.status_code == 200, r.text
    return sorted((a["flow"], a["task"], a["may_decide"]) for a in r.json()["items"])


def test_groups_and_grants_decide_who_approves(
    app, client_for, define, worker, wait_until, store
) -> None:
    define(GATE)
    define(OTHER)
    operator = client_for("operator")
    gate = operator.post("/api/v1/flows/finance/gate/runs", json={}).json()["id"]
    other = operator.post("/api/v1/flows/hr/other/runs", json={}).json()["id"]
    worker.wake()
    viewer = client_for("viewer")
    wait_until(
        lambda: len(viewer.get("/api/v1/approvals").json()["items"]) == 3,
        what="three approvals to wait",
    )
    people = _people(app, store)
    # Each sees the approvals of the flows it may see; may_decide by group or flow role.
    assert _pending(people["gail"]) == [
        ("finance/gate", "dflt", False),
        ("finance/gate", "ok", True),
    ]
    assert _pending(people["otto"]) == [
        ("finance/gate", "dflt", True),
        ("finance/gate", "ok", False),
    ]
    assert _pending(people["hank"]) == [("hr/other", "ok", True)]

    before = [r.state for r in store.read().task_runs(gate, ["ok", "dflt"])]
    # hank is in group leads, but finance is not his to see: 404, as for a missing run.
    r = people["hank"].post(f"/api/v1/runs/{gate}/tasks/ok/approve", json={})
    assert r.status_code == 404 and f"no run '{gate}'" in r.json()["detail"], r.text
    # gail only views finance: not one of the default approvers (the flow's operators).
    r = people["gail"].post(f"/api/v1/runs/{gate}/tasks/dflt/approve", json={})
    assert r.status_code == 403 and "role:operator" in r.json()["detail"], r.text
    # otto operates finance by a grant, but is not in leads.
    r = people["otto"].post(f"/api/v1/runs/{gate}/tasks/ok/reject", json={})
    assert r.status_code == 403 and "group:leads" in r.json()["detail"], r.text
    assert [r.state for r in store.read().task_runs(gate, ["ok", "dflt"])] == before

    r = people["gail"].post(f"/api/v1/runs/{gate}/tasks/ok/approve", json={"comment": "go"})
    assert r.status_code == 200 and r.json()["by"] == "gail", r.text
    r = people["otto"].post(f"/api/v1/runs/{gate}/tasks/dflt/approve", json={})
    assert r.status_code == 200 and r.json()["by"] == "otto", r.text
    r = people["hank"].post(f"/api/v1/runs/{other}/tasks/ok/reject", json={})
    assert r.status_code == 200 and r.json()["decision"] == "rejected", r.text
    worker.wake()
    wait_until(
        lambda: viewer.get(f"/api/v1/runs/{gate}").json()["state"] == "succeeded",
        what="the finance run to succeed",
    )
    assert _pending(viewer) == []
    for client in people.values():
        client.close()


def test_leaving_the_group_stops_the_approval_at_once(
    app, client_for, define, worker, wait_until, store
) -> None:
    define(GATE)
    run_id = client_for("operator").post("/api/v1/flows/finance/gate/runs", json={}).json()["id"]
    worker.wake()
    viewer = client_for("viewer")
    wait_until(lambda: viewer.get("/api/v1/approvals").json()["items"], what="an approval")
    people = _people(app, store)
    with store.transaction() as tx:
        assert tx.remove_group_member("leads", "gail")
    assert ("finance/gate", "ok", False) in _pending(people["gail"])
    r = people["gail"].post(f"/api/v1/runs/{run_id}/tasks/ok/approve", json={})
    assert r.status_code == 403, r.text
    for client in people.values():
        client.close()
