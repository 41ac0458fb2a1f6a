"""The asset read model on every backend: the catalog list, an asset's detail in the exact
shape `baton assets show --json` prints, its history and checks, and lineage across
deployed flows, bounded by asset hops."""

from __future__ import annotations

import textwrap

import msgspec

from baton.execution import asset_views
from baton.execution.asset_views import task_id
from baton.execution.loader import LoadedFlow
from baton.model.spec import FlowSpec
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.registration import deploy
from baton.store.assets import CheckRecord, Materialization
from baton.store.records import AssetStateRow
from baton.store.store import Store

HOUR = 3600.0

# Flow A writes warehouse.orders from raw.events; flow B reads it and writes marts.sales,
# which flow C reads to write reports.daily: lineage has to cross flows to find them.
FLOW_A = """
assets:
  - name: warehouse.orders
    description: One row per order.
    owner: data@example.com
    tags: [sales, daily]
    freshness: {max_lag: 6h}
    checks:
      - {name: ids, sql: "SELECT 1 WHERE 0", conn: wh, description: No null ids.}
      - {name: rows, python: "checks:rows", severity: warn}
  - {name: raw.events, description: Written by a vendor.}
tasks:
  - {key: load, type: shell, inputs: [raw.events], outputs: [warehouse.orders]}
"""
FLOW_B = """
tasks:
  - {key: build, type: shell, inputs: [warehouse.orders], outputs: [marts.sales]}
"""
FLOW_C = """
tasks:
  - {key: publish, type: shell, inputs: [marts.sales], outputs: [reports.daily]}
"""


def flow(name: str, body: str) -> FlowSpec:
    return load_yaml_flow(textwrap.dedent(f"name: {name}\n{body}"), file=f"{name}.yaml")


def deploy_all(store: Store) -> None:
    deploy(store, [LoadedFlow(flow("a", FLOW_A)), LoadedFlow(flow("b", FLOW_B))])
    deploy(store, [LoadedFlow(flow("c", FLOW_C))])


def mat(asset: str, at: float, metadata: str | None = None) -> Materialization:
    return Materialization(asset, "a", "run1", "load", 7, 1, "a" * 32, metadata, "v1", at)


def check(name: str, passed: bool, at: float, severity: str = "error") -> CheckRecord:
    return CheckRecord("warehouse.orders", name, severity, passed, at, run_id="run1")


def test_show_has_exactly_the_issues_shape(store: Store) -> None:
    deploy_all(store)
    with store.transaction() as tx:
        tx.record_materializations([mat("warehouse.orders", 100.0, '{"rows": 3}')])
        tx.record_check_results([check("ids", True, 101.0), check("ids", False, 102.0)])
    detail = asset_views.asset_show(store.read(), "warehouse.orders", 100.0 + HOUR)
    assert detail is not None
    got = detail.to_json()
    issue_keys = ["name", "description", "owner", "tags", "producers", "consumers"]
    issue_keys += ["last_materialization", "freshness", "checks"]
    assert list(got)[: len(issue_keys)] == issue_keys
    assert {k: got[k] for k in issue_keys} == {
        "name": "warehouse.orders",
        "description": "One row per order.",
        "owner": "data@example.com",
        "tags": ["sales", "daily"],
        "producers": [{"flow": "a", "task": "load"}],
        "consumers": [{"flow": "b", "task": "build"}],
        "last_materialization": {
            "run_id": "run1",
            "task": "load",
            "at": "1970-01-01T00:01:40.000000Z",
            "metadata": {"rows": 3},
            "data_version": "v1",
        },
        "freshness": {
            "state": "fresh",
            "last_update": "1970-01-01T00:01:40.000000Z",
            "due": "1970-01-01T06:01:40.000000Z",
        },
        "checks": [
            {
                "name": "ids",
                "severity": "error",
                "last": {"passed": False, "at": "1970-01-01T00:01:42.000000Z", "run_id": "run1"},
                "description": "No null ids.",
                "kind": "sql",
            },
            {
                "name": "rows",
                "severity": "warn",
                "last": None,
                "description": None,
                "kind": "python",
            },
        ],
    }
    assert (got["declared_by"], got["freshness_policy"]) == ("a", {"max_lag": 6 * HOUR})
    # The JSON the CLI prints is what msgspec encodes.
    assert msgspec.json.decode(msgspec.json.encode(detail)) == got


