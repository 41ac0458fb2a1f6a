"""Partitions in a real browser, against a real `baton server`: a flow of 50,000 hourly
partitions shows its strip (aggregated on the server) in under a second; a cell zooms in,
a one-key cell lists its runs; "Backfill missing" runs the missing days through the
server's timers and workers; an asset's page shows its partitions' status; the trigger
dialog takes a partition. Screenshots go to tests/e2e/artifacts/."""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from baton.execution.loader import LoadedFlow
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.registration import deploy
from baton.settings import Settings
from baton.store.store import Store

Shot = Callable[[Page, str], None]
BUDGET = 1.0  # seconds
KEYS = 50_000

# Six days up to yesterday; the second one fails.
FIRST = datetime.now(UTC).date() - timedelta(days=6)
DAY = [str(FIRST + timedelta(days=d)) for d in range(6)]
DAYS = f"""
name: days
partitions: {{type: daily, start: {DAY[0]}}}
tasks:
  - key: load
    type: shell
    command: 'test "$BATON_PARTITION" != {DAY[1]}'
    outputs: [wh.days]
"""


def hourly_flow(home: Path) -> None:
    """A deployed flow of 50,000 hourly partitions, most of them run (a few failed, some
    running); runs written straight to the store (50,000 runs through a worker would take
    minutes)."""
    start = (datetime.now(UTC) - timedelta(hours=KEYS)).strftime("%Y-%m-%dT%H:00")
    text = f'name: hourly\npartitions: {{type: hourly, start: "{start}"}}\n' + (
        "tasks: [{key: a, type: shell, command: 'true'}]\n"
    )
    store = Store(Settings.from_env({"BATON_HOME": str(home)}).database_url)
    try:
        deploy(store, [LoadedFlow(load_yaml_flow(text, file="hourly.yaml"))])
        version = store.read().flow("hourly").latest_version  # type: ignore[union-attr]
        first = datetime.fromisoformat(start).replace(tzinfo=UTC)
        rows = []
        for i in range(KEYS - 10):
            if i % 97 == 5:
                continue  # never ran
            key = (first + timedelta(hours=i)).strftime("%Y-%m-%dT%H:00")
            state = "failed" if i % 500 == 7 else "running" if i > KEYS - 20 else "succeeded"
            rows.append((f"h{i:06}", "hourly", version, state, "{}", "backfill", key, 0, 1.0 + i))
        with store.transaction() as tx:
            tx._c.executemany(
                "INSERT INTO runs (id, flow_name, version_id, state, params, trigger, "
                "partition, unfinished, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    finally:
        store.close()


def sign_in(page: Page, server: Any, role: str = "operator") -> None:
    page.goto(f"{server.url}/login?next=/flows")
    page.fill("input[name=token]", server.token("olga", role))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flows")


def test_fifty_thousand_partitions_render_in_under_a_second_and_zoom(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Shot
):
    hourly_flow(tmp_path / ".baton")
    server = launch(tmp_path, "ui")
    sign_in(page, server, "viewer")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=server.url, cookies=cookies) as client:
        client.get("/flows/hourly")  # the first request imports what the page needs
        started = time.perf_counter()
        r = client.get("/flows/hourly")
        took = time.perf_counter() - started
        assert r.status_code == 200, r.text[:500]
    assert took < BUDGET, f"the server took {took:.2f}s for a flow of {KEYS} partitions"
    page.goto(f"{server.url}/flows/hourly")
    loaded = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return (n.loadEventEnd - n.startTime) / 1000; }"
    )
    assert loaded < BUDGET, f"the browser took {loaded:.2f}s for {KEYS} partitions"
    cells = page.locator(".pstrip .pcell")
    expect(cells).to_have_count(200)
    head = page.locator(".pstrip-head")
    expect(head).to_contain_text(f"{KEYS} partitions")
    expect(head).to_contain_text("250 a cell")
    expect(head.locator(".pcount.st-failed")).to_contain_text("failed")
    expect(head.locator(".pcount.st-none")).to_contain_text("missing")
    assert page.locator(".pstrip .pcell.st-failed").count() > 50  # worst status shows
    shot(page, "partitions-01-flow-50k")
    print(f"{KEYS} partitions: server {took * 1000:.0f} ms, browser load {loaded * 1000:.0f} ms")

    cells.first.click()  # 250 keys: zoomed in, two keys a cell
    expect(page).to_have_url(re.compile(r"\?parts=.+\.\..+#partitions$"))
    expect(head).to_contain_text("250 of 50000 partitions")
    expect(cells).to_have_count(125)
    cells.first.click()
    expect(cells).to_have_count(2)  # one key a cell
    first = cells.first.get_attribute("title") or ""
    key = first.split(":")[0] + ":" + first.split(":")[1]
    cells.first.click()
    expect(page).to_have_url(re.compile(r"/runs\?flow=hourly&partition="))
    expect(page.locator("table.table tbody tr")).to_have_count(1)
    expect(page.locator("table.table tbody")).to_contain_text(key)


