"""The run page's Acknowledge button in a real browser against a real `baton server`: an
operator acknowledges a failed run with a comment, the page shows who did and hides the
button, and the acknowledgement is recorded (a reload shows it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Dialog, Page, expect

BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")

FLOW = "name: etl\ntasks: [{key: load, type: shell, command: 'exit 3'}]\n"


def test_an_operator_acknowledges_a_failed_run_from_its_page(
    tmp_path: Path, launch: Any, page: Page, shot: Any
) -> None:
    (tmp_path / "etl.yaml").write_text(FLOW)
    ran = subprocess.run(
        [BATON, "run", "etl.yaml", "--json"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        | {"BATON_HOME": str(tmp_path / ".baton")},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1, ran.stderr
    run_id = json.loads(ran.stdout)["id"]
    server = launch(tmp_path, "server", "--path", str(tmp_path))
    page.goto(f"{server.url}/login?next=/runs/{run_id}")
    page.fill("input[name=token]", server.token("olga", "operator"))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/runs/{run_id}")
    button = page.locator("button[data-action=acknowledge]")
    expect(button).to_be_visible()
    expect(page.locator("[data-ack]")).to_be_hidden()

    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept("on it <b>now</b>")

    page.on("dialog", answer)
    button.click()
    fact = page.locator("[data-ack]")
    expect(fact).to_be_visible()
    expect(fact).to_contain_text("by olga")
    expect(fact).to_contain_text("on it <b>now</b>")  # shown as text, not markup
    expect(button).to_be_hidden()
    assert asked == [f"Acknowledge run {run_id[:8]}? A comment (optional):"]
    shot(page, "ack-01-acknowledged")
    page.reload()
    expect(page.locator("[data-ack]")).to_contain_text("by olga")
    expect(page.locator("button[data-action=acknowledge]")).to_be_hidden()
