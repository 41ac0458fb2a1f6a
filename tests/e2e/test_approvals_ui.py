"""Approvals in a real browser, against a real `baton server`: the approvals page lists what
waits; an approver fills in the form and clicks Approve on the task's page, and the run
goes on; someone who is no approver sees no buttons. Screenshots go to tests/e2e/artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from waiting import wait_until

Shot = Callable[[Page, str], None]
GATE = """
name: release
tasks:
  - {key: build, type: shell, command: "echo v1.2"}
  - key: sign_off
    type: approval
    prompt: "Release {{ upstream.build }} to production?"
    depends_on: [build]
    approvers: [alice, "role:editor"]
    form: {amount_ok: {type: boolean, required: true}, ticket: {type: integer}}
  - {key: deploy, type: shell, command: "echo deployed", depends_on: [sign_off]}
"""


def sign_in(page: Page, server: Any, user: str, role: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{server.url}/login?next=/approvals")
    page.fill("input[name=token]", server.token(user, role))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/approvals")


def test_an_approver_clicks_approve_and_the_run_goes_on(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Shot
):
    server = launch(tmp_path, "server", "--port", "0")
    editor = {"Authorization": f"Bearer {server.token('ed', 'editor')}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=editor) as api:
        r = api.post("/flows", content=GATE, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
        run_id = api.post("/flows/release/runs", json={}).json()["id"]
        wait_until(lambda: api.get("/approvals").json()["items"], what="the approval to wait")

        # Someone who is no approver sees the prompt, and no buttons.
        sign_in(page, server, "bob", "operator")
        card = page.locator("[data-approval-card]")
        expect(card).to_have_count(1)
        expect(card.locator(".prompt")).to_have_text("Release v1.2 to production?")
        expect(card.get_by_role("button", name="Approve")).to_have_count(0)
        expect(card).to_contain_text("You are not one of them")

        # alice is, by name (a viewer by role): the task's page has the form.
        sign_in(page, server, "alice", "viewer")
        shot(page, "approvals-01-list")
        page.get_by_role("link", name="release · sign_off").click()
        page.wait_for_url(f"{server.url}/runs/{run_id}/tasks/sign_off")
        form = page.locator("form[data-approval]")
        form.locator("input[name=ticket]").fill("not a number")
        form.get_by_role("button", name="Approve").click()
        expect(form.locator(".form-error")).to_contain_text("inputs.ticket")
        form.locator("select[name=amount_ok]").select_option("true")
        form.locator("input[name=ticket]").fill("42")
        form.locator("textarea[name=comment]").fill("checked the changelog")
        shot(page, "approvals-02-task-form")
        form.get_by_role("button", name="Approve").click()
        expect(page.locator("#toast")).to_contain_text("sign_off approved")
        expect(page.locator("form[data-approval]")).to_have_count(0)

        def ended() -> Any:
            run = api.get(f"/runs/{run_id}").json()
            return run["state"] == "succeeded" and run

        run = wait_until(ended, what="the run to succeed")
        assert {t["key"]: t["state"] for t in run["tasks"]} == {
            "build": "succeeded",
            "sign_off": "succeeded",
            "deploy": "succeeded",
        }
        audit = api.get("/audit", params={"action": "approvals.approve"})
        assert audit.status_code == 403  # an editor may not read it; the admin's test is the API's

    page.goto(f"{server.url}/runs/{run_id}/tasks/sign_off")
    expect(page.locator(".result, pre.code").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("checked the changelog")
    shot(page, "approvals-03-task-approved")
    page.goto(f"{server.url}/approvals")
    expect(page.locator(".card.empty")).to_contain_text("No approval is waiting")
