"""The assets pages in a real browser, against a real `baton server`: two deployed flows (etl
writes warehouse.orders with a row count and two checks; marts reads it and writes
mart.daily), three `baton run`s of etl (the last with too few rows: its warn check fails).
The catalog lists and filters, an asset's page shows its writes, their row counts charted
and its checks' history, the lineage graph spans both flows and its nodes are links, and
the flow graph's tasks carry chips of their assets. Screenshots go to tests/e2e/artifacts/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

Shot = Callable[[Page, str], None]
Server = Any
BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")

ETL = """
name: etl
params:
  rows: {type: integer, default: 100}
assets:
  - name: warehouse.orders
    description: One row per order.
    owner: data@example.com
    tags: [sales, daily]
    freshness: {max_lag: 6h}
    checks:
      - {name: ids_unique, sql: "SELECT 1 WHERE 0", url: "sqlite://"}
      - {name: enough_rows, python: "checks:enough_rows", severity: warn}
  - {name: raw.events, description: Written by a vendor, tags: [vendor]}
tasks:
  - key: load
    type: shell
    inputs: [raw.events]
    outputs: [warehouse.orders]
    command: >-
      echo '{"asset": "warehouse.orders",
      "metadata": {"rows": {{ params.rows }}, "note": "<img src=x onerror=alert(1)>"}}'
      >> "$BATON_ASSETS_FILE"
  - {key: report, type: shell, command: "true", depends_on: [load], inputs: [warehouse.orders]}
"""
MARTS = """
name: marts
tasks:
  - key: summarise
    type: shell
    command: "true"
    inputs: [warehouse.orders]
    outputs: [mart.daily]
  - {key: publish, type: shell, command: "true", depends_on: [summarise], inputs: [mart.daily]}
"""
CHECKS = """
def enough_rows(asset, metadata, partition):
    return metadata.get("rows", 0) >= 100
"""


def baton(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    out = subprocess.run(
        [BATON, *args],
        cwd=cwd,
        env={**env, "BATON_HOME": str(cwd / ".baton")},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flows deployed and run once for the module: each test serves them afresh."""
    cwd = tmp_path_factory.mktemp("assets-ui")
    flows = cwd / "flows"
    flows.mkdir()
    for name, text in (("etl.yaml", ETL), ("marts.yaml", MARTS), ("checks.py", CHECKS)):
        (flows / name).write_text(textwrap.dedent(text).lstrip())
    baton(cwd, "deploy", "flows")
    for rows in (120, 150, 80):
        baton(cwd, "run", "flows/etl.yaml", "-p", f"rows={rows}")
    return cwd


@pytest.fixture
def server(project: Path, launch: Callable[..., Server]) -> Server:
    return launch(project, "ui")


def sign_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/login?next=/assets")
    page.fill("input[name=token]", server.token("vic", "viewer"))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/assets")


def names(page: Page) -> list[str]:
    return page.locator("table.assets tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.asset)"
    )


def test_the_catalog_lists_searches_and_filters_by_tag(server: Server, page: Page, shot: Shot):
    sign_in(page, server)
    expect(page.locator("nav.side a[aria-current=page]")).to_have_text("Assets")
    assert names(page) == ["mart.daily", "raw.events", "warehouse.orders"]
    orders = page.locator('tr[data-asset="warehouse.orders"]')
    expect(orders.locator(".fr-fresh")).to_have_text("Fresh")
    expect(orders.locator("[data-checks]")).to_have_text("1 of 2 failing")
    expect(page.locator('tr[data-asset="mart.daily"] [data-checks]')).to_have_text("No checks")
    shot(page, "assets-01-catalog")

    page.fill("input[name=q]", "ware")
    page.press("input[name=q]", "Enter")
    expect(page.locator("table.assets tbody tr")).to_have_count(1)
    assert names(page) == ["warehouse.orders"]

    page.goto(f"{server.url}/assets")
    page.locator('tr[data-asset="raw.events"] a.tag', has_text="vendor").click()
    expect(page).to_have_url(re.compile(r"\?tag=vendor$"))
    assert names(page) == ["raw.events"]
    expect(page.locator(".active-filter")).to_contain_text("tag: vendor")
    page.click(".active-filter")
    expect(page.locator("table.assets tbody tr")).to_have_count(3)


