"""The run page's timeline: a scale below a second for fast tasks, zoom and pan, labels that
fit their names, queued time drawn before each attempt, and a retry as a bar of its own."""

from __future__ import annotations

import json
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

LONG = "load_the_warehouse_tables_for_the_quarterly_report"
FLOW = f"""
name: timeline
tasks:
  - {{key: quick, type: shell, command: "true"}}
  - key: flaky
    type: shell
    command: "test -f tried || {{ touch tried; exit 1; }}"
    retries: 1
  - {{key: {LONG}, type: shell, command: "true", depends_on: [quick]}}
"""


def _run(tmp_path: Path) -> str:
    (tmp_path / "timeline.yaml").write_text(textwrap.dedent(FLOW))
    baton = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
    done = subprocess.run(
        [baton, "run", "timeline.yaml", "--json"],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "BATON_HOME": str(tmp_path / ".baton")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["id"])


def test_the_timeline_scales_to_milliseconds_zooms_pans_and_shows_queued_and_retries(
    tmp_path: Path, launch: Callable[..., Any], page: Page, shot: Callable[..., None]
):
    run_id = _run(tmp_path)
    ui = launch(tmp_path, "ui")
    link = next(m.group(0) for line in ui.lines if (m := re.search(r"http://\S+#token=\S+", line)))
    page.goto(link)
    page.goto(f"{ui.url}/runs/{run_id}")
    chart = page.locator("[data-gantt]")
    expect(chart.locator(".bar").first).to_be_visible()

    # A run of fast tasks is read in milliseconds.
    ticks = chart.locator(".axis text").all_text_contents()
    assert any(t.endswith(" ms") for t in ticks), ticks
    # The retried task: two bars on its row, attempt 1 failed, attempt 2 succeeded.
    flaky = chart.locator('a[href$="/tasks/flaky"]')
    expect(flaky.locator(".bar")).to_have_count(2)
    states = flaky.locator(".bar").evaluate_all("bs => bs.map(b => b.getAttribute('class'))")
    assert "st-failed" in states[0] and "st-succeeded" in states[1], states
    # Queued time, before each attempt.
    expect(chart.locator(".queued").first).to_be_attached()
    # The long name is shown whole: the label column fits it.
    expect(chart.locator(".label", has_text=LONG)).to_have_text(LONG)
    shot(page, "33-timeline", full_page=False)

    # Zoom in: the ticks get finer; the whole-run button brings back the first scale.
    first_axis = chart.locator(".axis").inner_html()
    chart.locator('[data-gzoom="in"]').click()
    chart.locator('[data-gzoom="in"]').click()
    assert chart.locator(".axis").inner_html() != first_axis
    expect(chart.locator('[data-gzoom="reset"]')).to_be_enabled()
    # Pan with Shift+wheel: the window moves later in the run.
    before = chart.locator(".axis text").last.text_content()
    box = chart.locator(".gantt-rows").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 10)
    page.keyboard.down("Shift")
    page.mouse.wheel(0, 400)
    page.keyboard.up("Shift")
    expect(chart.locator(".axis text").last).not_to_have_text(before or "")
    chart.locator('[data-gzoom="reset"]').click()
    assert chart.locator(".axis").inner_html() == first_axis
    expect(chart.locator('[data-gzoom="reset"]')).to_be_disabled()
