"""Run routes: list with filters and cursor pages, one run with its attempts, cancel, repair,
resume; run by a worker thread, as `baton server` runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baton.engine.service import Engine
from baton.model import yaml_spec
from baton.model.times import iso
from baton.store.store import Store
from waiting import wait_until

TWO = """
name: two
params:
  fail: {type: boolean, default: false}
tasks:
  - key: first
    type: shell
    command: "echo first"
  - key: flaky
    type: shell
    command: "echo try $BATON_ATTEMPT; test $BATON_ATTEMPT -ge 2"
    retries: 1
    depends_on: [first]
"""


def run_of(client, run_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/runs/{run_id}")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def ended(client, run_id: str) -> dict[str, Any]:
    return wait_until(
        lambda: (
            (r := run_of(client, run_id))["state"] in ("succeeded", "failed", "cancelled") and r
        ),
        timeout=20,
        what=f"run {run_id} to end",
    )


def make_runs(store: Store, flow: str, times: list[float]) -> list[str]:
    """Runs of a one-task flow created at these times (none of them run)."""
    spec = yaml_spec.load_yaml_flow(
        f"name: {flow}\ntasks: [{{key: a, type: shell, command: 'true'}}]\n", file="x"
    )
    ids = []
    for t in times:
        engine = Engine(store, clock=lambda t=t: t)
        ids.append(engine.create_run(engine.register(spec), {}))
    return ids


def test_list_pages_newest_first_with_filters(client_for, store):
    base = 1_700_000_000.0
    # Two runs at the same instant: the cursor tells them apart by id.
    a = make_runs(store, "alpha", [base, base + 1, base + 1, base + 2, base + 3])
    b = make_runs(store, "beta", [base + 1.5, base + 4])
    Engine(store).cancel(a[0])
    viewer = client_for("viewer")
    everything = viewer.get("/api/v1/runs", params={"limit": 500}).json()
    assert everything["next_cursor"] is None
    order = [r["id"] for r in everything["items"]]
    by_time = sorted(((r["created_at"], r["id"]) for r in everything["items"]), reverse=True)
    assert order == [i for _, i in by_time] and set(order) == set(a + b)
    first = everything["items"][0]
    assert first == {
        "id": b[1],
        "flow": "beta",
        "state": "queued",
        "trigger": "manual",
        "trigger_detail": None,
        "params": {},
        "logical_date": None,
        "created_at": iso(base + 4),
        "started_at": None,
        "ended_at": None,
        "parent_run_id": None,
        "partition": None,
    }

    def pages(**query: Any) -> list[str]:
        seen: list[str] = []
        cursor = None
        for _ in range(20):
            page = viewer.get("/api/v1/runs", params={**query, "cursor": cursor}).json()
            seen += [r["id"] for r in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                return seen
        raise AssertionError("too many pages")

    assert pages(limit=2) == order
    assert pages(limit=1, flow="alpha") == [i for i in order if i in a]
    assert pages(state="cancelled") == [a[0]]
    after = iso(base + 1)
    assert pages(created_after=after, created_before=iso(base + 3)) == [
        i for i in order if i in (a[1], a[2], a[3], b[0])
    ]
    assert pages(created_after="2023-11-14T22:13:21+00:00") == pages(
        created_after="2023-11-14T22:13:21"  # no zone: UTC
    )
    assert pages(flow="nope") == []

    for query, loc in (
        ({"cursor": "x"}, ["query", "cursor"]),
        ({"cursor": "WyJhIiwgMV0"}, ["query", "cursor"]),  # base64 of JSON, not a run's
        ({"state": "done"}, ["query", "state"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"created_after": "yesterday"}, ["query", "created_after"]),
    ):
        r = viewer.get("/api/v1/runs", params=query)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, (query, r.text)


def test_a_run_with_its_tasks_and_attempts(client_for, define, worker):
    define(TWO)
    run = client_for("operator").post("/api/v1/flows/two/runs", json={}).json()
    worker.wake()
    viewer = client_for("viewer")
    done = ended(viewer, run["id"])
    assert done["state"] == "succeeded"
    assert run_of(viewer, run["id"][:6]) == done  # a unique prefix is enough
    first, flaky = done["tasks"]
    assert (first["key"], first["type"], first["depends_on"]) == ("first", "shell", [])
    assert (flaky["key"], flaky["depends_on"], flaky["attempts"]) == ("flaky", ["first"], 2)
    assert flaky["child_run_id"] is None and done["children"] == []
    one, two = flaky["attempt_list"]
    assert (one["number"], one["state"], one["error_kind"]) == (1, "failed", "user")
    assert "exit" in one["error"] or "1" in one["error"]
    assert (two["number"], two["state"], two["error"]) == (2, "succeeded", None)
    assert one["worker_id"] == worker.id and one["started_at"] <= one["ended_at"]
    assert viewer.get(f"/api/v1/runs/{run['id']}/logs/flaky?attempt=1").json()["text"] == (
        "try 1\n"
    )

    r = viewer.get("/api/v1/runs/ffffffffffff")
    assert r.status_code == 404 and r.json()["detail"].startswith("no run 'ffffffffffff'")


CACHED = """
name: cached
tasks:
  - {key: once, type: shell, command: "echo computed", cache: true}
  - {key: after, type: shell, command: "echo after", depends_on: [once]}
