"""The assets pages over a SQLite store, without a browser: the catalog's search, tag and
freshness filters and cursor pages, an asset's page (history, charts, checks, producers and
consumers), the lineage graph across flows, depth validation, a clear 404, asset chips on
the flow graph, and user data escaped everywhere. (tests/e2e/test_assets_ui.py drives a
real browser.)"""

from __future__ import annotations

import json
import re
import textwrap
import time
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.execution.loader import LoadedFlow
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.registration import deploy
from baton.store.assets import CheckRecord, Materialization
from baton.store.store import Store
from baton.ui import charts, lineage

SECRET = "hunter2-very-secret"
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'

PRODUCER = """
assets:
  - name: warehouse.orders
    description: One row per order.
    owner: data@example.com
    tags: [sales, daily]
    freshness: {max_lag: 6h}
    checks:
      - {name: ids_unique, sql: "SELECT 1 WHERE 0", conn: wh, description: no duplicate ids}
      - {name: not_empty, sql: "SELECT 1 WHERE 0", conn: wh, severity: warn}
  - {name: raw.events, description: Written by a vendor., tags: [vendor]}
tasks:
  - {key: load, type: shell, command: "true", inputs: [raw.events], outputs: [warehouse.orders]}
  - {key: report, type: shell, command: "true", depends_on: [load], inputs: [warehouse.orders]}
"""
CONSUMER = """
tasks:
  - {key: summarise, type: shell, command: "true",
     inputs: [warehouse.orders], outputs: [mart.daily]}
  - {key: publish, type: shell, command: "true", depends_on: [summarise], inputs: [mart.daily]}
"""


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_SECRET_PASSWORD", SECRET)


def sign_in(client: TestClient, store: Store) -> None:
    with store.transaction() as tx:
        token = create_token(tx, "vera", "viewer")[1]
    r = client.post("/login", data={"token": token, "next": "/assets"}, follow_redirects=False)
    assert r.status_code == 303


def flow(name: str, body: str):  # type: ignore[no-untyped-def]
    return load_yaml_flow(textwrap.dedent(f"name: {name}\n{body}"), file=f"{name}.yaml")


def mat(asset: str, at: float, rows: int, run_id: str = "r1") -> Materialization:
    meta = json.dumps({"rows": rows, "bytes": rows * 10.5, "note": "ok", "flag": True})
    return Materialization(asset, "etl", run_id, "load", 1, 1, "a" * 32, meta, "v1", at)


@pytest.fixture
def catalog(store: Store) -> float:
    """Two deployed flows (etl writes warehouse.orders, marts reads it and writes
    mart.daily), five writes of warehouse.orders with growing row counts, and check
    results: ids_unique passed then failed."""
    deploy(store, [LoadedFlow(flow("etl", PRODUCER)), LoadedFlow(flow("marts", CONSUMER))])
    now = time.time()
    with store.transaction() as tx:
        tx.record_materializations(
            [mat("warehouse.orders", now - 500 + i * 100, 100 * (i + 1)) for i in range(5)]
        )
        tx.record_check_results(
            [
                CheckRecord("warehouse.orders", "ids_unique", "error", True, now - 300, "r1"),
                CheckRecord(
                    "warehouse.orders",
                    "ids_unique",
                    "error",
                    False,
                    now - 100,
                    "r2",
                    failing_rows=json.dumps([{"id": 7, "n": 2}]),
                    duration=0.25,
                ),
            ]
        )
    return now


def test_the_assets_page_lists_filters_and_shows_badges(client, store, catalog):
    sign_in(client, store)
    page = client.get("/assets").text
    names = re.findall(r'<tr data-asset="([^"]+)"', page)
    assert names == ["mart.daily", "raw.events", "warehouse.orders"]
    row = page.split('data-asset="warehouse.orders"')[1].split("</tr>")[0]
    assert "fr-fresh" in row and "1 of 2 failing" in row and 'href="?tag=sales"' in row
    assert 'data-asset="raw.events"' in client.get("/assets?tag=vendor").text
    assert re.findall(r'data-asset="([^"]+)"', client.get("/assets?tag=vendor").text) == [
        "raw.events"
    ]
    assert re.findall(r'data-asset="([^"]+)"', client.get("/assets?q=WARE").text) == [
        "warehouse.orders"
    ]
    assert "No assets match" in client.get("/assets?q=nothing-like-it").text
    assert 'aria-current="page"' in page.split('href="/assets"')[1][:40]  # the nav link