def test_an_asset_page_shows_writes_charted_checks_and_who_uses_it(
    server: Server, page: Page, shot: Shot
):
    sign_in(page, server)
    page.click('a.strong:text-is("warehouse.orders")')
    expect(page).to_have_url(f"{server.url}/assets/warehouse.orders")
    expect(page.locator("h1")).to_have_text("warehouse.orders")
    expect(page.locator("table.materializations tbody tr")).to_have_count(3)
    expect(page.locator("svg.timeline .tick")).to_have_count(3)
    # The metadata's note is shown as text, never run as markup.
    expect(page.locator("table.materializations")).to_contain_text("<img src=x onerror")
    plot = page.locator('figure.plot[data-key="rows"]')
    expect(plot.locator("circle.pt")).to_have_count(3)
    expect(plot.locator("figcaption")).to_contain_text("last 80 · min 80 · max 150")
    expect(page.locator('tr[data-check="ids_unique"]')).to_contain_text("Passed")
    expect(page.locator('tr[data-check="enough_rows"]')).to_contain_text("Failed")
    history = page.locator("table.check-history tbody tr")
    expect(history).to_have_count(6)
    expect(history.filter(has_text="enough_rows").filter(has_text="Failed")).to_have_count(1)
    expect(page.locator("ul.producers")).to_contain_text(re.compile(r"etl\W+load"))
    expect(page.locator("ul.consumers")).to_contain_text(re.compile(r"etl\W+report"))
    expect(page.locator("ul.consumers")).to_contain_text(re.compile(r"marts\W+summarise"))
    expect(page.locator("[data-freshness]")).to_contain_text("Fresh")
    shot(page, "assets-02-asset")

    page.goto(f"{server.url}/assets/no.such.asset")
    expect(page.locator("main")).to_contain_text("There is no asset named “no.such.asset”")


def test_the_lineage_graph_spans_flows_and_its_nodes_click_through(
    server: Server, page: Page, shot: Shot
):
    sign_in(page, server)
    page.goto(f"{server.url}/assets/warehouse.orders")
    page.click("text=Lineage graph")
    expect(page).to_have_url(re.compile(r"/lineage\?asset=warehouse\.orders$"))
    nodes = page.locator(".lineage-svg a.ln")
    ids = {
        "raw.events",
        "task:etl/load",
        "warehouse.orders",
        "task:etl/report",
        "task:marts/summarise",
        "mart.daily",
        "task:marts/publish",
    }
    expect(nodes).to_have_count(len(ids))
    assert set(nodes.evaluate_all("ns => ns.map(n => n.dataset.id)")) == ids
    expect(page.locator(".lineage-svg .edges path")).to_have_count(6)
    focus = page.locator(".lineage-svg a.ln.focus")
    expect(focus).to_have_attribute("data-id", "warehouse.orders")
    # Upstream on the left, downstream on the right.
    x = {i: page.locator(f'.lineage-svg a.ln[data-id="{i}"]').bounding_box()["x"] for i in ids}
    assert x["raw.events"] < x["task:etl/load"] < x["warehouse.orders"]
    assert x["warehouse.orders"] < x["task:marts/summarise"] < x["mart.daily"]
    shot(page, "assets-03-lineage")

    # Depth controls: no downstream hops.
    page.fill("input[name=downstream]", "0")
    page.click("form.lineage-form button[type=submit]")
    expect(nodes).to_have_count(3)

    page.goto(f"{server.url}/lineage?asset=warehouse.orders")
    page.locator('.lineage-svg a.ln[data-id="mart.daily"]').click()
    expect(page).to_have_url(f"{server.url}/assets/mart.daily")
    expect(page.locator("ul.producers")).to_contain_text(re.compile(r"marts\W+summarise"))
    page.go_back()
    page.locator('.lineage-svg a.ln[data-id="task:marts/summarise"]').click()
    expect(page).to_have_url(f"{server.url}/flows/marts")


def test_the_flow_graph_has_asset_chips_that_link(server: Server, page: Page, shot: Shot):
    sign_in(page, server)
    page.goto(f"{server.url}/flows/etl")
    load = page.locator('.dag-svg .n[data-k="load"]')
    expect(load).to_be_visible()
    writes = page.locator('.dag-svg a.chip.out[href="/assets/warehouse.orders"]')
    reads = page.locator('.dag-svg a.chip.in[href="/assets/raw.events"]')
    expect(writes).to_have_count(1)
    expect(reads).to_have_count(1)
    expect(page.locator('.dag-svg a.chip.in[href="/assets/warehouse.orders"]')).to_have_count(1)
    shot(page, "assets-04-flow-chips")
    writes.click()
    expect(page).to_have_url(f"{server.url}/assets/warehouse.orders")