"""


def test_a_cached_task_run_shows_where_its_result_comes_from(client_for, define, worker):
    define(CACHED)
    operator, viewer = client_for("operator"), client_for("viewer")
    runs = []
    for _ in range(2):
        runs.append(operator.post("/api/v1/flows/cached/runs", json={}).json()["id"])
        worker.wake()
        assert ended(viewer, runs[-1])["state"] == "succeeded"
    first, second = (run_of(viewer, r)["tasks"] for r in runs)
    assert (first[0]["cached"], first[0]["cached_from"], first[0]["attempts"]) == (False, None, 1)
    once, after = second
    assert (once["state"], once["attempts"], once["attempt_list"]) == ("succeeded", 0, [])
    assert once["cached"] is True and once["cached_from"] == {"run_id": runs[0], "attempt": 1}
    assert after["cached"] is False and after["attempts"] == 1


def test_cancel_a_running_run(client_for, define, worker, tmp_path: Path):
    go = tmp_path / "go"
    define(
        "name: slow\ntasks:\n"
        "  - key: wait\n    type: shell\n"
        f"    command: 'echo started; for i in $(seq 400); do [ -f {go} ] && exit 0; "
        "sleep 0.05; done; exit 1'\n"
        "  - {key: after, type: shell, command: 'true', depends_on: [wait]}\n"
    )
    operator, viewer = client_for("operator"), client_for("viewer")
    run_id = operator.post("/api/v1/flows/slow/runs", json={}).json()["id"]
    worker.wake()
    wait_until(
        lambda: run_of(viewer, run_id)["tasks"][0]["state"] == "running",
        timeout=20,
        what="the task to start",
    )
    r = operator.post(f"/api/v1/runs/{run_id}/cancel")
    assert r.status_code == 200 and r.json()["state"] in ("cancelling", "cancelled")
    done = ended(viewer, run_id)
    assert done["state"] == "cancelled"
    assert [t["state"] for t in done["tasks"]] == ["cancelled", "cancelled"]
    r = operator.post(f"/api/v1/runs/{run_id}/cancel")  # already ended: a no-op
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert viewer.post(f"/api/v1/runs/{run_id}/cancel").status_code == 403
    audit = client_for("admin").get("/api/v1/audit", params={"action": "runs.cancel"}).json()
    assert [(e["object_id"], e["status"]) for e in audit["items"]] == [
        (run_id, 403),
        (run_id, 200),
        (run_id, 200),
    ]


def test_repair_a_failed_run(client_for, define, worker, tmp_path: Path):
    ok = tmp_path / "ok"
    define(
        "name: fragile\ntasks:\n"
        "  - {key: a, type: shell, command: 'echo a'}\n"
        f"  - {{key: b, type: shell, command: 'test -f {ok}', depends_on: [a]}}\n"
        "  - {key: c, type: shell, command: 'echo c', depends_on: [b]}\n"
    )
    operator, viewer = client_for("operator"), client_for("viewer")
    run_id = operator.post("/api/v1/flows/fragile/runs", json={}).json()["id"]
    worker.wake()
    failed = ended(viewer, run_id)
    assert [t["state"] for t in failed["tasks"]] == ["succeeded", "failed", "upstream_failed"]

    ok.write_text("")
    r = operator.post(f"/api/v1/runs/{run_id[:8]}/repair")
    assert r.status_code == 201, r.text
    repair = r.json()
    assert (repair["parent_run_id"], repair["trigger"]) == (run_id, "repair")
    worker.wake()
    done = ended(viewer, repair["id"])
    assert done["state"] == "succeeded"
    assert [(t["key"], t["attempts"]) for t in done["tasks"]] == [("a", 0), ("b", 1), ("c", 1)]
    assert run_of(viewer, run_id)["children"] == [repair["id"]]

    r = operator.post(f"/api/v1/runs/{repair['id']}/repair")
    assert r.status_code == 422 and "nothing to repair" in r.json()["detail"]
    r = operator.post("/api/v1/runs/nope/repair")
    assert r.status_code == 404


def test_resume_retries_what_a_dead_worker_left(client_for, define, store, request):
    define(TWO.replace("retries: 1", "retries: 0").replace("-ge 2", "-ge 1"))
    operator, viewer = client_for("operator"), client_for("viewer")
    run_id = operator.post("/api/v1/flows/two/runs", json={}).json()["id"]
    # A worker claims the first task and dies: its lease is already over.
    [claimed] = Engine(store).claim(worker_id="dead", queues=["default"], limit=1, lease=-1)
    assert claimed.task_key == "first"
    r = operator.post(f"/api/v1/runs/{run_id}/resume")
    assert r.status_code == 200, r.text
    first = r.json()["tasks"][0]
    assert first["state"] == "queued"  # a lost attempt is retried, retries or not
    assert first["attempt_list"][0]["error_kind"] == "lost"

    worker = request.getfixturevalue("worker")
    worker.wake()
    done = ended(viewer, run_id)
    assert done["state"] == "succeeded"
    assert done["tasks"][0]["attempts"] == 2
    r = operator.post(f"/api/v1/runs/{run_id}/resume")
    assert (
        r.status_code == 422
        and "already ended succeeded: nothing to resume" in (r.json()["detail"])
    )


@pytest.mark.parametrize("action", ["cancel", "repair", "resume"])
def test_operator_actions_need_the_operator_role(client_for, store, action):
    [run_id] = make_runs(store, "f", [1.0])
    assert client_for("viewer").post(f"/api/v1/runs/{run_id}/{action}").status_code == 403
    assert client_for(None).post(f"/api/v1/runs/{run_id}/{action}").status_code == 401


def test_secrets_never_show(client_for, define, monkeypatch):
    monkeypatch.setenv("BATON_SECRET_API_KEY", "s3cret-value")
    define("name: leaky\nparams: {key: x}\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    run = client_for("operator").post(
        "/api/v1/flows/leaky/runs", json={"params": {"key": "s3cret-value"}}
    )
    assert run.json()["params"] == {"key": "***"}
    listed = client_for("viewer").get("/api/v1/runs").json()["items"]
    assert listed[0]["params"] == {"key": "***"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ('{"params": {"label": "\\ud800"}}', ["body", "params", "label"]),
        ('{"params": {"\\udcff": 1}}', ["body", "params", "\udcff"]),
        ('{"note": "ok \\udcff"}', ["body", "note"]),
        ('{"params": {"xs": ["a", "\\ud800x"]}}', ["body", "params", "xs", 1]),
    ],
)
def test_text_that_is_not_unicode_is_refused_naming_the_field(client_for, define, store, body, loc):
    # Stored, a lone surrogate broke the run's API answer and its page (500) for good.
    define(TWO)
    r = client_for("operator").post(
        "/api/v1/flows/two/runs", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, r.text
    assert store.read().runs(flow="two", limit=5) == []
    # A valid pair (an emoji written as two escapes) is text like any other.
    ok = client_for("operator").post(
        "/api/v1/flows/two/runs",
        content='{"note": "\\ud83d\\ude00"}',
        headers={"Content-Type": "application/json"},
    )
    assert ok.status_code == 201, ok.text
    detail = client_for("viewer").get(f"/api/v1/runs/{ok.json()['id']}").json()
    assert detail["trigger_info"]["note"] == "\U0001f600"
