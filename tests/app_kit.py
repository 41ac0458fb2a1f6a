"""`app_kit`: the API app over a SQLite store of the test's own, for the API tests
(tests/api/conftest.py) and the UI's page tests (tests/unit/ui/conftest.py).

- `settings`: BATON_HOME under tmp_path (the SQLite store, logs, results are there).
- `store`: a Store on that database, to set up or check state directly.
- `app`: `create_app(settings)`, its store pool closed at the end.

Importable because pytest's `pythonpath` names tests/ (test modules cannot import a
conftest); a conftest or test module imports the fixtures it offers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from baton.api import create_app
from baton.settings import Settings
from baton.store.store import Store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"BATON_HOME": str(tmp_path / ".baton")})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings.database_url)
    yield s
    s.close()


@pytest.fixture
def app(settings: Settings, store: Store) -> Iterator[FastAPI]:
    app = create_app(settings)  # `store` first: it creates the database
    yield app
    app.state.stores.close()
