"""A flow's versions: the "showing version" note only for a run of another definition, and
the page that shows what changed between two versions."""

from __future__ import annotations

import re
import sqlite3
from html import unescape

import msgspec
import pytest
from fastapi.testclient import TestClient

from baton.engine.service import Engine
from baton.model.spec import FlowSpec, SourceRef, TaskSpec
from baton.settings import Settings
from baton.store.store import Store
from ui_kit import sign_in

SECRET = "hunter2-very-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret the pages must mask wherever it shows up."""
    monkeypatch.setenv("BATON_SECRET_PASSWORD", SECRET)


V1 = FlowSpec(
    name="etl",
    schedule="0 6 * * *",
    tasks=(
        TaskSpec(key="extract", type="shell", config={"command": "echo one"}),
        TaskSpec(
            key="load", type="shell", config={"command": "echo load"}, depends_on=("extract",)
        ),
    ),
    source=SourceRef(path="flows/etl.yaml", code_hash="aaaa"),
)
V2 = msgspec.structs.replace(
    V1,
    schedule="0 7 * * *",
    tasks=(
        TaskSpec(key="extract", type="shell", config={"command": f"echo two {SECRET}"}),
        TaskSpec(
            key="load", type="shell", config={"command": "echo load"}, depends_on=("extract",)
        ),
        TaskSpec(key="report", type="shell", config={"command": "echo r"}, depends_on=("load",)),
    ),
)


@pytest.fixture
def versions(store: Store, settings: Settings) -> dict[str, str]:
    """V1 and V2 registered, V2 latest; "legacy": V2's definition stored under another id
    with an absolute path, as stores written before paths left the hash hold; one run each."""
    engine = Engine(store)
    v1 = engine.register(V1)
    v2 = engine.register(V2)
    legacy_spec = V2.with_source(SourceRef(path="/home/me/flows/etl.yaml", code_hash="aaaa"))
    db = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    with db:
        db.execute(
            "INSERT INTO flow_versions (id, flow_name, spec, created_at) VALUES (?, ?, ?, 1)",
            ("0legacy000000000", "etl", legacy_spec.to_json()),
        )
    db.close()
    return {
        "v1": v1,
        "v2": v2,
        "legacy": "0legacy000000000",
        "run_v1": engine.create_run(v1, {}),
        "run_legacy": engine.create_run("0legacy000000000", {}),
        "run_v2": engine.create_run(v2, {}),
    }


def test_the_version_note_shows_only_for_a_run_of_another_definition(
    client: TestClient, store: Store, versions: dict[str, str]
) -> None:
    sign_in(client, store, "viewer")
    for run, older in (("run_v2", False), ("run_legacy", False), ("run_v1", True)):
        html = client.get(f"/flows/etl?run={versions[run]}").text
        assert ("data-older-version" in html) is older, run
    html = unescape(client.get(f"/flows/etl?run={versions['run_v1']}").text)
    assert f"/flows/etl/diff?from={versions['v1']}&to={versions['v2']}" in html
    # Each version but the first links to what it changed.
    assert f"/flows/etl/diff?to={versions['v2']}" in html


def test_the_diff_page_shows_what_changed(
    client: TestClient, store: Store, versions: dict[str, str]
) -> None:
    sign_in(client, store, "viewer")
    r = client.get(f"/flows/etl/diff?from={versions['v1'][:10]}&to={versions['v2']}")
    assert r.status_code == 200
    html = unescape(r.text)
    summary = re.search(r"<ul class=\"diff-summary\".*?</ul>", html, re.S)
    assert summary, html
    text = re.sub(r"<[^>]+>", "", summary.group(0))
    assert "Tasks added: report" in text
    assert "Tasks changed: extract" in text
    assert "Also changed: schedule" in text
    assert "load" not in text  # unchanged
    lines = dict.fromkeys(re.findall(r'<span class="(add|del)">([^<]*)</span>', html))
    assert ("del", '-  "schedule": "0 6 * * *",') in lines
    assert ("add", '+  "schedule": "0 7 * * *",') in lines
    assert any(k == "add" and '"key": "report"' in t for k, t in lines)
    assert SECRET not in r.text  # the definition's secrets stay masked

    # Without `from`: the version before `to`; without either: the latest's changes.
    assert (
        client.get("/flows/etl/diff").text
        == client.get(f"/flows/etl/diff?from={versions['v1']}&to={versions['v2']}").text
    )
    same = client.get(f"/flows/etl/diff?from={versions['legacy']}&to={versions['v2']}").text
    assert "hold the same definition" in same
    only = client.get(f"/flows/etl/diff?from={versions['v2']}&to={versions['v2']}").text
    assert "nothing to compare" in only


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=nope", "from"),
        ("to=zzzz", "to"),
        ("from=" + "a" * 500, "from"),
        ("to=", None),  # empty: the latest
        ("from=%ff%fe", "from"),
        ("from=a%00b", "NUL"),  # refused before any route, like everywhere
    ],
)
def test_a_bad_version_is_a_404_naming_the_field(
    client: TestClient, store: Store, versions: dict[str, str], query: str, field: str | None
) -> None:
    sign_in(client, store, "viewer")
    r = client.get(f"/flows/etl/diff?{query}")
    if field is None:
        assert r.status_code == 200
        return
    if field == "NUL":
        assert r.status_code == 422 and "NUL character" in r.text
        return
    assert r.status_code == 404
    assert f"{field}: flow “etl” has no version" in unescape(r.text)
    assert "a" * 100 not in r.text  # not echoed whole
    assert client.get("/flows/nope/diff").status_code == 404


def test_the_diff_page_needs_sign_in(client: TestClient, versions: dict[str, str]) -> None:
    r = client.get("/flows/etl/diff", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
