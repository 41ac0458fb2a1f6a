"""The web UI in a real browser, against a real `baton server`: sign in, see flows, trigger a
run with params (a bad value is refused in place), watch it finish live, tail a log while it
is written, open the failed task's log, fix the cause, repair the run, and see what a viewer
may not do. Every page is saved as a screenshot in tests/e2e/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

Shot = Callable[[Page, str], None]
Server = Any
LIVE = 15_000  # ms: how long a page may take to show what the server did (never reached)


def sign_in(page: Page, server: Server, token: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flows")


def test_operator_triggers_watches_and_repairs_a_run(
    server: Server, page: Page, browser: Browser, shot: Shot
):
    operator = server.token("olga", "operator")

    # Signing in: a page asks for a token; a wrong one is refused in place.
    page.goto(f"{server.url}/flows")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page).to_have_title("Sign in · baton")
    shot(page, "01-sign-in")
    page.fill("input[name=token]", "baton_nope_nope")
    page.click("button[type=submit]")
    expect(page.locator(".field .error")).to_contain_text("not valid")
    page.fill("input[name=token]", operator)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/flows")

    # The flows page: the flow, its schedule and next run, its pause switch.
    row = page.locator("table.flows tbody tr", has_text="orders_daily")
    expect(row).to_contain_text("0 6 * * *")
    expect(row).to_contain_text("next")
    expect(row.locator("input[data-pause]")).to_be_checked()
    shot(page, "02-flows")

    # The flow page: its graph, and the trigger form built from its params.
    row.locator("a", has_text="orders_daily").click()
    expect(page).to_have_title("orders_daily · baton")
    expect(page.locator(".dag-svg .n")).to_have_count(6)
    expect(page.locator(".dag-svg .edges path")).to_have_count(5)
    shot(page, "03-flow")
    page.click("text=Trigger run")
    form = page.locator("form[data-trigger]")
    expect(form.locator("[name=day]")).to_have_value("2024-06-01")
    form.locator("[name=limit]").fill("lots")
    form.locator("button[type=submit]").click()
    error = form.locator("[data-param=limit] .error")
    expect(error).to_contain_text("expects an integer")
    expect(form.locator("[data-param=day] .error")).to_be_hidden()
    shot(page, "04-trigger-invalid")
    form.locator("[name=limit]").fill("25")
    form.locator("[name=day]").fill("2024-07-01")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{16}$"))
    run_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".facts")).to_contain_text("limit=25")

    # The run page follows the run, without a reload by us.
    expect(page.locator("[data-run-state]")).to_contain_text("Running", timeout=LIVE)
    expect(page.locator('.dag-svg .n[data-k="extract_orders"]')).to_have_class(
        re.compile("st-running")
    )
    shot(page, "05-run-live")

    # A second tab tails extract_orders' log while it is written (server-sent events).
    tail = page.context.new_page()
    tail.goto(f"{server.url}/runs/{run_id}/tasks/extract_orders")
    log = tail.locator("pre[data-log]")
    expect(log).to_contain_text("extracted batch 1 of 2024-07-01", timeout=LIVE)
    assert "batch 10" not in log.inner_text(), "the log should be caught while it is written"
    expect(tail.locator("[data-log-status]")).to_have_text("Live")
    shot(tail, "06-task-log-live")
    expect(log).to_contain_text("extracted batch 10", timeout=LIVE)

    # ... to its end.
    expect(page.locator("[data-run-state]")).to_contain_text("Failed", timeout=LIVE)
    expect(page.locator('.dag-svg .n[data-k="quality_check"]')).to_have_class(
        re.compile("st-failed")
    )
    expect(page.locator('.dag-svg .n[data-k="report"]')).to_have_class(
        re.compile("st-upstream_failed")
    )
    expect(page.locator("[data-gantt] .bar")).to_have_count(4)
    expect(page.locator("button[data-action=repair]")).to_be_visible()
    expect(page.locator("button[data-action=cancel]")).to_be_hidden()
    shot(page, "07-run-failed")

    # The failed task: its error, and its log.
    page.locator("table.tasks a", has_text="quality_check").click()
    expect(page.locator(".failure")).to_contain_text("exited with code 3")
    expect(page.locator("pre[data-log]")).to_contain_text("ready.flag is missing")
    shot(page, "08-task-failed")

    # Fix the cause, repair the run: only what failed runs again, and it succeeds.
    (server.cwd / "ready.flag").write_text("ok")
    page.goto(f"{server.url}/runs/{run_id}")
    page.click("button[data-action=repair]")
    page.wait_for_url(re.compile(r"/runs/(?!" + run_id + r")[0-9a-f]{16}$"))
    expect(page.locator("[data-run-state]")).to_contain_text("Succeeded", timeout=LIVE)
    expect(page.locator(".facts")).to_contain_text("Repair of")
    expect(page.locator("table.tasks")).to_contain_text("reused")
    shot(page, "09-run-repaired")

    repair_id = page.url.rsplit("/", 1)[1]

    # The flow page shows both runs in its grid (with the one its schedule started).
    page.goto(f"{server.url}/flows/orders_daily")
    for run in (run_id, repair_id):
        expect(page.locator(f'.grid thead a.run-bar[href="/runs/{run}"]')).to_have_count(1)
    expect(page.locator(f'.grid a.dot.st-failed[href^="/runs/{run_id}/"]')).to_have_count(1)
    expect(page.locator(f'.grid a.dot.st-succeeded[href^="/runs/{repair_id}/"]')).to_have_count(6)
    shot(page, "10-flow-with-runs")
    tail.close()


def test_a_viewer_sees_no_action_and_the_api_refuses_them(server: Server, page: Page, shot: Shot):
    viewer = server.token("vera", "viewer")
    sign_in(page, server, viewer)
    expect(page.locator("input[data-pause]")).to_have_count(0)
    expect(page.locator("nav.side")).not_to_contain_text("Audit log")
    page.click("text=orders_daily")
    expect(page.locator("text=Trigger run")).to_have_count(0)
    page.goto(f"{server.url}/runs")
    page.locator("table a.mono").first.click()
    expect(page.locator("button[data-action]")).to_have_count(0)
    shot(page, "11-viewer-run")
    # The API refuses what the page does not offer.
    status = page.evaluate(
        """() => fetch('/api/v1/flows/orders_daily/runs', {method: 'POST',
             headers: {'X-Baton-UI': '1', 'Content-Type': 'application/json'},
             body: '{"params": {}}'}).then(r => r.status)"""
    )
    assert status == 403
    response = page.goto(f"{server.url}/audit")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("needs the admin role")
    shot(page, "12-viewer-audit-refused")
    # Signing out ends the session.
    page.click("text=Sign out")
    expect(page).to_have_url(f"{server.url}/login")
    page.goto(f"{server.url}/flows")
    expect(page).to_have_url(re.compile("/login"))


def test_an_admin_sees_workers_and_the_audit_log(server: Server, browser: Browser, shot: Shot):
    admin = server.token("ada", "admin")
    # Its own audited call and run: the tests that trigger from the UI may run in another
    # xdist worker, with a server of their own.
    r = httpx.post(
        f"{server.url}/api/v1/flows/orders_daily/runs",
        json={"params": {}},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 201, r.text
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1440, "height": 960}, color_scheme=scheme)
        page = context.new_page()
        sign_in(page, server, admin)
        page.goto(f"{server.url}/workers")
        expect(page.locator("table").first).to_contain_text("Alive")
        shot(page, f"13-workers-{scheme}")
        page.goto(f"{server.url}/audit")
        expect(page.locator("table")).to_contain_text("flows.trigger")
        shot(page, f"14-audit-{scheme}")
        page.goto(f"{server.url}/runs")
        page.locator("table a.mono").first.click()
        expect(page.locator(".dag-svg .n")).to_have_count(6)
        shot(page, f"15-run-{scheme}")
        context.close()


def test_the_session_cookie_is_http_only_and_strict(server: Server):
    token = server.token("sam", "viewer")
    r = httpx.post(f"{server.url}/login", data={"token": token, "next": "//evil.example/"})
    assert r.status_code == 303
    assert r.headers["location"] == "/flows"  # never a redirect off this server
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    # The cookie alone does not authorise an API call: a page of another site could send it.
    r = httpx.get(f"{server.url}/api/v1/runs", cookies=r.cookies)
    assert r.status_code == 401


def test_baton_ui_prints_a_sign_in_link(tmp_path: Path, launch: Any, page: Page, shot: Shot):
    ui = launch(tmp_path, "ui")
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    expect(page).to_have_url(f"{ui.url}/flows")
    expect(page.locator(".card.empty")).to_contain_text("No flows yet")
    shot(page, "16-empty-flows")
