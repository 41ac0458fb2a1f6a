"""The flows list's tags and owner in a real browser, against a real `baton ui`: three
deployed flows; clicking a tag chip filters the list, a second chip narrows it to flows
having both, the search keeps the tags, and the filter chip clears them. Screenshots go to
tests/e2e/artifacts/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

Shot = Callable[[Page, str], None]
Server = Any
BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
TASKS = "tasks: [{key: a, type: shell, command: 'true'}]\n"
FLOWS = {
    "ledger": "tags: [finance, daily]\nowner: data-team@example.com\n",
    "payroll": "tags: [finance, monthly]\nowner: hr@example.com\n",
    "clicks": "tags: [daily]\n",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("labels-ui")
    (cwd / "flows").mkdir()
    for name, head in FLOWS.items():
        (cwd / "flows" / f"{name}.yaml").write_text(f"name: {name}\n{head}{TASKS}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    subprocess.run(
        [BATON, "deploy", "flows"],
        cwd=cwd,
        env={**env, "BATON_HOME": str(cwd / ".baton")},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cwd


def names(page: Page) -> list[str]:
    return page.locator("table.flows td.name a.strong").all_inner_texts()


def test_clicking_a_tag_chip_filters_the_flows(
    project: Path, launch: Callable[..., Server], page: Page, shot: Shot
):
    server = launch(project, "ui")
    page.goto(f"{server.url}/login?next=/flows")
    page.fill("input[name=token]", server.token("vic", "viewer"))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flows")
    assert names(page) == ["clicks", "ledger", "payroll"]
    ledger = page.locator("tr", has=page.locator('a.strong:text-is("ledger")'))
    expect(ledger.locator(".flow-tags .tag")).to_have_text(["finance", "daily"])
    expect(ledger.locator("a.owner")).to_have_text("data-team@example.com")
    shot(page, "flows-labels-01-list")

    ledger.locator('a.tag[data-tag="finance"]').click()
    expect(page).to_have_url(re.compile(r"[?&]tag=finance$"))
    expect(page.locator("table.flows tbody tr")).to_have_count(2)
    assert names(page) == ["ledger", "payroll"]
    expect(page.locator("[data-tag-filter=finance]")).to_contain_text("tag: finance")
    shot(page, "flows-labels-02-finance")

    page.locator('a.tag[data-tag="daily"]').first.click()  # finance and daily
    expect(page.locator("table.flows tbody tr")).to_have_count(1)
    assert names(page) == ["ledger"]

    page.fill("input[name=q]", "pay")  # the search keeps the tags: none is left
    page.press("input[name=q]", "Enter")
    expect(page.locator(".empty")).to_contain_text("No flow matches.")

    page.goto(f"{server.url}/flows?tag=finance")
    page.locator("a.owner", has_text="hr@example.com").click()
    expect(page.locator("table.flows tbody tr")).to_have_count(1)
    assert names(page) == ["payroll"]
    expect(page.locator("[data-owner-filter]")).to_contain_text("owner: hr@example.com")
    page.click("[data-tag-filter=finance]")  # the owner stays, the tag goes
    expect(page).to_have_url(re.compile(r"owner=hr%40example.com$"))
    assert names(page) == ["payroll"]
    shot(page, "flows-labels-03-owner")

    page.goto(f"{server.url}/flows/ledger")
    expect(page.locator("[data-labels] a.owner")).to_have_text("data-team@example.com")
    shot(page, "flows-labels-04-flow-page")
    page.locator("[data-labels] a.tag", has_text="daily").click()
    expect(page.locator("table.flows tbody tr")).to_have_count(2)
    assert names(page) == ["clicks", "ledger"]
