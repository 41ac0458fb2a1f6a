"""Fixtures for API tests: the app over a SQLite store of the test's own, and clients by role.

    def test_something(client_for, store, define, worker):
        editor = client_for("editor")              # a TestClient sending an editor's token
        define("name: hi\\ntasks: [{key: a, type: shell, command: 'echo hi'}]\\n")
        run = client_for("operator").post("/api/v1/flows/hi/runs", json={}).json()
        worker.wake()                              # a worker thread runs it (see `worker`)

- `settings`, `store`, `app`: from tests/app_kit.py (BATON_HOME under tmp_path, a Store on
  its SQLite database, and `create_app(settings)`).
- `client_for(role, user=None)`: a new TestClient with a new token of `role` (one of
  `baton.api.auth.ROLES`; the user is the role's name unless given); `client_for(None)`
  sends no token.
- `define(yaml_text)`: defines a flow through `POST /api/v1/flows` (as an editor) and
  returns the flow's JSON; fails the test unless it answers 200 or 201.
- `worker`: a worker thread serving the store (as `baton server` runs one) until the test
  ends. It polls every 0.2 s; `worker.wake()` makes it look at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app_kit import app, settings, store
from baton.api.auth import create_token
from baton.engine.service import Engine
from baton.execution.worker import Worker
from baton.settings import Settings
from baton.store.store import Store

__all__ = ["add_run", "app", "client_for", "define", "settings", "store", "worker"]


@pytest.fixture
def client_for(app: FastAPI, store: Store) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(role: str | None, user: str | None = None) -> TestClient:
        headers = {}
        if role is not None:
            with store.transaction() as tx:
                text = create_token(tx, user or role, role)[1]
            headers["Authorization"] = f"Bearer {text}"
        client = TestClient(app, headers=headers)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def define(client_for: Callable[..., TestClient]) -> Callable[[str], dict[str, Any]]:
    editor = client_for("editor")

    def post(text: str) -> dict[str, Any]:
        r = editor.post("/api/v1/flows", content=text, headers={"Content-Type": "application/yaml"})
        assert r.status_code in (200, 201), r.text
        data: dict[str, Any] = r.json()
        return data

    return post


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    store = Store(settings.database_url)
    w = Worker(Engine(store), settings, project_dir=str(tmp_path))
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop, 1.0), name="test-worker")
    thread.start()
    try:
        yield w
    finally:
        stop.set()
        w.wake()
        thread.join(timeout=30)
        store.close()
        assert not thread.is_alive(), "the worker did not stop"


@pytest.fixture
def add_run(store: Store) -> Callable[..., None]:
    """`add_run(run_id, state, [(key, state, queue, pool), ...])`: a run and its task runs,
    inserted as they are (no engine), for tests of what the API counts and lists."""

    def add(run_id: str, state: str, tasks: Sequence[tuple[str, str, str, str | None]]) -> None:
        now = time.time()
        with store.transaction() as tx:
            tx.insert_run(
                {
                    "id": run_id,
                    "flow_name": "f",
                    "version_id": "v",
                    "state": state,
                    "params": "{}",
                    "trigger": "api",
                    "unfinished": len(tasks),
                    "created_at": now,
                }
            )
            tx.insert_task_runs(
                [
                    {
                        "run_id": run_id,
                        "task_key": key,
                        "map_index": -1,
                        "state": task_state,
                        "queue": queue,
                        "pool": pool,
                        "priority": 0,
                        "up_total": 0,
                    }
                    for key, task_state, queue, pool in tasks
                ],
                now,
            )

    return add