def test_show_freshness_is_the_schedulers_unless_a_write_came_after(store: Store) -> None:
    deploy_all(store)
    read = store.read()
    never = asset_views.asset_show(read, "warehouse.orders", 50.0)
    assert never is not None and never.freshness is not None
    assert (never.freshness.state, never.last_materialization) == ("unknown", None)
    with store.transaction() as tx:
        tx.record_materializations([mat("warehouse.orders", 100.0)])
        tx.set_asset_states([AssetStateRow("warehouse.orders", "stale", 90.0, 10.0, 20.0, 90.0)])
    late = asset_views.asset_show(store.read(), "warehouse.orders", 200.0)
    assert late is not None and late.freshness is not None
    assert late.freshness.state == "fresh"  # written after the scheduler's evaluation
    with store.transaction() as tx:
        tx.set_asset_states([AssetStateRow("warehouse.orders", "stale", 300.0, 100.0, 9.0, 300.0)])
    seen = asset_views.asset_show(store.read(), "warehouse.orders", 200.0)
    assert seen is not None and seen.freshness is not None
    assert seen.freshness.state == "stale"
    bare = asset_views.asset_show(store.read(), "marts.sales", 200.0)
    assert bare is not None and (bare.freshness, bare.description, bare.checks) == (None, None, [])
    assert [p.to_json() for p in bare.producers] == [{"flow": "b", "task": "build"}]
    assert asset_views.asset_show(store.read(), "no.such", 1.0) is None


def test_list_filters_and_counts_failing_checks(store: Store) -> None:
    deploy_all(store)
    with store.transaction() as tx:
        tx.record_materializations([mat("warehouse.orders", 100.0)])
        tx.record_check_results(
            [check("ids", False, 101.0), check("rows", False, 101.0), check("rows", True, 102.0)]
        )
        tx.set_asset_states(
            [AssetStateRow("warehouse.orders", "stale", 200.0, 100.0, 150.0, 200.0)]
        )
    read = store.read()
    page = asset_views.asset_list(read, now=300.0)
    assert [a.name for a in page] == [
        "marts.sales",
        "raw.events",
        "reports.daily",
        "warehouse.orders",
    ]
    orders = page[-1].to_json()
    assert orders == {
        "name": "warehouse.orders",
        "description": "One row per order.",
        "owner": "data@example.com",
        "tags": ["sales", "daily"],
        "freshness": "stale",
        "last_materialization_at": "1970-01-01T00:01:40.000000Z",
        "checks": 2,
        "checks_failing": 1,
        "declared_by": "a",
        "checks_run": 2,
    }
    assert page[0].freshness is None and page[0].last_materialization_at is None
    assert [a.name for a in asset_views.asset_list(read, tag="sales")] == ["warehouse.orders"]
    assert [a.name for a in asset_views.asset_list(read, stale=True)] == ["warehouse.orders"]
    assert [a.name for a in asset_views.asset_list(read, q="VENDOR")] == ["raw.events"]
    after = asset_views.asset_list(read, after="raw.events", limit=1)
    assert [a.name for a in after] == ["reports.daily"]


def test_history_and_checks_page_newest_first(store: Store) -> None:
    deploy_all(store)
    with store.transaction() as tx:
        tx.record_materializations([mat("warehouse.orders", float(t)) for t in range(5)])
        tx.report_materialization("warehouse.orders", {"n": 1}, "p1", "v9", "ana", 10.0)
        tx.record_check_results([check("ids", t % 2 == 0, float(t)) for t in range(3)])
    read = store.read()
    history = asset_views.asset_history(read, "warehouse.orders", limit=3)
    newest = history[0].to_json()
    assert newest == {
        "id": newest["id"],
        "asset": "warehouse.orders",
        "run_id": None,
        "flow": None,
        "task": None,
        "attempt": None,
        "at": "1970-01-01T00:00:10.000000Z",
        "partition": "p1",
        "metadata": {"n": 1},
        "data_version": "v9",
        "source": "external",
        "reported_by": "ana",
    }
    assert [h.source for h in history] == ["external", "task", "task"]
    older = asset_views.asset_history(read, "warehouse.orders", before_id=history[-1].id)
    assert [h.at for h in older] == [
        "1970-01-01T00:00:02.000000Z",
        "1970-01-01T00:00:01.000000Z",
        "1970-01-01T00:00:00.000000Z",
    ]
    results = asset_views.check_history(read, "warehouse.orders", limit=2)
    assert [(r.check, r.passed, r.at) for r in results] == [
        ("ids", True, "1970-01-01T00:00:02.000000Z"),
        ("ids", False, "1970-01-01T00:00:01.000000Z"),
    ]
    rest = asset_views.check_history(read, "warehouse.orders", before_id=results[-1].id)
    assert [r.passed for r in rest] == [True]


