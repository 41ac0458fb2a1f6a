"""The asset catalog, lineage links and materializations on every backend: deploys sync
the catalog, tasks and outside reports record writes, the reads page by cursor."""

from __future__ import annotations

import json
import textwrap

import pytest

from baton.engine import notifications
from baton.engine.service import Engine
from baton.errors import DefinitionError
from baton.execution.loader import LoadedFlow
from baton.model.spec import FlowSpec
from baton.model.states import AttemptState
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.registration import deploy
from baton.store import schema
from baton.store.assets import CheckRecord, Materialization
from baton.store.records import (
    AssetLinkRow,
    AssetRow,
    AssetStateRow,
    CheckResultRow,
    MaterializationRow,
)
from baton.store.store import Store
from engine_kit import outcome_of


def flow(name: str, body: str) -> FlowSpec:
    return load_yaml_flow(textwrap.dedent(f"name: {name}\n{body}"), file=f"{name}.yaml")


PRODUCER = """
assets:
  - name: warehouse.orders
    description: One row per order.
    owner: data@example.com
    tags: [sales, daily]
    freshness: {max_lag: 6h}
    checks: [{name: ids, sql: "SELECT 1 WHERE 0", conn: wh}]
  - {name: raw.events, description: Written by a vendor.}
tasks:
  - {key: load, type: shell, inputs: [raw.events], outputs: [warehouse.orders, tmp.scratch]}
  - {key: report, type: shell, depends_on: [load], inputs: [warehouse.orders]}
"""


def deploy_yaml(store: Store, *specs: FlowSpec) -> None:
    deploy(store, [LoadedFlow(s) for s in specs])


def mat(asset: str, at: float, run_id: str = "r1", metadata: str | None = None) -> Materialization:
    return Materialization(asset, "f", run_id, "t", 1, 1, "a" * 32, metadata, None, at)


