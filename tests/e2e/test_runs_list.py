"""The runs list in the browser: filters picked from lists, bulk cancel of the runs
selected, and rows that follow their runs without a reload."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Page, expect


def test_bulk_cancel_and_live_rows(server: Any, page: Page, shot: Callable[..., None]):
    token = server.token("otto", "operator")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
        made = [
            c.post("/api/v1/flows/orders_daily/runs", json={"params": {"limit": i}}).json()["id"]
            for i in range(3)
        ]
    page.goto(f"{server.url}/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.goto(f"{server.url}/runs?flow=orders_daily")
    expect(page.locator("[data-total]")).to_contain_text("match")
    for run_id in made[:2]:
        page.locator(f'[data-select="{run_id}"]').check()
    expect(page.locator("[data-bulk-count]")).to_have_text("2 selected")
    shot(page, "39-runs-bulk", full_page=False)
    page.on("dialog", lambda d: d.accept())
    page.click('[data-bulk-action="cancel"]')
    for run_id in made[:2]:  # no reload by us: the rows follow
        expect(page.locator(f'tr[data-run-row="{run_id}"]')).to_have_attribute(
            "data-state", re.compile("cancel"), timeout=20_000
        )
    expect(page.locator(f'tr[data-run-row="{made[2]}"]')).not_to_have_attribute(
        "data-state", re.compile("cancel")
    )

    # The state filter, picked from its list.
    page.locator("details.pick summary", has_text="State").click()
    page.locator('input[name=state][value="cancelled"]').check()
    page.click("form.runs-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"state=cancelled"))
    expect(page.locator("[data-run-row]").first).to_be_visible()
    states = page.locator("[data-run-row]").evaluate_all("rs => rs.map(r => r.dataset.state)")
    assert set(states) == {"cancelled"}, states
