"""Editing YAML flows in the browser: line numbers, the server's checks as you type with the
error at its line, a preview of the DAG, saving as a new version (audited); Python flows
read-only; viewers and operators cannot edit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

GOOD = """name: hand_made
tasks:
  - key: first
    type: shell
    command: echo one
  - key: second
    type: shell
    command: echo two
    depends_on: [first]
"""


def _sign_in(page: Page, server: Any, role: str) -> str:
    token = server.token(f"ed_{role}", role)
    page.goto(f"{server.url}/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/flows")
    return token


def test_an_editor_writes_a_flow_sees_errors_at_their_line_and_saves_versions(
    server: Any, page: Page, shot: Callable[..., None]
):
    token = _sign_in(page, server, "editor")
    page.click("[data-new-flow]")
    expect(page).to_have_url(f"{server.url}/flows/new")
    area = page.locator("[data-yaml]")
    expect(page.locator("[data-preview] .dag-svg .n")).to_have_count(2)  # the template

    # A mistake on line 8 is named there, in the gutter too; nothing can be saved.
    area.fill(
        GOOD.replace("type: shell\n    command: echo two", "type: shel\n    command: echo two")
    )
    error = page.locator("[data-editor-error]")
    expect(error).to_contain_text("Line 7")
    expect(error).to_contain_text("shel")
    expect(page.locator("[data-gutter] .err")).to_have_text("7")
    expect(page.locator("[data-save]")).to_be_disabled()
    shot(page, "36-editor-error", full_page=False)

    # Fixed: the preview draws it, and it is created as a new flow.
    area.fill(GOOD)
    expect(error).to_be_hidden()
    expect(page.locator("[data-preview] .dag-svg .n")).to_have_count(2)
    expect(page.locator("[data-preview] .dag-svg .edges path")).to_have_count(1)
    expect(page.locator("[data-gutter]")).to_contain_text("9")
    shot(page, "37-editor-preview", full_page=False)
    page.click("[data-save]")
    expect(page).to_have_url(f"{server.url}/flows/hand_made")

    # Edit it: the text comes back, a change is saved as the flow's second version.
    page.click("[data-edit]")
    expect(page).to_have_url(f"{server.url}/flows/hand_made/edit")
    assert "key: second" in area.input_value()
    area.fill(area.input_value().replace("echo two", "echo TWO"))
    expect(page.locator("[data-save]")).to_be_enabled()
    page.click("[data-save]")
    expect(page).to_have_url(f"{server.url}/flows/hand_made")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert len(c.get("/api/v1/flows/hand_made").json()["versions"]) == 2
    admin = server.token("ed_admin", "admin")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}) as c:
        rows = c.get("/api/v1/audit", params={"actor": "ed_editor"}).json()["items"]
        actions = [a["action"] for a in rows]
    # Renaming on the edit page is refused: that would be another flow.
    page.goto(f"{server.url}/flows/hand_made/edit")
    area.fill(area.input_value().replace("name: hand_made", "name: other_name"))
    expect(error).to_contain_text("keep its name")
    expect(page.locator("[data-save]")).to_be_disabled()
    assert actions.count("flows.create") >= 1 and actions.count("flows.update") >= 1, actions


def test_viewers_and_operators_cannot_edit(server: Any, page: Page):
    _sign_in(page, server, "operator")
    expect(page.locator("[data-new-flow]")).to_have_count(0)
    page.goto(f"{server.url}/flows/orders_daily")
    expect(page.locator("[data-edit]")).to_have_count(0)
    response = page.goto(f"{server.url}/flows/orders_daily/edit")
    assert response is not None and response.status == 403
    check = page.request.post(
        f"{server.url}/editor/check", data=GOOD, headers={"Content-Type": "application/yaml"}
    )
    assert check.status == 403


def test_a_python_flow_is_read_only_and_a_deployed_file_comes_back_whole(
    tmp_path: Path, launch: Callable[..., Any], page: Page
):
    (tmp_path / "py_flow.py").write_text(
        "from baton import flow, task\n\n@task\ndef hello() -> int:\n    return 1\n\n"
        "@flow\ndef py_flow():\n    hello()\n"
    )
    (tmp_path / "commented.yaml").write_text("# kept, comments and all\n" + GOOD)
    baton = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
    env = {**os.environ, "BATON_HOME": str(tmp_path / ".baton")}
    for f in ("py_flow.py", "commented.yaml"):
        subprocess.run([baton, "deploy", f], cwd=tmp_path, env=env, check=True, timeout=60)
    ui = launch(tmp_path, "ui")
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    page.goto(f"{ui.url}/flows/py_flow/edit")
    expect(page.locator(".note")).to_contain_text("defined in Python")
    expect(page.locator("[data-yaml]")).to_have_count(0)
    page.goto(f"{ui.url}/flows/hand_made/edit")
    expect(page.locator("[data-yaml]")).to_have_value(re.compile("^# kept, comments and all"))
