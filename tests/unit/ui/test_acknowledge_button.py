"""The run page's Acknowledge button: offered to operators until the run is acknowledged,
then the acknowledgement is shown in its place."""

from __future__ import annotations

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.engine import acknowledgement
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState
from baton.store.store import Store
from engine_kit import outcome_of

BUTTON = '<button class="btn" type="button" data-action="acknowledge"'


def sign_in(client: TestClient, store: Store, role: str) -> None:
    with store.transaction() as tx:
        token = create_token(tx, f"{role}-user", role)[1]
    client.post("/login", data={"token": token, "next": "/runs"}, follow_redirects=False)


def test_the_button_is_offered_to_operators_until_the_run_is_acknowledged(
    client: TestClient, store: Store
) -> None:
    engine = Engine(store)
    run_id = engine.create_run(
        engine.register(FlowSpec(name="f", tasks=(TaskSpec(key="a", type="python"),))), {}
    )
    (c,) = engine.claim(worker_id="w", queues=(), limit=5, lease=30)
    engine.complete([outcome_of(c, AttemptState.FAILED, at=engine.clock())])
    sign_in(client, store, "viewer")
    assert BUTTON not in client.get(f"/runs/{run_id}").text
    sign_in(client, store, "operator")
    page = client.get(f"/runs/{run_id}").text
    assert f"{BUTTON} title=" in page and "data-ack hidden" in page
    assert 'title="Say you are on it' in page
    acknowledgement.acknowledge(store, run_id, "ann", "<b>on it</b>", engine.clock())
    page = client.get(f"/runs/{run_id}").text
    button = page[page.index(BUTTON) :].split(">", 1)[0]
    assert button.endswith("hidden")
    fact = page[page.index("<div data-ack") :].split("</div>", 1)[0]
    assert "by ann" in fact and "&lt;b&gt;on it&lt;/b&gt;" in fact  # escaped
