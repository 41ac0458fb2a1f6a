"""Big flows stay usable: a run of 2,000 tasks (made through the engine, half of them done)
renders its page in under a second, on the server and in the browser."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from graph_kit import big_run

BUDGET = 1.0  # seconds


def test_a_2000_task_run_page_renders_in_under_a_second(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Callable[[Page, str], None]
):
    run_id = big_run(tmp_path / ".baton")
    ui = launch(tmp_path, "ui")
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    expect(page).to_have_url(f"{ui.url}/flows")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}

    # The server: the first request lays the graph out too.
    with httpx.Client(base_url=ui.url, cookies=cookies) as client:
        started = time.perf_counter()
        r = client.get(f"/runs/{run_id}")
        server = time.perf_counter() - started
        assert r.status_code == 200, r.text[:500]
    assert server < BUDGET, f"the server took {server:.2f}s for a 2,000-task run page"

    # The browser: navigation to the load event, scripts (graph, Gantt chart) included.
    page.goto(f"{ui.url}/runs/{run_id}")
    loaded = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return (n.loadEventEnd - n.startTime) / 1000; }"
    )
    assert loaded < BUDGET, f"the browser took {loaded:.2f}s to load a 2,000-task run page"
    # Only the boxes in view are drawn; the page knows all 2,000.
    boxes = page.locator(".dag-svg .n").count()
    assert 20 < boxes < 600, f"{boxes} boxes drawn"
    page.fill("[data-find]", "t49_39")  # the last task: the graph moves to it
    expect(page.locator('.dag-svg .n.hit[data-k="t49_39"]')).to_be_visible()
    expect(page.locator("table.tasks tbody tr")).to_have_count(50)  # paged
    expect(page.locator("[data-gantt] .bar").first).to_be_visible()
    print(
        f"2,000-task run page: server {server * 1000:.0f} ms, browser load {loaded * 1000:.0f} ms"
    )
    shot(page, "17-run-2000-tasks", full_page=False)
    page.click('[data-zoom="find-failed"]')
    page.locator(".gantt").scroll_into_view_if_needed()
    shot(page, "18-run-2000-tasks-failure", full_page=False)