def test_checks_that_never_ran_are_not_shown_passing(client, store):
    deploy(store, [LoadedFlow(flow("etl", PRODUCER))])
    sign_in(client, store)
    row = client.get("/assets").text.split('data-asset="warehouse.orders"')[1].split("</tr>")[0]
    assert 'data-checks="none"' in row and "Not run yet" in row, row


def test_the_assets_page_pages_by_cursor(client, store, monkeypatch):
    from baton.ui import assets as assets_ui

    monkeypatch.setattr(assets_ui, "ASSETS_PAGE", 2)
    deploy(store, [LoadedFlow(flow("etl", PRODUCER)), LoadedFlow(flow("marts", CONSUMER))])
    sign_in(client, store)
    first = client.get("/assets").text
    assert re.findall(r'data-asset="([^"]+)"', first) == ["mart.daily", "raw.events"]
    cursor = re.search(r'href="\?q=&amp;tag=&amp;show=&amp;after=([^"]+)"', first).group(1)
    second = client.get(f"/assets?after={cursor}").text
    assert re.findall(r'data-asset="([^"]+)"', second) == ["warehouse.orders"]
    assert "after=" not in second


def test_an_asset_page_shows_history_plots_checks_and_lineage_links(client, store, catalog):
    sign_in(client, store)
    r = client.get("/assets/warehouse.orders")
    assert r.status_code == 200
    page = r.text
    assert "One row per order." in page and "data@example.com" in page
    producers = page.split('class="refs producers"')[1].split("</ul>")[0]
    consumers = page.split('class="refs consumers"')[1].split("</ul>")[0]
    assert "etl" in producers and "load" in producers
    assert "marts" in consumers and "summarise" in consumers and "report" in consumers
    assert page.count('class="tick task"') == 5  # the timeline
    assert re.findall(r'<figure class="plot" data-key="([^"]+)"', page) == ["bytes", "rows"]
    rows_plot = page.split('data-key="rows"')[1].split("</figure>")[0]
    assert rows_plot.count('class="pt"') == 5 and "last 500" in rows_plot
    assert "Failed" in page and "1 failing row" in page and "Not run yet" in page
    assert 'href="/lineage?asset=warehouse.orders"' in page


def test_an_unknown_asset_is_a_clear_404_page(client, store, catalog):
    sign_in(client, store)
    r = client.get("/assets/no.such.asset")
    assert r.status_code == 404
    assert "There is no asset named “no.such.asset”" in r.text and 'href="/assets"' in r.text
    r = client.get("/lineage?asset=no.such.asset")
    assert r.status_code == 404 and "no.such.asset" in r.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("upstream=-1", "upstream"),
        ("upstream=abc", "upstream"),
        ("downstream=11", "downstream"),
        ("downstream=99999999999999999999", "downstream"),
    ],
)
def test_a_bad_lineage_depth_is_refused_naming_the_field(client, store, catalog, query, field):
    sign_in(client, store)
    r = client.get(f"/lineage?asset=warehouse.orders&{query}")
    assert r.status_code == 422
    assert f"{field} must be a whole number of asset hops from 0 to 10" in r.text


def test_the_lineage_graph_spans_flows_and_links_its_nodes(client, store, catalog):
    sign_in(client, store)
    page = client.get("/lineage?asset=warehouse.orders&upstream=2&downstream=2").text
    ids = re.findall(r'data-id="([^"]+)"', page)
    assert set(ids) == {
        "raw.events",
        "task:etl/load",
        "warehouse.orders",
        "task:etl/report",
        "task:marts/summarise",
        "mart.daily",
        "task:marts/publish",
    }
    assert 'href="/flows/marts"' in page and 'href="/assets/mart.daily"' in page
    edges = page.split('<g class="edges">')[1].split("</g>")[0]
    assert edges.count("<path d=") == 6
    assert re.search(r'class="ln asset focus[^"]*" href="/assets/warehouse.orders"', page)
    # Depth 0 downstream: nothing the asset feeds.
    shallow = client.get("/lineage?asset=warehouse.orders&upstream=1&downstream=0").text
    assert "task:marts/summarise" not in shallow and "task:etl/load" in shallow
    assert client.get("/lineage").status_code == 200  # the form, asking for an asset


