"""Mapped task runs show the item each ran on (short in lists, longer on its own page),
secrets masked, whether the items came from an upstream result or a param."""

from __future__ import annotations

import json
import re
import time
from html import unescape

import pytest
from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, ParamSpec, TaskSpec, param_ref
from baton.model.states import AttemptState
from baton.store.store import Store
from engine_kit import outcome_of

SECRET = "hunter2-very-secret"
ITEMS = ["eu", {"id": 3, "name": "a rather long customer name that goes on and on"}, SECRET]
SPEC = FlowSpec(
    name="fan",
    params={"regions": ParamSpec(type="array", default=["north", "south"])},
    tasks=(
        TaskSpec(key="split", type="python", config={}),
        TaskSpec(key="each", type="python", config={}, depends_on=("split",), map_over="split"),
        TaskSpec(key="per_region", type="shell", config={"map_items": param_ref("regions")}),
    ),
)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_SECRET_PASSWORD", SECRET)


def done_run(store: Store) -> str:
    engine = Engine(store)
    run_id = engine.create_run(engine.register(SPEC), {"regions": ["north", "south"]})
    outcomes: list[Outcome] = []
    for _ in range(10):
        claimed = engine.claim(worker_id="w", queues=[], limit=10, lease=60, outcomes=outcomes)
        if not claimed:
            break
        outcomes = [
            outcome_of(
                c,
                AttemptState.SUCCEEDED,
                at=time.time(),
                result=json.dumps(ITEMS) if c.task_key == "split" else '"ok"',
                result_len=len(ITEMS) if c.task_key == "split" else None,
            )
            for c in claimed
        ]
    engine.complete(outcomes)
    assert store.read().run(run_id).state == "succeeded"
    return run_id


def test_mapped_task_runs_show_their_items(client: TestClient, store: Store) -> None:
    run_id = done_run(store)
    with store.transaction() as tx:
        token = create_token(tx, "vic", "viewer")[1]
    client.post("/login", data={"token": token, "next": "/flows"}, follow_redirects=False)

    html = client.get(f"/runs/{run_id}").text
    assert SECRET not in html
    shown = {
        name: unescape(item)
        for name, item in re.findall(
            r'>([\w.]+)</a> <span class="item" title="the item it ran on">([^<]*)</span>', html
        )
    }
    assert shown == {
        "each.0": "eu",
        "each.1": '{"id": 3, "name": "a rather long custom…',
        "each.2": "***",  # masked
        "per_region.0": "north",
        "per_region.1": "south",
    }, shown
    assert 'href="/runs/' + run_id + '/tasks/split">split</a> <span class="item"' not in html

    page = client.get(f"/runs/{run_id}/tasks/each.1").text
    item = re.search(r"<code class=\"item\" data-item>([^<]*)</code>", page)
    assert item and unescape(item.group(1)) == json.dumps(ITEMS[1])  # whole, on its page
    chips = re.findall(r'title="([^"]*)">\[(\d)\] <span class="item">([^<]*)</span>', page)
    assert [(i, unescape(t)) for _, i, t in chips][:1] == [("0", "eu")]
    assert len(chips) == 3
    assert SECRET not in client.get(f"/runs/{run_id}/tasks/each.2").text
    # An unmapped task has no item.
    assert "data-item" not in client.get(f"/runs/{run_id}/tasks/split").text
