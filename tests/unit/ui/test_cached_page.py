"""A cache hit on the UI's pages: a "cached" badge on the run page and the task page, each
linking to the run that computed the result."""

from __future__ import annotations

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.engine.service import Engine
from baton.model.cache import CacheSpec
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store
from engine_kit import outcome_of

SPEC = FlowSpec(
    name="c",
    tasks=(TaskSpec(key="load", type="python", config={}, cache=CacheSpec()),),
)


def test_a_cached_task_shows_a_badge_linking_to_the_run_that_computed_it(
    client: TestClient, store: Store
) -> None:
    engine = Engine(store)
    version = engine.register(SPEC)
    first = engine.create_run(version, {})
    (c,) = engine.claim(worker_id="w", queues=(), limit=5, lease=30)
    engine.complete([outcome_of(c, at=engine.clock(), result="1", cache_key="k")])
    second = engine.create_run(version, {})
    (c,) = engine.claim(worker_id="w", queues=(), limit=5, lease=30)
    hit = outcome_of(c, at=engine.clock(), result="1", cache_key="k", cached_from=(first, 1))
    engine.complete([hit])
    with store.transaction() as tx:
        token = create_token(tx, "viewer", "viewer")[1]
    client.post("/login", data={"token": token, "next": "/runs"}, follow_redirects=False)

    link = f'href="/runs/{first}/tasks/load"'
    run_page = client.get(f"/runs/{second}").text
    assert ">cached</a>" in run_page and link in run_page
    task_page = client.get(f"/runs/{second}/tasks/load").text
    assert ">cached</span>" in task_page and link in task_page and "attempt 1" in task_page
    assert ">cached<" not in client.get(f"/runs/{first}").text  # it computed the result
