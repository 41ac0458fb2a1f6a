"""The UI shows what fired a run: the trigger kind (file, asset, flow) and its detail, in
the runs list and on the run's page, also for runs an older baton labelled `event`."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store
from borrow import borrow

_p = borrow(Path(__file__).with_name("test_pages.py"))
sign_in = _p.sign_in

SPEC = FlowSpec(
    name="on_events", tasks=(TaskSpec(key="a", type="shell", config={"command": "true"}),)
)
FIRED = {
    "file": {"type": "file", "path": "/data/inbox/orders.csv", "key": "file:1"},
    "asset": {"type": "asset", "asset": "raw_orders", "run_id": "r1", "key": "asset:1"},
    "flow": {"type": "flow", "flow": "producer", "run_id": "0123abcd", "key": "run:1"},
}
SHOWN = {
    "file": "/data/inbox/orders.csv",
    "asset": "raw_orders",
    "flow": "producer run 0123abcd",
}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_trigger_kind_and_detail_are_shown(client: TestClient, store: Store) -> None:
    sign_in(client, store, "viewer")
    engine = Engine(store)
    version = engine.register(SPEC)
    runs = {}
    for kind, info in FIRED.items():
        runs[kind] = engine.create_run(version, {}, trigger=kind, trigger_info=info)
        # As an older baton stored it: every event trigger's run labelled `event`.
        runs[f"old {kind}"] = engine.create_run(version, {}, trigger="event", trigger_info=info)
    listed = text(client.get("/runs").text)
    assert " event " not in listed
    for kind, detail in SHOWN.items():
        assert listed.count(f" {kind} {detail} ") == 2, (kind, listed)
    for name, run_id in runs.items():
        kind = name.removeprefix("old ")
        page = text(client.get(f"/runs/{run_id}").text)
        assert f"Trigger {kind}: {SHOWN[kind]} " in page, page
