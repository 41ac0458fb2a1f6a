"""A traceback in a task's log, in a real browser: baton's own frames folded under one line
that opens them, the user's frames in view; a search or a link into a folded frame opens it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

BROKEN = """\
from baton import flow, task


def parse(row: str) -> int:
    return int(row)


@task
def load() -> int:
    print("loading the rows")
    return parse("not a number")


@flow
def broken():
    load()
"""


def test_baton_frames_are_folded_and_the_user_frames_shown(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Callable[..., None]
) -> None:
    (tmp_path / "broken.py").write_text(BROKEN)
    baton = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
    env = {**os.environ, "BATON_HOME": str(tmp_path / ".baton")}
    out = subprocess.run(
        [baton, "run", "broken.py", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    run_id = json.loads(out.stdout)["id"]
    ui = launch(tmp_path, "ui")
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    page.goto(f"{ui.url}/runs/{run_id}/tasks/load")
    log = page.locator("pre[data-log]")
    expect(page.locator("[data-log-status]")).to_have_text("Complete")
    fold = log.locator(".fold")
    expect(fold).to_have_count(1)
    expect(fold).to_have_text(re.compile(r"^▸ \d+ frames? of baton's own code$"))
    page.uncheck("[data-log-times]")  # the lines' own text
    shown = [x for x in log.inner_text().splitlines() if x.strip()]
    assert shown[0] == "loading the rows" and shown[1] == "Traceback (most recent call last):"
    assert "of baton's own code" in shown[2]
    frames = [x for x in shown if x.lstrip().startswith('File "')]
    assert frames and all("broken.py" in x for x in frames)  # only the user's: load, parse
    assert [x.rsplit(" ", 1)[-1] for x in frames] == ["load", "parse"]
    assert shown[-1] == "ValueError: invalid literal for int() with base 10: 'not a number'"
    hidden = log.locator(".line.folded")
    folded = hidden.count()
    assert folded >= 2 and "baton" in hidden.first.text_content()
    shot(page, "r2-log-traceback")
    # Opened, and closed again, by a click or the keyboard.
    fold.click()
    expect(fold).to_have_text(re.compile("^▾"))
    expect(log.locator(".line.folded")).to_have_count(0)
    assert "runner.py" in log.inner_text()
    fold.focus()
    page.keyboard.press("Enter")
    expect(log.locator(".line.folded")).to_have_count(folded)
    # A search that finds text in a folded frame opens it.
    page.fill("[data-log-search]", "runner.py")
    expect(fold).to_have_attribute("aria-expanded", "true")
    expect(log.locator("mark.current")).to_be_visible()
