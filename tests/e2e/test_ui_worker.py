"""`baton ui` is honest about runs nothing will run: with no worker alive, a run's page says
so and offers to run it in the UI's own process; accepted, the run goes to its end there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

FLOW = """
name: nightly
tasks:
  - {key: hello, type: shell, command: "echo hello from the ui process"}
  - {key: bye, type: shell, command: "echo bye", depends_on: [hello]}
"""


def test_a_run_nothing_would_run_is_said_and_run_in_the_ui_process(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Callable[..., None]
):
    (tmp_path / "nightly.yaml").write_text(textwrap.dedent(FLOW))
    baton = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
    subprocess.run(
        [baton, "deploy", "nightly.yaml"],
        cwd=tmp_path,
        env={**os.environ, "BATON_HOME": str(tmp_path / ".baton")},
        check=True,
        capture_output=True,
        timeout=60,
    )
    ui = launch(tmp_path, "ui")
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    page.goto(f"{ui.url}/flows/nightly")
    page.locator("[data-open]").filter(has_text=re.compile("Trigger", re.I)).first.click()
    page.locator("form[data-trigger] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]+$"))
    note = page.locator("[data-no-worker]")
    expect(note).to_contain_text("No worker is alive")
    expect(page.locator("[data-run-state]")).to_contain_text(re.compile("Queued", re.I))
    shot(page, "32-ui-no-worker", full_page=False)

    page.locator('[data-action="run-here"]').click()
    expect(note).to_be_hidden()
    expect(page.locator("[data-run-state]")).to_contain_text(
        re.compile("Succeeded", re.I), timeout=20_000
    )
    # A second ask starts no second worker.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=ui.url, cookies=cookies) as client:
        again = client.post("/api/v1/workers/embedded", headers={"X-Baton-UI": "1"})
        assert again.status_code == 200, again.text
        assert again.json() == {"started": False}
        workers = client.get("/api/v1/workers").json()
    assert len(workers) == 1
