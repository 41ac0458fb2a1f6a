"""The partition routes: a flow's keys with status (cursor pages, status filter, counts),
dynamic sets' keys (add, remove, list; operator to change, audited), a run triggered for a
partition; and what bad or oversized input gets (4xx naming the field)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from baton.engine.service import Engine
from baton.model.states import AttemptState
from baton.scheduling import partition_backfills
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import outcome_of

REGIONS = "name: regions\npartitions: {type: static, values: [eu, us, apac, latam]}\n" + (
    "tasks: [{key: a, type: shell, command: 'true'}]\n"
)
CUSTOMERS = "name: bill\npartitions: {type: dynamic, name: customers}\n" + (
    "tasks: [{key: a, type: shell, command: 'true'}]\n"
)


def finish(store: Store, run_id: str, state: AttemptState) -> None:
    engine = Engine(store)
    while claimed := engine.claim(
        worker_id="w", queues=("default",), limit=10, run_ids=[run_id], lease=30
    ):
        engine.complete([outcome_of(c, state, at=engine.clock()) for c in claimed])


def test_a_flows_keys_with_status_by_pages(client_for, define, store: Store) -> None:
    define(REGIONS)
    operator = client_for("operator")
    runs = {}
    for key in ("eu", "us", "apac"):
        r = operator.post("/api/v1/flows/regions/runs", json={"partition": key})
        assert r.status_code == 201, r.text
        assert r.json()["partition"] == key
        runs[key] = r.json()["id"]
    finish(store, runs["eu"], AttemptState.SUCCEEDED)
    finish(store, runs["us"], AttemptState.FAILED)
    viewer = client_for("viewer")
    page = viewer.get("/api/v1/flows/regions/partitions").json()
    assert page["type"] == "static"
    assert page["total"] == 4
    assert page["counts"] == {"succeeded": 1, "failed": 1, "running": 1, "missing": 1}
    assert [(i["key"], i["status"], i["run_id"]) for i in page["items"]] == [
        ("eu", "succeeded", runs["eu"]),
        ("us", "failed", runs["us"]),
        ("apac", "running", runs["apac"]),
        ("latam", "missing", None),
    ]
    picked = viewer.get(
        "/api/v1/flows/regions/partitions", params={"status": ["failed", "missing"]}
    ).json()
    assert [i["key"] for i in picked["items"]] == ["us", "latam"]
    assert picked["counts"] == page["counts"]  # over all keys
    seen, cursor = [], None
    for _ in range(10):
        got = viewer.get(
            "/api/v1/flows/regions/partitions", params={"limit": 3, "cursor": cursor}
        ).json()
        seen += [i["key"] for i in got["items"]]
        if (cursor := got["next_cursor"]) is None:
            break
    assert seen == ["eu", "us", "apac", "latam"]


def test_one_active_run_per_partition_and_bad_keys(client_for, define) -> None:
    define(REGIONS)
    operator = client_for("operator")
    assert operator.post("/api/v1/flows/regions/runs", json={"partition": "eu"}).status_code == 201
    again = operator.post("/api/v1/flows/regions/runs", json={"partition": "eu"})
    assert again.status_code == 409
    assert "already has an active run for partition 'eu'" in again.json()["detail"]
    for body, says in [
        ({"partition": "mars"}, "'mars' is not one of the partitions"),
        ({}, "static partitions"),
        ({"partition": ""}, "at least 1 character"),
        ({"partition": "x" * 201}, "at most 200 characters"),
        ({"partition": 7}, "valid string"),
    ]:
        r = operator.post("/api/v1/flows/regions/runs", json=body)
        assert r.status_code == 422, (body, r.text)
        (problem,) = r.json()["detail"]
        assert problem["loc"] == ["body", "partition"], problem
        assert says in problem["msg"], problem


def test_dynamic_keys_added_listed_and_removed(client_for, define, settings: Settings) -> None:
    define(CUSTOMERS)
    operator, viewer = client_for("operator"), client_for("viewer")
    r = operator.post("/api/v1/partitions/customers", json={"keys": ["acme", "zeta", "acme"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "customers", "keys": ["acme", "zeta"]}
    again = operator.post("/api/v1/partitions/customers", json={"keys": ["zeta", "beta"]})
    assert again.json()["keys"] == ["beta"]
    keys = viewer.get("/api/v1/partitions/customers", params={"limit": 2}).json()
    assert keys["items"] == ["acme", "beta"] or keys["items"] == ["acme", "zeta"]
    rest = viewer.get("/api/v1/partitions/customers", params={"cursor": keys["next_cursor"]})
    assert sorted(keys["items"] + rest.json()["items"]) == ["acme", "beta", "zeta"]
    run = operator.post("/api/v1/flows/bill/runs", json={"partition": "beta"})
    assert run.status_code == 201, run.text
    gone = operator.delete("/api/v1/partitions/customers", params={"key": ["zeta", "nope"]})
    assert gone.json() == {"name": "customers", "keys": ["zeta"]}
    page = viewer.get("/api/v1/flows/bill/partitions").json()
    assert {i["key"]: i["status"] for i in page["items"]} == {"acme": "missing", "beta": "running"}
    assert viewer.post("/api/v1/partitions/customers", json={"keys": ["x"]}).status_code == 403
    audit = _audit(settings)
    assert ("partitions.add", "customers", "ok", 200) in audit
    assert ("partitions.remove", "customers", "ok", 200) in audit
    assert ("partitions.add", "customers", "refused", 403) in audit


def test_bad_dynamic_keys_name_the_field_and_add_nothing(client_for, store: Store) -> None:
    operator = client_for("operator")
    cases: list[tuple[str, dict[str, Any], list[str], str]] = [
        ("customers", {"keys": ["a/b"]}, ["body", "keys"], "is not a partition key"),
        ("customers", {"keys": ["..x"]}, ["body", "keys"], "is not a partition key"),
        ("customers", {"keys": []}, ["body", "keys"], "at least 1 item"),
        ("customers", {"keys": ["k"] * 10_001}, ["body", "keys"], "at most 10000 items"),
        ("customers", {"keys": ["x" * 201]}, ["body", "keys", 0], "at most 200 characters"),
        ("customers", {"keys": ["a"], "extra": 1}, ["body", "extra"], "Extra inputs"),
        ("bad name", {"keys": ["a"]}, ["path", "name"], "not a name of dynamic partitions"),
    ]
    for name, body, loc, says in cases:
        r = operator.post(f"/api/v1/partitions/{name}", json=body)
        assert r.status_code == 422, (body, r.text)
        problem = r.json()["detail"][0]
        assert problem["loc"] == loc, (body, problem)
        assert says in problem["msg"], (body, problem)
    # A lone surrogate, as JSON escapes it (a client cannot encode it as UTF-8).
    r = operator.post(
        "/api/v1/partitions/customers",
        content=b'{"keys": ["\\ud800"]}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][:2] == ["body", "keys"]
    assert store.read().dynamic_partition_keys("customers") == []
    missing = operator.delete("/api/v1/partitions/customers")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "key"]


def test_partition_pages_of_what_has_none(client_for, define) -> None:
    define("name: plain\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    define(REGIONS)
    viewer = client_for("viewer")
    assert viewer.get("/api/v1/flows/plain/partitions").status_code == 404
    assert viewer.get("/api/v1/flows/nope/partitions").status_code == 404
    r = viewer.get("/api/v1/flows/regions/partitions", params={"status": ["done"]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "status"]
    r = viewer.get("/api/v1/flows/regions/partitions", params={"cursor": "%%%"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "cursor"]
    r = client_for("operator").post("/api/v1/flows/plain/runs", json={"partition": "eu"})
    assert r.status_code == 422
    assert "flow 'plain' has no partitions" in r.json()["detail"][0]["msg"]


def _audit(settings: Settings) -> list[tuple[Any, ...]]:
    db = Path(settings.database_url.removeprefix("sqlite:///"))
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute("SELECT action, object_id, outcome, status FROM audit_log"))
    finally:
        conn.close()


DAYS = "name: days\npartitions: {type: daily, start: 2024-01-01}\n" + (
    "tasks: [{key: a, type: shell, command: 'true'}]\n"
)


def test_a_backfill_through_the_api_is_carried_out_by_the_timers(
    client_for, define, store: Store
) -> None:
    define(DAYS)
    operator = client_for("operator")
    going = operator.post("/api/v1/flows/days/runs", json={"partition": "2024-01-02"}).json()
    r = operator.post(
        "/api/v1/flows/days/backfills",
        json={"partitions": "2024-01-01..2024-01-04", "max_parallel": 2},
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["state"] == "running"
    assert made["partitions"] == ["2024-01-01", "2024-01-03", "2024-01-04"]
    assert made["skipped"] == {"2024-01-02": "a run is going"}
    assert made["requested_by"] == "operator"
    engine = Engine(store)
    partition_backfills.advance(engine)  # a round of the timers: two runs at once
    first = client_for("viewer").get(f"/api/v1/backfills/{made['id']}").json()
    assert list(first["runs"]) == ["2024-01-01", "2024-01-03"]
    for run_id in first["runs"].values():
        finish(store, run_id, AttemptState.SUCCEEDED)
    partition_backfills.advance(engine)
    second = client_for("viewer").get(f"/api/v1/backfills/{made['id']}").json()
    assert list(second["runs"]) == ["2024-01-01", "2024-01-03", "2024-01-04"]
    assert second["state"] == "running"
    finish(store, second["runs"]["2024-01-04"], AttemptState.FAILED)
    assert partition_backfills.advance(engine) is not None  # it sees the last one end
    assert client_for("viewer").get(f"/api/v1/backfills/{made['id']}").json()["state"] == "done"
    assert partition_backfills.advance(engine) is None  # nothing runs: no need to look
    page = client_for("viewer").get("/api/v1/flows/days/partitions", params={"limit": 4}).json()
    assert [(i["key"], i["status"]) for i in page["items"]] == [
        ("2024-01-01", "succeeded"),
        ("2024-01-02", "running"),
        ("2024-01-03", "succeeded"),
        ("2024-01-04", "failed"),
    ]
    assert page["items"][1]["run_id"] == going["id"]
    # Backfill what failed: one run, for the failed day.
    again = operator.post("/api/v1/flows/days/backfills", json={"failed": True}).json()
    assert again["partitions"] == ["2024-01-04"]


def test_a_bad_backfill_names_the_field(client_for, define) -> None:
    define(DAYS)
    define("name: plain\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    operator = client_for("operator")
    for flow, body, loc, says in [
        ("days", {}, ["body", "partitions"], "give the keys to backfill"),
        ("days", {"partitions": "2024-01-09..2024-01-01"}, ["body", "partitions"], "backwards"),
        ("days", {"partitions": "x" * 10_001}, ["body", "partitions"], "at most 10000"),
        ("days", {"missing": True, "max_parallel": 0}, ["body", "max_parallel"], "greater"),
        ("days", {"missing": "maybe"}, ["body", "missing"], "valid boolean"),
        ("plain", {"missing": True}, ["body", "partitions"], "has no partitions"),
    ]:
        r = operator.post(f"/api/v1/flows/{flow}/backfills", json=body)
        assert r.status_code == 422, (body, r.text)
        problem = r.json()["detail"][0]
        assert problem["loc"] == loc, (body, problem)
        assert says in problem["msg"], (body, problem)
    assert operator.post("/api/v1/flows/nope/backfills", json={"missing": True}).status_code == 404
    assert client_for("viewer").get("/api/v1/backfills/nope").status_code == 404


def test_an_assets_partitions_by_pages(client_for, define, store: Store) -> None:
    define(
        "name: regions\npartitions: {type: static, values: [eu, us, apac]}\n"
        "tasks: [{key: a, type: shell, command: 'true', outputs: [wh.sales]}]\n"
    )
    operator, viewer = client_for("operator"), client_for("viewer")
    for key, state in (("eu", AttemptState.SUCCEEDED), ("us", AttemptState.FAILED)):
        run = operator.post("/api/v1/flows/regions/runs", json={"partition": key}).json()
        finish(store, run["id"], state)
    page = viewer.get("/api/v1/assets/wh.sales/partitions", params={"limit": 2}).json()
    assert (page["asset"], page["flow"], page["type"], page["total"]) == (
        "wh.sales",
        "regions",
        "static",
        3,
    )
    assert page["counts"] == {"materialized": 1, "failed": 1, "missing": 1, "stale": 0}
    assert [(i["key"], i["status"]) for i in page["items"]] == [
        ("eu", "materialized"),
        ("us", "failed"),
    ]
    rest = viewer.get(
        "/api/v1/assets/wh.sales/partitions", params={"cursor": page["next_cursor"]}
    ).json()
    assert [(i["key"], i["status"]) for i in rest["items"]] == [("apac", "missing")]
    only = viewer.get("/api/v1/assets/wh.sales/partitions", params={"status": "missing"})
    assert [i["key"] for i in only.json()["items"]] == ["apac"]
    bad = viewer.get("/api/v1/assets/wh.sales/partitions", params={"status": "succeeded"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]
    assert viewer.get("/api/v1/assets/wh.nope/partitions").status_code == 404
    assert viewer.get("/api/v1/assets/bad name/partitions").status_code == 422


def test_nul_characters_and_a_cursor_whose_key_is_gone_are_422(client_for, define) -> None:
    define(CUSTOMERS)
    operator = client_for("operator")
    for url in (
        "/api/v1/runs?partition=%00",
        "/api/v1/flows/bill/partitions?cursor=a%00",
        "/api/v1/backfills/%00",
    ):
        r = operator.get(url)
        assert r.status_code == 422, (url, r.text)
        assert "NUL character" in r.json()["detail"][0]["msg"]
    operator.post("/api/v1/partitions/customers", json={"keys": ["a", "b", "c"]})
    first = operator.get("/api/v1/partitions/customers", params={"limit": 1}).json()
    operator.delete("/api/v1/partitions/customers", params={"key": ["a"]})
    r = operator.get("/api/v1/partitions/customers", params={"cursor": first["next_cursor"]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert "is gone" in r.json()["detail"][0]["msg"]


def test_a_backfill_is_capped_cancelled_and_stops_with_its_flow(
    client_for, define, store: Store
) -> None:
    define(DAYS)
    operator = client_for("operator")
    huge = operator.post(
        "/api/v1/flows/days/backfills", json={"partitions": "2000-01-01..2024-01-01"}
    )
    assert huge.status_code == 422  # before the flow's start: no such keys
    engine = Engine(store)
    made = operator.post("/api/v1/flows/days/backfills", json={"missing": True}).json()
    assert len(made["partitions"]) > 100
    cancelled = operator.post(f"/api/v1/backfills/{made['id']}/cancel").json()
    assert cancelled["state"] == "cancelled"
    partition_backfills.advance(engine)
    assert store.read().runs(flow="days", limit=5) == []  # no run made after the cancel
    assert operator.post("/api/v1/backfills/nope/cancel").status_code == 404
    # A backfill whose flow is deleted makes no more runs.
    other = operator.post(
        "/api/v1/flows/days/backfills", json={"partitions": "2024-01-01..2024-01-05"}
    ).json()
    assert client_for("editor").delete("/api/v1/flows/days").status_code == 204
    partition_backfills.advance(engine)
    got = client_for("viewer").get(f"/api/v1/backfills/{other['id']}").json()
    assert (got["state"], got["runs"]) == ("cancelled", {})
