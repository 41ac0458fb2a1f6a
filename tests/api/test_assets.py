"""The asset routes: the catalog, an asset, its materializations and checks by cursor
pages, lineage across deployed flows, an external report (operator, audited, masked, fires
asset triggers), the asset metrics; and what bad or oversized input gets (4xx naming the
field)."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.engine.service import Engine
from baton.execution.loader import LoadedFlow
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.registration import deploy
from baton.scheduling.scheduler import Scheduler
from baton.settings import Settings
from baton.store.assets import CheckRecord
from baton.store.records import AssetStateRow
from baton.store.store import Store

SECRET = "hunter2-s3cr3t"
PRODUCER = """
name: etl
assets:
  - {name: warehouse.orders, description: Orders., tags: [sales], freshness: {max_lag: 1h},
     checks: [{name: ids, sql: "SELECT 1 WHERE 0", conn: wh}]}
  - {name: raw.events, description: From the vendor.}
tasks:
  - {key: load, type: shell, command: "true", inputs: [raw.events], outputs: [warehouse.orders]}
"""
CONSUMER = """
name: report
triggers: [{asset: raw.events}]
tasks:
  - {key: build, type: shell, command: "true", inputs: [warehouse.orders], outputs: [marts.sales]}
"""


def deploy_yaml(store: Store, *texts: str) -> None:
    specs = [load_yaml_flow(textwrap.dedent(t), file="f.yaml") for t in texts]
    deploy(store, [LoadedFlow(s) for s in specs])


@pytest.fixture
def viewer(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for("viewer")


@pytest.fixture
def operator(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for("operator")


@pytest.fixture
def deployed(store: Store) -> Store:
    deploy_yaml(store, PRODUCER, CONSUMER)
    return store


def problem(r: Any) -> list[tuple[Any, ...]]:
    return [tuple(p["loc"]) for p in r.json()["detail"]]


def test_list_show_and_lineage(deployed: Store, viewer: TestClient) -> None:
    page = viewer.get("/api/v1/assets", params={"limit": 2})
    assert page.status_code == 200, page.text
    first = page.json()
    assert [a["name"] for a in first["items"]] == ["marts.sales", "raw.events"]
    rest = viewer.get("/api/v1/assets", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [a["name"] for a in rest.json()["items"]] == ["warehouse.orders"]
    assert rest.json()["next_cursor"] is None
    tagged = viewer.get("/api/v1/assets", params={"tag": "sales"}).json()["items"]
    assert [(a["name"], a["freshness"], a["checks"]) for a in tagged] == [
        ("warehouse.orders", "unknown", 1)
    ]
    found = viewer.get("/api/v1/assets", params={"q": "vendor"}).json()["items"]
    assert [a["name"] for a in found] == ["raw.events"]

    shown = viewer.get("/api/v1/assets/warehouse.orders").json()
    assert shown["producers"] == [{"flow": "etl", "task": "load"}]
    assert shown["consumers"] == [{"flow": "report", "task": "build"}]
    assert shown["checks"][0]["name"] == "ids" and shown["checks"][0]["last"] is None
    assert shown["freshness"] == {"state": "unknown", "last_update": None, "due": None}

    g = viewer.get("/api/v1/lineage", params={"asset": "warehouse.orders", "upstream": 1})
    assert g.status_code == 200, g.text
    data = g.json()
    assert {n["id"] for n in data["nodes"]} == {
        "warehouse.orders",
        "task:etl/load",
        "raw.events",
        "task:report/build",
        "marts.sales",
    }
    assert {"from": "task:etl/load", "to": "warehouse.orders"} in data["edges"]
    assert {"from": "warehouse.orders", "to": "task:report/build"} in data["edges"]
    down0 = viewer.get(
        "/api/v1/lineage", params={"asset": "warehouse.orders", "upstream": 0, "downstream": 0}
    ).json()
    assert [n["id"] for n in down0["nodes"]] == ["warehouse.orders"]


def test_report_records_masks_audits_and_fires_an_asset_trigger(
    deployed: Store, operator: TestClient, viewer: TestClient, settings: Settings
) -> None:
    Path(settings.home, "secrets.yaml").write_text(f'DB_PASSWORD: "{SECRET}"\n')
    engine = Engine(deployed)
    Scheduler(engine).tick()  # the trigger's first look: nothing yet
    assert deployed.read().runs(flow="report") == []
    body = {"metadata": {"rows": 12, "dsn": f"pg://u:{SECRET}@h"}, "partition": "2026-12-01"}
    r = operator.post("/api/v1/assets/raw.events/materializations", json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["asset"], made["source"], made["reported_by"]) == (
        "raw.events",
        "external",
        "operator",
    )
    assert made["metadata"] == {"rows": 12, "dsn": "pg://u:***@h"}
    assert made["partition"] == "2026-12-01" and made["run_id"] is None
    Scheduler(engine).tick()
    (run,) = deployed.read().runs(flow="report")
    info = json.loads(run.trigger_info or "{}")
    assert (run.trigger, info["asset"]) == ("asset", "raw.events")

    history = viewer.get("/api/v1/assets/raw.events/materializations").json()
    assert [m["id"] for m in history["items"]] == [made["id"]]
    db = sqlite3.connect(Path(settings.home) / "baton.db")
    try:
        audit = list(db.execute("SELECT action, object_id, outcome, status FROM audit_log"))
        stored = [m for (m,) in db.execute("SELECT metadata FROM asset_materializations")]
    finally:
        db.close()
    assert audit == [("assets.report", "raw.events", "ok", 201)]
    assert SECRET not in json.dumps(stored)


def test_materializations_and_checks_page_by_cursor(deployed: Store, viewer: TestClient) -> None:
    with deployed.transaction() as tx:
        for i in range(5):
            tx.report_materialization("warehouse.orders", {"i": i}, None, None, "x", float(i))
        tx.record_check_results(
            [
                CheckRecord("warehouse.orders", "ids", "error", i % 2 == 0, float(i))
                for i in range(3)
            ]
        )
    url = "/api/v1/assets/warehouse.orders/materializations"
    seen: list[int] = []
    cursor = None
    while True:
        page = viewer.get(url, params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [m["metadata"]["i"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [4, 3, 2, 1, 0]
    checks = viewer.get("/api/v1/assets/warehouse.orders/checks", params={"limit": 2}).json()
    assert [(c["check"], c["passed"]) for c in checks["items"]] == [("ids", True), ("ids", False)]
    more = viewer.get(
        "/api/v1/assets/warehouse.orders/checks", params={"cursor": checks["next_cursor"]}
    ).json()
    assert [c["passed"] for c in more["items"]] == [True] and more["next_cursor"] is None
    shown = viewer.get("/api/v1/assets/warehouse.orders").json()
    assert shown["checks"][0]["last"]["passed"] is True


@pytest.mark.parametrize(
    ("path", "params", "status", "loc"),
    [
        ("/api/v1/lineage", {}, 422, ("query", "asset")),
        ("/api/v1/lineage", {"asset": "a b"}, 422, ("query", "asset")),
        ("/api/v1/lineage", {"asset": "x" * 301}, 422, ("query", "asset")),
        ("/api/v1/lineage", {"asset": "raw.events", "upstream": 11}, 422, ("query", "upstream")),
        (
            "/api/v1/lineage",
            {"asset": "raw.events", "downstream": -1},
            422,
            ("query", "downstream"),
        ),
        ("/api/v1/lineage", {"asset": "raw.events", "upstream": "x"}, 422, ("query", "upstream")),
        ("/api/v1/lineage", {"asset": "no.such"}, 404, None),
        ("/api/v1/assets", {"limit": 0}, 422, ("query", "limit")),
        ("/api/v1/assets", {"cursor": "!!"}, 422, ("query", "cursor")),
        ("/api/v1/assets", {"stale": "maybe"}, 422, ("query", "stale")),
        ("/api/v1/assets/no.such", {}, 404, None),
        ("/api/v1/assets/a%20b", {}, 422, ("path", "name")),
        (
            "/api/v1/assets/raw.events/materializations",
            {"cursor": "bm9w"},
            422,
            ("query", "cursor"),
        ),
        ("/api/v1/assets/no.such/checks", {}, 404, None),
    ],
)
def test_bad_reads_are_4xx_naming_the_field(
    deployed: Store, viewer: TestClient, path: str, params: dict[str, Any], status: int, loc: Any
) -> None:
    r = viewer.get(path, params=params)
    assert r.status_code == status, r.text
    if loc is None:
        assert "no asset" in r.json()["detail"]
    else:
        assert loc in problem(r)


@pytest.mark.parametrize(
    ("name", "body", "status", "loc"),
    [
        ("raw.events", {"metadata": [1]}, 422, ("body", "metadata")),
        ("raw.events", {"partition": "p" * 301}, 422, ("body", "partition")),
        ("raw.events", {"partition": ""}, 422, ("body", "partition")),
        ("raw.events", {"data_version": 7}, 422, ("body", "data_version")),
        ("raw.events", {"extra": 1}, 422, ("body", "extra")),
        ("raw.events", "not an object", 422, ("body",)),
        ("a b", {}, 422, ("path", "name")),
        ("no.such", {}, 404, None),
    ],
)
def test_bad_reports_are_4xx_and_record_nothing(
    deployed: Store, operator: TestClient, name: str, body: Any, status: int, loc: Any
) -> None:
    r = operator.post(f"/api/v1/assets/{name}/materializations", json=body)
    assert r.status_code == status, r.text
    if loc is None:
        assert "no asset 'no.such'" in r.json()["detail"]
    else:
        assert loc in problem(r)
    assert deployed.read().materializations("raw.events") == []


def test_oversized_and_malformed_report_bodies(
    deployed: Store, operator: TestClient, settings: Settings
) -> None:
    url = "/api/v1/assets/raw.events/materializations"
    huge = {"metadata": {"blob": "x" * (settings.api_max_body + 1)}}
    assert operator.post(url, json=huge).status_code == 413
    big = {"metadata": {"blob": "x" * (70 * 1024)}}  # under the body limit, over metadata's
    r = operator.post(url, json=big)
    assert r.status_code == 422 and "metadata is over" in r.json()["detail"]
    for constant in (b"NaN", b"Infinity"):  # Python's JSON parser takes them; JSON does not
        r = operator.post(
            url,
            content=b'{"metadata": {"x": ' + constant + b"}}",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert "NaN" in r.text
    # A lone surrogate is a valid JSON escape but no UTF-8: stored, it broke every later
    # read of the asset (a 500 on its page and API).
    for body in (b'{"metadata": {"k": "\\ud800"}}', b'{"partition": "p\\udfff"}'):
        r = operator.post(url, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert ("metadata" if b"metadata" in body else "partition") in r.text
    r = operator.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    r = operator.post(url, content=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    assert deployed.read().materializations("raw.events") == []


def test_a_viewer_cannot_report(deployed: Store, viewer: TestClient) -> None:
    r = viewer.post("/api/v1/assets/raw.events/materializations", json={})
    assert r.status_code == 403
    assert deployed.read().materializations("raw.events") == []


def test_asset_metrics(deployed: Store, viewer: TestClient) -> None:
    with deployed.transaction() as tx:
        tx.set_asset_states(
            [
                AssetStateRow("warehouse.orders", "stale", 1.0, 0.0, 1.0, 1.0),
                AssetStateRow("raw.events", "fresh", 1.0, 0.0, 9.0, 1.0),
            ]
        )
        tx.record_check_results(
            [
                CheckRecord("warehouse.orders", "ids", "error", False, 1.0),
                CheckRecord("warehouse.orders", "ids", "error", False, 2.0),
                CheckRecord("warehouse.orders", "ids", "error", True, 3.0),
                # Written by no validating path: the label is escaped all the same.
                CheckRecord('odd"asset\\', "c\nx", "warn", False, 1.0),
            ]
        )
    text = viewer.get("/metrics").text
    assert "# TYPE baton_asset_stale gauge" in text
    assert 'baton_asset_stale{asset="warehouse.orders"} 1' in text
    assert 'baton_asset_stale{asset="raw.events"} 0' in text
    assert "# TYPE baton_asset_check_failures_total counter" in text
    assert 'baton_asset_check_failures_total{asset="warehouse.orders",check="ids"} 2' in text
    assert 'baton_asset_check_failures_total{asset="odd\\"asset\\\\",check="c\\nx"} 1' in text