@pytest.mark.parametrize(
    ("record", "table"),
    [
        (AssetRow, schema.assets),
        (MaterializationRow, schema.asset_materializations),
        (AssetLinkRow, schema.asset_links),
        (CheckResultRow, schema.asset_check_results),
        (AssetStateRow, schema.asset_state),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_a_record_has_a_field_per_column_in_order(record: type, table: object) -> None:
    assert list(record.__struct_fields__) == [c.name for c in table.columns]  # type: ignore[attr-defined]


def test_a_deploy_catalogs_declared_assets_and_links_its_tasks(store: Store) -> None:
    deploy_yaml(store, flow("etl", PRODUCER))
    read = store.read()
    orders = read.asset("warehouse.orders")
    assert orders is not None
    assert (orders.description, orders.owner, orders.declared_by) == (
        "One row per order.",
        "data@example.com",
        "etl",
    )
    assert json.loads(orders.tags) == ["sales", "daily"]
    assert json.loads(orders.freshness or "null") == {"max_lag": 21600.0}
    assert [c["name"] for c in json.loads(orders.checks)] == ["ids"]
    scratch = read.asset("tmp.scratch")  # written, not declared: a bare row
    assert scratch is not None and (scratch.declared_by, scratch.description) == (None, None)
    assert read.asset("nowhere") is None
    assert read.asset_links(["warehouse.orders"]) == [
        AssetLinkRow("etl", "report", "warehouse.orders", "input"),
        AssetLinkRow("etl", "load", "warehouse.orders", "output"),
    ]
    assert read.asset_links(["warehouse.orders", "raw.events"], "input") == [
        AssetLinkRow("etl", "load", "raw.events", "input"),
        AssetLinkRow("etl", "report", "warehouse.orders", "input"),
    ]
    assert [(li.task_key, li.asset, li.kind) for li in read.task_links("etl", ["load"])] == [
        ("load", "raw.events", "input"),
        ("load", "tmp.scratch", "output"),
        ("load", "warehouse.orders", "output"),
    ]


def test_a_redeploy_relinks_and_releases_what_the_flow_no_longer_declares(store: Store) -> None:
    deploy_yaml(store, flow("etl", PRODUCER))
    deploy_yaml(
        store,
        flow(
            "etl",
            "assets: [{name: raw.events, tags: [vendor]}]\n"
            "tasks: [{key: only, type: shell, outputs: [x.y]}]\n",
        ),
    )
    read = store.read()
    orders = read.asset("warehouse.orders")
    assert orders is not None
    assert (orders.declared_by, orders.description, orders.tags) == (None, None, "[]")
    assert [a.name for a in read.asset_page(tag="sales")] == []
    assert [a.name for a in read.asset_page(tag="vendor")] == ["raw.events"]
    assert read.asset_links(["warehouse.orders"]) == []
    assert read.task_links("etl", ["only"]) == [AssetLinkRow("etl", "only", "x.y", "output")]


def test_an_asset_declared_by_two_flows_is_refused_and_nothing_is_deployed(store: Store) -> None:
    deploy_yaml(store, flow("etl", PRODUCER))
    with pytest.raises(
        DefinitionError, match=r"'raw\.events' is declared by flows 'etl' and 'other'"
    ):
        deploy_yaml(
            store, flow("other", "assets: [{name: raw.events}]\ntasks: [{key: a, type: shell}]\n")
        )
    read = store.read()
    assert read.flow("other") is None
    raw = read.asset("raw.events")
    assert raw is not None and raw.declared_by == "etl"
    # In one deploy too: all or nothing.
    with pytest.raises(DefinitionError, match="declared by flows 'a' and 'b'"):
        deploy_yaml(
            store,
            flow("a", "assets: [{name: s.t}]\ntasks: [{key: a, type: shell}]\n"),
            flow("b", "assets: [{name: s.t}]\ntasks: [{key: a, type: shell}]\n"),
        )
    assert store.read().asset("s.t") is None


def test_an_external_asset_declared_by_one_flow_lets_anothers_trigger_deploy(store: Store) -> None:
    consumer = flow("consume", "triggers: [{asset: raw.events}]\ntasks: [{key: a, type: shell}]\n")
    with pytest.raises(DefinitionError, match=r"waits for asset 'raw\.events'"):
        deploy_yaml(store, consumer)
    deploy_yaml(
        store, flow("vendor", "assets: [{name: raw.events}]\ntasks: [{key: a, type: shell}]\n")
    )
    deploy_yaml(store, consumer)
    assert store.read().flow("consume") is not None


def test_recording_a_write_catalogs_an_unknown_asset(store: Store) -> None:
    with store.transaction() as tx:
        tx.record_materializations(
            [mat("new.one", 10.0, metadata='{"rows": 3}'), mat("new.one", 11.0)]
        )
    read = store.read()
    row = read.asset("new.one")
    assert row is not None and (row.declared_by, row.created_at) == (None, 10.0)
    got = read.materializations("new.one")
    assert [(m.at, m.metadata, m.source, m.attempt) for m in got] == [
        (11.0, None, "task", 1),
        (10.0, '{"rows": 3}', "task", 1),
    ]
    assert read.materializations_since(["new.one"], 10.5) == [got[0]]
    assert read.materializations_since([], 0) == []


def test_an_external_report_is_a_materialization_without_a_run(store: Store) -> None:
    with store.transaction() as tx:
        row = tx.report_materialization("raw.events", {"rows": 5}, "2026-12-01", "v7", "ana", 20.0)
    assert (row.asset, row.source, row.run_id, row.flow_name, row.reported_by) == (
        "raw.events",
        "external",
        None,
        None,
        "ana",
    )
    assert (row.partition, row.data_version, json.loads(row.metadata or "")) == (
        "2026-12-01",
        "v7",
        {"rows": 5},
    )
    read = store.read()
    assert read.materializations("raw.events") == [row]
    assert read.last_materializations(["raw.events", "nowhere"]) == {"raw.events": row}
    assert read.asset("raw.events") is not None


def test_pages_and_cursors(store: Store) -> None:
    deploy_yaml(store, flow("etl", PRODUCER))
    with store.transaction() as tx:
        tx.record_materializations([mat(f"a.n{i:02}", float(i)) for i in range(12)])
        tx.record_materializations([mat("a.n03", 50.0, run_id="r2")])
    read = store.read()
    names = [a.name for a in read.asset_page(limit=100)]
    assert names == sorted(names) and len(names) == 15
    first = read.asset_page(limit=5)
    second = read.asset_page(after=first[-1].name, limit=5)
    assert [a.name for a in first + second] == names[:10]
    assert [a.name for a in read.asset_page(q="ORDER")] == ["warehouse.orders"]
    assert [a.name for a in read.asset_page(q="vendor")] == ["raw.events"]  # description
    assert [a.name for a in read.asset_page(q="n1")] == ["a.n10", "a.n11"]
    assert [a.name for a in read.asset_page(q="%")] == []
    assert [a.name for a in read.asset_page(owner="data@example.com")] == ["warehouse.orders"]
    assert [a.name for a in read.asset_page(tag="daily", q="orders")] == ["warehouse.orders"]
    with store.transaction() as tx:
        tx._c.execute(
            "INSERT INTO asset_state (asset, state, since, evaluated_at) VALUES (?, ?, ?, ?)",
            ("warehouse.orders", "stale", 1.0, 1.0),
        )
    assert [a.name for a in read.asset_page(stale=True)] == ["warehouse.orders"]
    assert "warehouse.orders" not in [a.name for a in read.asset_page(stale=False, limit=100)]
    assert list(read.asset_states(["warehouse.orders", "a.n01"])) == ["warehouse.orders"]
    history = read.materializations("a.n03", limit=1)
    assert [m.run_id for m in history] == ["r2"]
    assert [m.run_id for m in read.materializations("a.n03", before_id=history[0].id)] == ["r1"]
    last = read.last_materializations([f"a.n{i:02}" for i in range(12)])
    assert len(last) == 12 and last["a.n03"].run_id == "r2"
    assert read.check_results("a.n03") == []


def test_a_succeeded_task_records_one_materialization_per_output(store: Store) -> None:
    engine = Engine(store)
    spec = flow("etl", "tasks: [{key: load, type: shell, outputs: [w.a, w.b]}]\n")
    with store.transaction() as tx:
        version = tx.save_version(spec, 1.0)
    run_id = engine.create_run(version, {})
    c = engine.claim(worker_id="w", queues=["default"], limit=1, run_ids=[run_id], lease=30)[0]
    engine.complete([outcome_of(c, AttemptState.SUCCEEDED, at=engine.clock(), result="null")])
    last = store.read().last_materializations(["w.a", "w.b"])
    assert sorted(last) == ["w.a", "w.b"]
    assert (last["w.a"].run_id, last["w.a"].attempt_id, last["w.a"].attempt) == (
        run_id,
        c.attempt_id,
        1,
    )


def test_check_results_are_recorded_with_ids_and_counted_as_failures(store: Store) -> None:
    with store.transaction() as tx:
        tx.record_materializations([mat("w.a", 5.0), mat("w.b", 5.0)])
        ids = tx.materialization_ids("a" * 32, ["w.a", "w.b", "w.none"])
        rows = tx.record_check_results(
            [
                CheckRecord("w.a", "ids", "error", False, 6.0, run_id="r1", failing_rows="[[1]]"),
                CheckRecord("w.a", "ids", "error", True, 7.0, materialization_id=ids["w.a"]),
                CheckRecord("w.a", "rows", "warn", False, 8.0, error="boom"),
            ]
        )
    assert sorted(ids) == ["w.a", "w.b"] and ids["w.a"] != ids["w.b"]
    assert [r.passed for r in rows] == [0, 1, 0] and rows[0].id < rows[1].id < rows[2].id
    assert rows[1].materialization_id == ids["w.a"] and rows[0].failing_rows == "[[1]]"
    read = store.read()
    assert [r.check_name for r in read.check_results("w.a")] == ["rows", "ids", "ids"]
    assert read.check_failure_counts() == [("w.a", "ids", 1), ("w.a", "rows", 1)]


def test_freshness_states_are_replaced_and_stale_ones_listed(store: Store) -> None:
    deploy_yaml(store, flow("etl", PRODUCER))
    with store.transaction() as tx:
        tx.set_asset_states(
            [
                AssetStateRow("warehouse.orders", "stale", 1.0, None, 2.0, 3.0),
                AssetStateRow("raw.events", "fresh", 1.0, 1.0, 9.0, 3.0),
            ]
        )
        tx.set_asset_states([AssetStateRow("raw.events", "stale", 4.0, 1.0, 9.0, 4.0)])
    read = store.read()
    assert read.freshness_flags() == [("raw.events", True), ("warehouse.orders", True)]
    assert read.asset_states(["raw.events"])["raw.events"].since == 4.0
    assert [a.name for a in read.assets_with_freshness()] == ["warehouse.orders"]


def test_an_asset_event_is_queued_once_per_entry_wanting_it(store: Store) -> None:
    body = PRODUCER.replace(
        "  - {name: raw.events, description: Written by a vendor.}",
        "  - {name: raw.events, notifications: [{on: stale, email: a@example.com}]}",
    )
    spec = flow("etl", "notifications: [{on: [check_failed], email: b@example.com}]\n" + body)
    deploy_yaml(store, spec)
    read = store.read()
    asset = read.asset("raw.events")
    assert asset is not None
    for _ in range(2):  # told once, however often it is recorded
        with store.transaction() as tx:
            notifications.asset_event(tx, asset, [spec], "stale", "7", {"since": "x"}, 10.0)
            notifications.asset_event(tx, asset, [spec], "check_failed", "1", {"run_id": "r"}, 10.0)
    rows = read.due_notifications(10.0)
    got = sorted(
        (r["event"], r["asset"], r["run_id"], json.loads(r["channel"])["email"]) for r in rows
    )
    assert got == [
        ("check_failed", "raw.events", "r", ["b@example.com"]),
        ("stale", "raw.events", None, ["a@example.com"]),
    ]
    assert json.loads(rows[0]["payload"])["asset"] == "raw.events"
    long = AssetRow("x" * 300, None, None, "[]", None, "[]", "[]", None, 1.0, 1.0)
    with store.transaction() as tx:  # a 300-character name still fits the key column
        notifications.asset_event(tx, long, [spec], "check_failed", "2", {}, 11.0)
    assert len(read.due_notifications(11.0)) == 3
