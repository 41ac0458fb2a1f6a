"""Workers, pools and queues through the API, on SQLite and PostgreSQL (`settings` here
overrides conftest's; its `store` and `client_for` follow it)."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from baton.cli import display
from baton.model.resources import Resources
from baton.settings import Settings
from baton.store.store import Store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    home = tmp_path / ".baton"
    if request.param == "sqlite":
        return Settings.from_env({"BATON_HOME": str(home)})
    url = request.getfixturevalue("pg_url")
    return Settings.from_env({"BATON_HOME": str(home), "BATON_DATABASE_URL": url})


def add_worker(store: Store, worker_id: str, queues: list[str], **fields: Any) -> None:
    now = fields.pop("started_at", time.time())
    with store.transaction() as tx:
        tx.register_worker(
            {
                "id": worker_id,
                "name": f"host:{worker_id}",
                "host": "host",
                "pid": 7,
                "queues": queues,
                "concurrency": 4,
                "started_at": now,
                "resources": fields.get("resources"),
            }
        )
        if fields.get("stopped"):
            tx.stop_worker(worker_id, now + 1)


def test_workers_are_listed_as_baton_workers_json_prints_them(client_for, store):
    add_worker(store, "w1", ["default"], started_at=1000.0)
    add_worker(store, "w2", ["gpu", "default"], started_at=2000.0, resources=Resources(8, 2**35, 2))
    add_worker(store, "w3", ["old"], started_at=500.0, stopped=True)
    viewer = client_for("viewer")
    for include_stopped in (False, True):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            display.workers(store.read().workers(include_stopped=include_stopped), as_json=True)
        r = viewer.get("/api/v1/workers", params={"include_stopped": include_stopped})
        assert r.status_code == 200
        assert r.json() == json.loads(out.getvalue())
    assert [w["id"] for w in r.json()] == ["w2", "w1", "w3"]
    assert r.json()[0]["queues"] == ["gpu", "default"]
    assert r.json()[0]["resources"] == {"cpu": 8.0, "memory": 2**35, "gpu": 2}
    assert r.json()[0]["used"] == {"cpu": 0.0, "memory": 0, "gpu": 0}
    assert r.json()[1]["resources"] is None  # registered without a capacity
    assert r.json()[2]["stopped_at"] == "1970-01-01T00:08:21.000000Z"


def test_pools_are_created_resized_listed_and_deleted_by_an_admin(client_for, store, add_run):
    admin = client_for("admin")
    r = admin.put("/api/v1/pools/db", json={"slots": 2, "description": "the warehouse"})
    assert r.status_code == 201
    assert r.json() == {"name": "db", "slots": 2, "running": 0, "description": "the warehouse"}
    add_run("r1", "running", [("a", "running", "default", "db"), ("b", "queued", "default", "db")])
    r = admin.put("/api/v1/pools/db", json={"slots": 5})  # no description: kept
    assert r.status_code == 200
    assert r.json() == {"name": "db", "slots": 5, "running": 1, "description": "the warehouse"}
    admin.put("/api/v1/pools/api.v2", json={"slots": 0, "description": None})
    pools = client_for("viewer").get("/api/v1/pools").json()
    assert [(p["name"], p["slots"], p["running"]) for p in pools] == [
        ("api.v2", 0, 0),
        ("db", 5, 1),
    ]
    assert admin.delete("/api/v1/pools/db").status_code == 204
    r = admin.delete("/api/v1/pools/db")
    assert r.status_code == 404 and r.json() == {
        "detail": "no pool 'db'; GET /api/v1/pools lists the pools"
    }
    assert [p["name"] for p in store.read().pools()] == ["api.v2"]
    audit = [(a["action"], a["object_id"], a["status"]) for a in store.read().audit()]
    assert audit == [
        ("pools.delete", "db", 404),
        ("pools.delete", "db", 204),
        ("pools.set", "api.v2", 201),
        ("pools.set", "db", 200),
        ("pools.set", "db", 201),
    ]


@pytest.mark.parametrize(
    ("name", "body", "loc"),
    [
        ("db", {"slots": -1}, ["body", "slots"]),
        ("db", {"slots": 10**30}, ["body", "slots"]),  # an int no column holds: 422, not 500
        ("db", {"slots": "many"}, ["body", "slots"]),
        ("db", {}, ["body", "slots"]),
        ("db", {"slots": 1, "description": "x" * 1001}, ["body", "description"]),
        ("a b", {"slots": 1}, ["path", "name"]),
        (".hidden", {"slots": 1}, ["path", "name"]),
        ("p" * 101, {"slots": 1}, ["path", "name"]),
    ],
)
def test_a_bad_pool_is_refused_naming_the_field(client_for, store, name, body, loc):
    r = client_for("admin").put(f"/api/v1/pools/{name}", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == loc
    assert store.read().pools() == []


def test_queues_count_queued_and_running_task_runs_and_show_served_queues(
    client_for, store, add_run
):
    add_run(
        "r1",
        "running",
        [
            ("a", "queued", "default", None),
            ("b", "queued", "default", None),
            ("c", "running", "default", None),
            ("d", "running", "gpu", None),
            ("e", "pending", "later", None),  # not ready: in no queue yet
            ("f", "succeeded", "done", None),
        ],
    )
    add_worker(store, "w1", ["default", "idle"])
    add_worker(store, "w2", ["gone"], stopped=True)
    r = client_for("viewer").get("/api/v1/queues")
    assert r.status_code == 200
    assert r.json() == [
        {"queue": "default", "queued": 2, "running": 1},
        {"queue": "gpu", "queued": 0, "running": 1},
        {"queue": "idle", "queued": 0, "running": 0},
    ]


def test_only_an_admin_changes_pools(client_for, store):
    for role in ("viewer", "operator", "editor"):
        c = client_for(role)
        assert c.put("/api/v1/pools/p", json={"slots": 1}).status_code == 403
        assert c.delete("/api/v1/pools/p").status_code == 403
        assert c.get("/api/v1/pools").status_code == 200
    assert store.read().pools() == []


def test_a_server_that_runs_no_tasks_itself_refuses_to_start_a_worker(client_for, app):
    assert client_for("viewer").post("/api/v1/workers/embedded").status_code == 403
    r = client_for("operator").post("/api/v1/workers/embedded")
    assert r.status_code == 409, r.text
    assert "baton worker" in r.json()["detail"]


def test_an_embedded_worker_is_started_once_however_many_ask(client_for, app):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    started: list[int] = []
    lock = threading.Lock()

    def start() -> bool:  # what `baton ui` gives its app: True the first time only
        with lock:
            started.append(1)
            return len(started) == 1

    app.state.start_worker = start
    operator = client_for("operator")
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: operator.post("/api/v1/workers/embedded"), range(100)))
    assert [a.status_code for a in answers] == [200] * 100
    assert sum(a.json()["started"] for a in answers) == 1