def test_backfill_missing_an_asset_strip_and_a_partitioned_trigger(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Shot
):
    (tmp_path / "days.yaml").write_text(textwrap.dedent(DAYS))
    server = launch(tmp_path, "server", "--port", "0")
    sign_in(page, server)
    editor = {"Authorization": f"Bearer {server.token('ed', 'editor')}"}
    headers = {"Authorization": f"Bearer {server.token('op', 'operator')}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers) as api:
        yaml = {"Content-Type": "application/yaml", **editor}
        r = api.post("/flows", content=DAYS, headers=yaml)
        assert r.status_code == 201, r.text
        made = api.post("/flows/days/backfills", json={"partitions": f"{DAY[0]}..{DAY[2]}"}).json()

        def ended() -> bool:
            return api.get(f"/backfills/{made['id']}").json()["state"] == "done"

        wait(ended)
    page.goto(f"{server.url}/flows/days#partitions")
    counts = page.locator("#partitions .pstrip-head")
    expect(counts.locator(".pcount.st-succeeded")).to_have_text("2 succeeded")
    expect(counts.locator(".pcount.st-failed")).to_have_text("1 failed")
    shot(page, "partitions-02-flow-days")

    # Backfill missing: every day that never ran, by the server's timers and workers.
    page.click("[data-backfill]")
    expect(page.locator("#toast")).to_contain_text("Backfill")
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers) as api:

        def none_missing() -> bool:
            page_ = api.get("/flows/days/partitions", params={"limit": 1}).json()
            return page_["counts"]["missing"] == 0 and page_["counts"]["running"] == 0

        wait(none_missing)
    page.goto(f"{server.url}/flows/days")
    expect(page.locator("[data-backfill]")).to_have_count(0)  # nothing missing any more

    # The asset's page: its days materialized, the failed one failed.
    page.goto(f"{server.url}/assets/wh.days")
    strip = page.locator("#partitions")
    expect(strip.locator(".pcount.st-failed")).to_have_text("1 failed")
    expect(strip).to_contain_text("materialized")
    shot(page, "partitions-03-asset")

    # The trigger dialog takes a partition; a bad one is shown next to its field.
    page.goto(f"{server.url}/flows/days")
    page.click("[data-open=trigger]")
    page.fill("[data-partition] input", "2024-13-01")
    page.click("form[data-trigger] button[type=submit]")
    expect(page.locator("[data-partition] .error")).to_contain_text("not a daily partition key")
    page.fill("[data-partition] input", DAY[1])
    page.click("form[data-trigger] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]+$"))
    expect(page.locator(".facts")).to_contain_text(DAY[1])


def wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    from waiting import wait_until

    wait_until(condition, timeout=timeout, what="the backfill")
