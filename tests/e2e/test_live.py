"""Live pages: the flows list, runs list, a flow's grid, the workers page and a task's header
follow the store without a reload, through one poller that stops while the tab is hidden and
says so in the page head."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

FAST = "window.BATON_LIVE_MS = 300;"  # the pages poll every 0.3 s here, not every 5 s


@pytest.fixture
def api(server: Any, page: Page) -> Iterator[httpx.Client]:
    """The page signed in as an operator, and an API client as the same operator."""
    token = server.token("lia", "operator")
    page.add_init_script(FAST)
    page.goto(f"{server.url}/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def trigger(api: httpx.Client) -> str:
    made = api.post("/api/v1/flows/orders_daily/runs", json={"params": {}})
    assert made.status_code in (200, 201), made.text
    return str(made.json()["id"])


def not_reloaded(page: Page) -> None:
    page.evaluate("window.liveMarker = 'same page'")


def assert_same_page(page: Page) -> None:
    assert page.evaluate("window.liveMarker") == "same page"


def test_pages_follow_the_store(
    server: Any, api: httpx.Client, page: Page, shot: Callable[..., None]
):
    indicator = page.locator("[data-live-indicator]")

    # An empty runs list: its first run comes in (the page around it with it).
    page.goto(f"{server.url}/runs?trigger=manual&trigger=api")  # not the scheduled catch-up
    expect(page.locator("section.empty")).to_contain_text("No runs")
    zeroth = trigger(api)
    expect(page.locator(f'tr[data-run-row="{zeroth}"]')).to_be_visible(timeout=5_000)
    api.post(f"/api/v1/runs/{zeroth}/cancel")

    page.goto(f"{server.url}/flows")
    expect(indicator).to_contain_text(re.compile(r"Live · updated \d+ s ago"))
    expect(indicator.get_by_role("status")).to_have_text("Live")
    not_reloaded(page)
    first = trigger(api)
    expect(page.locator(f'.strip a.cell[href="/runs/{first}"]')).to_be_visible(timeout=5_000)
    assert_same_page(page)
    shot(page, "60-live-flows", full_page=False)

    page.goto(f"{server.url}/workers")
    not_reloaded(page)
    second = trigger(api)  # extract_orders runs 4 s: long enough to be seen running
    expect(page.locator(f'td.doing a[href^="/runs/{second}/tasks/"]')).to_be_visible(timeout=8_000)
    assert_same_page(page)
    shot(page, "61-live-workers", full_page=False)

    page.goto(f"{server.url}/flows/orders_daily")
    not_reloaded(page)
    third = trigger(api)
    expect(page.locator(f'a.run-bar[href="/runs/{third}"]')).to_be_visible(timeout=5_000)
    assert_same_page(page)

    # The runs list: new rows and the total come in; a checked box stays checked.
    page.goto(f"{server.url}/runs")
    total = page.locator("[data-total]").inner_text()
    page.locator(f'[data-select="{third}"]').check()
    not_reloaded(page)
    fourth = trigger(api)
    expect(page.locator(f'tr[data-run-row="{fourth}"]')).to_be_visible(timeout=5_000)
    expect(page.locator("[data-total]")).not_to_have_text(total)
    expect(page.locator(f'[data-select="{third}"]')).to_be_checked()
    expect(page.locator("[data-bulk-count]")).to_have_text("1 selected")
    # An open filter list is not redrawn under the user's hand.
    page.locator("details.pick summary").first.click()
    fifth = trigger(api)
    expect(page.locator(f'tr[data-run-row="{fifth}"]')).to_be_visible(timeout=5_000)
    expect(page.locator("details.pick").first).to_have_attribute("open", "")
    assert_same_page(page)

    # A task's header: its state, attempts and duration follow it, then the polling stops.
    api.post(f"/api/v1/runs/{second}/cancel")
    for run_id in (first, third, fourth):
        api.post(f"/api/v1/runs/{run_id}/cancel")
    page.goto(f"{server.url}/runs/{fifth}/tasks/extract_orders")
    expect(page.locator("h1 .badge")).to_contain_text("Running", timeout=10_000)  # it started
    not_reloaded(page)
    expect(page.locator("h1 .badge")).to_contain_text(re.compile("Succeeded"), timeout=15_000)
    expect(page.get_by_role("tab")).to_contain_text("Succeeded")
    assert_same_page(page)
    expect(indicator.get_by_role("status")).to_have_text("Up to date", timeout=15_000)
    shot(page, "62-live-task", full_page=False)

    # The run page polls the API, and shows the same indicator.
    page.goto(f"{server.url}/runs/{fifth}")
    expect(indicator.get_by_role("status")).to_have_text(re.compile("Live|Up to date"))


def test_a_hidden_tab_stops_polling_and_errors_show(server: Any, api: httpx.Client, page: Page):
    page.goto(f"{server.url}/workers")
    indicator = page.locator("[data-live-indicator] [role=status]")
    polls: list[str] = []

    def seen(request: Request) -> None:
        if request.url.endswith("/workers"):
            polls.append(request.url)

    page.on("request", seen)
    with page.expect_request(re.compile(r"/workers$")):
        pass
    page.evaluate(
        """() => {
          Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    expect(indicator).to_have_text("Paused")
    polls.clear()
    page.wait_for_timeout(1_500)  # five intervals: none may poll
    assert polls == []

    # Shown again: a poll at once, not an interval later.
    with page.expect_request(re.compile(r"/workers$"), timeout=1_000):
        page.evaluate(
            """() => {
              Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
              document.dispatchEvent(new Event("visibilitychange"));
            }"""
        )
    expect(indicator).to_have_text("Live")

    # The server unreachable: said, then retried (slower), then live again.
    page.route(re.compile(r"/workers$"), lambda route: route.abort())
    expect(indicator).to_have_text("Offline, retrying")
    page.unroute(re.compile(r"/workers$"))
    expect(indicator).to_have_text("Live", timeout=10_000)
