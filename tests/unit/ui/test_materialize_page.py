"""A materialize run's page: the run holds some of its flow's tasks, and says why it ran."""

from __future__ import annotations

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.engine.service import Engine
from baton.execution.loader import LoadedFlow
from baton.execution.materialize import start_materialize
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store
from engine_kit import outcome_of

SPEC = FlowSpec(
    name="chain",
    tasks=(
        TaskSpec(key="load", type="python", config={}, outputs=("w.raw",)),
        TaskSpec(key="clean", type="python", config={}, depends_on=("load",), outputs=("w.c",)),
        TaskSpec(key="report", type="python", config={}, depends_on=("clean",)),
    ),
)


def test_the_run_page_shows_a_run_of_some_tasks(client: TestClient, store: Store) -> None:
    engine = Engine(store)
    engine.create_run(engine.register(SPEC), {})
    while batch := engine.claim(worker_id="w", queues=("default",), limit=5, lease=30):
        engine.complete([outcome_of(c, at=engine.clock()) for c in batch])
    run_id = start_materialize(engine, LoadedFlow(SPEC), {}, ["w.c"])
    with store.transaction() as tx:
        token = create_token(tx, "viewer", "viewer")[1]
    client.post("/login", data={"token": token, "next": "/runs"}, follow_redirects=False)

    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "materialize: w.c" in page.text
    assert client.get("/runs").status_code == 200
    assert client.get(f"/runs/{run_id}/tasks/clean").status_code == 200