def test_lineage_crosses_deployed_flows(store: Store) -> None:
    deploy_all(store)
    got = asset_views.lineage(store.read(), "marts.sales", upstream=3, downstream=3)
    assert got is not None
    assert {n.id: (n.kind, n.name, n.flow, n.task) for n in got.nodes} == {
        "marts.sales": ("asset", "marts.sales", None, None),
        task_id("b", "build"): ("task", None, "b", "build"),
        "warehouse.orders": ("asset", "warehouse.orders", None, None),
        task_id("a", "load"): ("task", None, "a", "load"),
        "raw.events": ("asset", "raw.events", None, None),
        task_id("c", "publish"): ("task", None, "c", "publish"),
        "reports.daily": ("asset", "reports.daily", None, None),
    }
    assert sorted((e.from_, e.to) for e in got.edges) == sorted(
        [
            ("task:b/build", "marts.sales"),
            ("warehouse.orders", "task:b/build"),
            ("task:a/load", "warehouse.orders"),
            ("raw.events", "task:a/load"),
            ("marts.sales", "task:c/publish"),
            ("task:c/publish", "reports.daily"),
        ]
    )
    data = got.to_json()
    assert set(data) == {"root", "nodes", "edges", "truncated"}
    assert {"from": "task:b/build", "to": "marts.sales"} in data["edges"]
    assert data["truncated"] is False


def test_lineage_depth_counts_asset_hops(store: Store) -> None:
    deploy_all(store)
    read = store.read()
    one_up = asset_views.lineage(read, "reports.daily", upstream=1, downstream=0)
    assert one_up is not None
    assert [n.id for n in one_up.nodes] == ["reports.daily", "task:c/publish", "marts.sales"]
    two_up = asset_views.lineage(read, "reports.daily", upstream=2, downstream=5)
    assert two_up is not None
    assert {n.id for n in two_up.nodes} == {
        "reports.daily",
        "task:c/publish",
        "marts.sales",
        "task:b/build",
        "warehouse.orders",
    }
    none = asset_views.lineage(read, "warehouse.orders", upstream=0, downstream=0)
    assert none is not None and [n.id for n in none.nodes] == ["warehouse.orders"]
    assert none.edges == []
    capped = asset_views.lineage(read, "warehouse.orders", max_nodes=3)
    assert capped is not None and capped.truncated and len(capped.nodes) == 3
    assert asset_views.lineage(read, "no.such") is None


def test_lineage_marks_freshness_and_survives_cycles(store: Store) -> None:
    deploy(
        store,
        [
            LoadedFlow(
                flow(
                    "loop",
                    "tasks:\n"
                    "  - {key: f, type: shell, inputs: [x.a], outputs: [x.b]}\n"
                    "  - {key: g, type: shell, inputs: [x.b], outputs: [x.a]}\n",
                )
            )
        ],
    )
    with store.transaction() as tx:
        tx.set_asset_states([AssetStateRow("x.b", "stale", 1.0, None, None, 1.0)])
    got = asset_views.lineage(store.read(), "x.a", upstream=10, downstream=10)
    assert got is not None
    assert {n.id: n.freshness for n in got.nodes} == {
        "x.a": None,
        "task:loop/g": None,
        "x.b": "stale",
        "task:loop/f": None,
    }
    assert len(got.edges) == 4


def test_a_write_reported_without_metadata_shows_an_empty_object(store: Store) -> None:
    deploy_all(store)
    with store.transaction() as tx:
        tx.record_materializations([mat("warehouse.orders", 100.0, metadata=None)])
    read = store.read()
    (m,) = asset_views.asset_history(read, "warehouse.orders")
    assert m.metadata == {} and m.to_json()["metadata"] == {}
    shown = asset_views.asset_show(read, "warehouse.orders", 200.0)
    assert shown is not None and shown.last_materialization is not None
    assert shown.last_materialization.metadata == {}