def test_the_flow_graph_has_asset_chips_linking_to_assets(client, store, catalog):
    sign_in(client, store)
    page = client.get("/flows/etl").text
    data = json.loads(re.search(r'class="dag-data">(.*?)</script>', page, re.S).group(1))
    chips = data["chips"]
    assert set(chips) == {"load", "report"}
    assert 'class="chip out" href="/assets/warehouse.orders"' in chips["load"]
    assert 'class="chip in" href="/assets/raw.events"' in chips["load"]
    assert 'class="achip out" href="/assets/warehouse.orders"' in page  # the list, without script


def test_user_data_is_escaped_on_every_page(client, store):
    now = time.time()
    evil_name = f"evil{EVIL}"
    with store.transaction() as tx:
        tx.report_materialization(
            evil_name, {EVIL: EVIL, "pw": SECRET, "n": 1}, EVIL, EVIL, EVIL, now - 10
        )
        tx.report_materialization(evil_name, {"n": 2}, None, None, None, now)
    sign_in(client, store)
    pages = [
        client.get("/assets"),
        client.get(f"/assets?q={evil_name[:10]}&tag={EVIL}"),
        client.get("/assets/" + quote(evil_name, safe="")),
        client.get("/lineage", params={"asset": evil_name}),
        client.get("/lineage", params={"asset": EVIL}),  # unknown: the 404 page
        client.get("/lineage", params={"asset": "x", "upstream": EVIL}),
    ]
    assert [p.status_code for p in pages] == [200, 200, 200, 200, 404, 422]
    for p in pages:
        assert "<script>alert" not in p.text and "<img src=x" not in p.text
        assert SECRET not in p.text
    assert "&lt;script&gt;" in pages[2].text


def test_chips_escape_and_shorten_asset_names():
    from baton.ui import dag

    row = dag._chip_row("in", ["a." + "x" * 40, EVIL, *[f"t{i}" for i in range(9)]], 0.0)
    assert "<script" not in row and "&lt;script&gt;" in row
    assert "…" in row and 'class="chip more in"' in row and ">+10<" in row


def test_charts_plot_numbers_only_and_keep_order():
    history = [  # newest first, as the read model lists them
        {"at": "2026-01-01T00:00:03.000000Z", "metadata": {"rows": 30, "ok": True, "s": "x"}},
        {"at": "2026-01-01T00:00:02.000000Z", "metadata": {"rows": 20, "nan": float("nan")}},
        {"at": "2026-01-01T00:00:01.000000Z", "metadata": {"rows": 10}},
        {"at": None, "metadata": {"rows": 99}},
    ]
    (plot,) = charts.plots(history)
    assert plot["key"] == "rows" and plot["count"] == 3
    assert [d["value"] for d in plot["dots"]] == ["10", "20", "30"]
    ys = [d["y"] for d in plot["dots"]]
    assert ys[0] > ys[1] > ys[2]  # higher values are drawn higher up


def test_the_lineage_drawing_lays_out_a_loop_across_flows():
    graph = {
        "nodes": [
            {"id": "a", "kind": "asset", "name": "a"},
            {"id": "task:f/t", "kind": "task", "flow": "f", "task": "t"},
            {"id": "b", "kind": "asset", "name": "b"},
            {"id": "task:g/u", "kind": "task", "flow": "g", "task": "u"},
        ],
        "edges": [
            {"from": "a", "to": "task:f/t"},
            {"from": "task:f/t", "to": "b"},
            {"from": "b", "to": "task:g/u"},
            {"from": "task:g/u", "to": "a"},
        ],
    }
    d = lineage.drawing(graph, "a")
    xs = {n["id"]: n["x"] for n in d["nodes"]}
    assert xs["a"] < xs["task:f/t"] < xs["b"] < xs["task:g/u"]
    assert len(d["paths"]) == 4  # the edge closing the loop is drawn too


def test_strangers_are_sent_to_sign_in_and_odd_input_is_no_error(client, store, catalog):
    r = client.get("/assets/warehouse.orders", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    sign_in(client, store)
    huge = "x" * 20_000
    assert client.get("/assets", params={"q": huge, "tag": huge, "after": huge}).status_code == 200
    assert client.get("/assets", params={"show": "bogus"}).status_code == 200
    assert client.get("/assets/" + "a" * 5000).status_code == 404
    r = client.get("/assets/warehouse.orders", params={"before": "-1", "checks_before": "1e9"})
    assert r.status_code == 200 and r.text.count('class="tick task"') == 5
    older = client.get("/assets/warehouse.orders", params={"before": "3"}).text
    assert older.count('class="tick task"') == 2  # the two writes before id 3
    assert client.get("/lineage", params={"asset": huge}).status_code == 404
