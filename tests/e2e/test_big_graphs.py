"""Big graphs in the browser: task groups fold into one box each (unfolded by a click, the
graph laid out again), hovering a box lights its edges and neighbours, and a minimap shows
where the view is in a graph bigger than it and moves the view when clicked."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from graph_kit import DEPTH, WIDTH, big_run

BUDGET = 1.0  # seconds, as for the 2,000-task page without groups


def _signed_in(page: Page, ui: Any) -> dict[str, str]:
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    expect(page).to_have_url(f"{ui.url}/flows")
    return {c["name"]: c["value"] for c in page.context.cookies()}


def _drawing(page: Page) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(page.locator(".dag-data").first.text_content() or "")
    return data


def test_groups_fold_unfold_and_roll_their_states_up(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Callable[..., None]
):
    run_id = big_run(tmp_path / ".baton", group_of=lambda layer, i: f"stage{layer // 5:02d}")
    ui = launch(tmp_path, "ui")
    cookies = _signed_in(page, ui)

    page.goto(f"{ui.url}/runs/{run_id}")
    expect(page.locator(".dag-svg .n.grp").first).to_be_visible()
    data = _drawing(page)  # 10 boxes stand for 2,000 tasks
    assert [n[0] for n in data["nodes"]] == [f"stage{i:02d}" for i in range(DEPTH // 5)]
    assert data["states"]["stage00"] == ["succeeded", 5 * WIDTH]
    # The run's failures (a few tasks past the 800th) colour their group, not hidden by it.
    assert any(data["states"][g][0] == "failed" for g in data["members"])
    assert data["states"]["stage09"][1] == 5 * WIDTH  # every task run of the group counted
    expect(page.locator(".dag-groups a")).to_have_count(10)
    shot(page, "30-groups-folded", full_page=False)

    # A click on a group's box unfolds it: its 200 tasks, the other 9 still folded.
    page.locator('.dag-svg .n.grp[data-k="stage00"]').click()
    expect(page).to_have_url(re.compile(r"unfold=stage00"))
    data = _drawing(page)
    assert len(data["nodes"]) == 9 + 5 * WIDTH
    assert "stage00" not in data["members"] and "t0_0" in {n[0] for n in data["nodes"]}
    expect(page.locator('.dag-groups a.open:has-text("stage00")')).to_have_count(1)
    # Its chip folds it again.
    page.locator('.dag-groups a.open:has-text("stage00")').click()
    expect(page).not_to_have_url(re.compile(r"unfold="))
    assert len(_drawing(page)["nodes"]) == DEPTH // 5

    # Everything unfolded is still a page under a second on the server.
    with httpx.Client(base_url=ui.url, cookies=cookies) as client:
        started = time.perf_counter()
        r = client.get(f"/runs/{run_id}", params={"unfold": "all"})
        took = time.perf_counter() - started
        assert r.status_code == 200
    assert took < BUDGET, f"{took:.2f}s for a 2,000-task run page, all unfolded"
    hostile = "x," * 3_000  # past MAX_UNFOLDED names, none a group
    with httpx.Client(base_url=ui.url, cookies=cookies) as client:
        assert client.get(f"/runs/{run_id}", params={"unfold": hostile}).status_code == 200


def test_hover_lights_edges_and_the_minimap_moves_the_view(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Callable[..., None]
):
    run_id = big_run(tmp_path / ".baton")
    ui = launch(tmp_path, "ui")
    _signed_in(page, ui)
    page.goto(f"{ui.url}/runs/{run_id}")
    expect(page.locator(".dag-svg .n").first).to_be_visible()

    page.fill("[data-find]", "t1_3")  # the graph centres it
    box = page.locator('.dag-svg .n[data-k="t1_3"]')
    box.hover()
    lit = page.locator(".dag-svg .edges path.hl")
    expect(lit.first).to_be_attached()
    # t1_3 waits on t0_3 and t0_24, and t2_3 plus those whose second upstream it is wait on it
    near = page.locator(".dag-svg .n.near")
    expect(near.first).to_be_attached()
    keys = set(near.evaluate_all("ns => ns.map(n => n.dataset.k)"))
    assert {"t0_3", "t0_24", "t2_3"} <= keys, keys
    assert lit.count() == len(keys)

    # A graph bigger than its view has a minimap; a click on it moves the view there.
    mini = page.locator(".dag-mini")
    expect(mini).to_be_visible()
    before = page.locator(".dag-svg .world").get_attribute("transform")
    size = mini.bounding_box()
    assert size is not None
    mini.click(position={"x": size["width"] - 4, "y": size["height"] - 4})
    expect(page.locator(".dag-svg .world")).not_to_have_attribute("transform", before or "")
    expect(page.locator('.dag-svg .n[data-k="t49_39"]')).to_be_attached()  # the far end
    shot(page, "31-graph-minimap", full_page=False)

    # Fit to the screen: boxes become bare colour (no text), the minimap goes.
    page.click('[data-zoom="fit"]')
    expect(page.locator(".dag-svg .n text")).to_have_count(0)
    expect(mini).to_be_hidden()
