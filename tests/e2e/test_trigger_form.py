"""The trigger form: params in the order they were declared, a logical date and a note, a
raw JSON mode, and "re-run with these params" from a run's page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect


def _sign_in(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=token]", server.token("tess", "operator"))
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/flows")


def test_the_trigger_form_keeps_order_takes_a_date_a_note_and_raw_json(
    server: Any, page: Page, shot: Callable[..., None]
):
    _sign_in(page, server)
    page.goto(f"{server.url}/flows/orders_daily")
    page.click("text=Trigger run")
    form = page.locator("form[data-trigger]")
    # Declared day, limit, dry_run: not the sorted day, dry_run, limit.
    names = form.locator("[data-param]:not([data-extra]) [name]").evaluate_all(
        "xs => xs.map(x => x.name)"
    )
    assert names == ["day", "limit", "dry_run"], names

    # Raw JSON: the fields as one object; edited there, sent as it is.
    form.locator("[data-raw-toggle]").click()
    raw = form.locator("[name=raw]")
    expect(raw).to_be_visible()
    assert json.loads(raw.input_value()) == {"day": "2024-06-01", "limit": 100, "dry_run": False}
    raw.fill('{"day": "2024-08-01", "limit": 7}')
    form.locator("[name=logical_date]").fill("2024-08-01")
    form.locator("[name=note]").fill("catching up August")
    shot(page, "34-trigger-raw-json", full_page=False)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{16}$"))
    run_id = page.url.rsplit("/", 1)[1]
    facts = page.locator(".facts")
    expect(facts).to_contain_text("limit=7")
    expect(facts).to_contain_text('day="2024-08-01"')
    expect(page.locator("[data-note]")).to_have_text("catching up August")
    expect(facts).to_contain_text("2024-08-01")  # the logical date

    # Re-run with these params: the form opens, filled in with them.
    page.locator("[data-rerun]").click()
    form = page.locator("form[data-trigger]")
    expect(form).to_be_visible()
    expect(form.locator("[name=limit]")).to_have_value("7")
    expect(form.locator("[name=day]")).to_have_value("2024-08-01")
    expect(form.locator("[name=note]")).to_have_value(f"again, as run {run_id[:8]}")
    shot(page, "35-trigger-rerun", full_page=False)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{16}$"))
    assert page.url.rsplit("/", 1)[1] != run_id
    expect(page.locator(".facts")).to_contain_text("limit=7")

    # A bad logical date is named next to its field; bad JSON is said, nothing sent.
    page.goto(f"{server.url}/flows/orders_daily")
    page.click("text=Trigger run")
    form = page.locator("form[data-trigger]")
    form.locator("[name=logical_date]").fill("someday")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-param=logical_date] .error")).to_be_visible()
    form.locator("[name=logical_date]").fill("")
    form.locator("[data-raw-toggle]").click()
    form.locator("[name=raw]").fill("{not json")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_contain_text("not JSON")
    expect(page).to_have_url(re.compile(r"/flows/orders_daily"))
