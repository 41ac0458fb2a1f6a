"""A flow's runs grid: a column per run, newest on the right, headed by a bar as long as the
run took and its date; 25, 50 or 100 runs; a group's tasks under a row that rolls them up;
each cell opens its task run."""

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

from playwright.sync_api import Page, expect

FLOW = """
name: gridded
params:
  nap: {type: number, default: 0}
tasks:
  - {key: pull_a, type: shell, command: "sleep {{ params.nap }}", group: ingest}
  - {key: pull_b, type: shell, command: "true", group: ingest}
  - {key: report, type: shell, command: "true", depends_on: [pull_a, pull_b]}
"""


def test_the_grid_shows_durations_dates_groups_and_opens_task_runs(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Callable[..., None]
):
    (tmp_path / "gridded.yaml").write_text(textwrap.dedent(FLOW))
    baton = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
    env = {**os.environ, "BATON_HOME": str(tmp_path / ".baton")}
    for nap in ("0", "0.6", "0"):
        subprocess.run(
            [baton, "run", "gridded.yaml", "-p", f"nap={nap}"],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    ui = launch(tmp_path, "ui")
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    page.goto(f"{ui.url}/flows/gridded")
    grid = page.locator("table.grid")
    bars = grid.locator(".run-bar i")
    expect(bars).to_have_count(3)
    heights = bars.evaluate_all("bs => bs.map(b => parseFloat(b.style.height))")
    assert heights[1] == 100 and heights[0] < 100 and heights[2] < 100, heights  # the nap
    dates = grid.locator(".run-date").all_text_contents()
    assert all(re.fullmatch(r"\d\d-\d\d \d\d:\d\d \S+", d.strip()) for d in dates), dates
    # The group's row comes first, its tasks under it, then the rest.
    rows = grid.locator("tbody th").all_text_contents()
    assert [r.split()[0] for r in rows] == ["▾", "pull_a", "pull_b", "report"], rows
    expect(grid.locator("tr.group-row .dot.st-succeeded")).to_have_count(3)
    shot(page, "38-runs-grid", full_page=False)

    # A cell opens its task run; the choice of how many runs is kept.
    grid.locator("tbody tr", has_text="report").locator("a.dot").last.click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{16}/tasks/report$"))
    page.goto(f"{ui.url}/flows/gridded?cols=50")
    expect(page.locator('.grid-cols a[aria-current="true"]')).to_have_text("50")
    page.goto(f"{ui.url}/flows/gridded?cols=7")  # not a choice: the default
    expect(page.locator('.grid-cols a[aria-current="true"]')).to_have_text("25")
