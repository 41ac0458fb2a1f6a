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

from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState, ErrorKind
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import outcome_of

WIDTH, DEPTH = 40, 50  # 2,000 tasks: 50 layers of 40, each task waiting on 2 of the layer before
BUDGET = 1.0  # seconds


def big_run(home: Path) -> str:
    """A run of a 2,000-task flow in the store at `home`: the first half done (a few failed),
    some running, the rest waiting."""
    tasks = []
    for layer in range(DEPTH):
        for i in range(WIDTH):
            ups = () if layer == 0 else (f"t{layer - 1}_{i}", f"t{layer - 1}_{(i * 7 + 3) % WIDTH}")
            tasks.append(
                TaskSpec(
                    key=f"t{layer}_{i}", type="shell", config={"command": "true"}, depends_on=ups
                )
            )
    spec = FlowSpec(name="big_flow", description="2,000 tasks", tasks=tuple(tasks))
    clock = [time.time() - 600]  # ten minutes ago: the run is still going
    store = Store(Settings.from_env({"BATON_HOME": str(home)}).database_url)
    try:
        engine = Engine(store, clock=lambda: clock[0])
        run_id = engine.create_run(engine.register(spec), {})
        outcomes: list[Outcome] = []
        done = 0
        while done < 1_000:
            claimed = engine.claim(
                worker_id="w", queues=["default"], limit=120, lease=600, outcomes=outcomes
            )
            clock[0] += 0.4
            failing = {c.task_key for c in claimed[:2]} if done > 800 else set()
            outcomes = [
                outcome_of(
                    c,
                    AttemptState.FAILED if c.task_key in failing else AttemptState.SUCCEEDED,
                    at=clock[0],
                    error="exit 1" if c.task_key in failing else None,
                    error_kind=ErrorKind.USER if c.task_key in failing else None,
                )
                for c in claimed
            ]
            done += len(claimed)
        engine.claim(worker_id="w", queues=["default"], limit=60, lease=600, outcomes=outcomes)
    finally:
        store.close()
    return run_id


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
