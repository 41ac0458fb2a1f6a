"""The store contract suite runs once per backend.

Only "sqlite" runs today. To add PostgreSQL, put "postgresql" in BACKENDS: its tests then
run against the database named by BATON_TEST_POSTGRES_URL (skipped when unset), and
`_set_schema_version` needs its branch.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from baton.store.store import Store, sqlite_path

BACKENDS = ["sqlite"]
POSTGRES_URL_ENV = "BATON_TEST_POSTGRES_URL"


def database_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'baton.db'}"
    if backend == "postgresql":
        url = os.environ.get(POSTGRES_URL_ENV)
        if not url:
            pytest.skip(f"set {POSTGRES_URL_ENV} to run the store suite on PostgreSQL")
        return url
    raise AssertionError(f"unknown backend {backend}")


def _set_schema_version(url: str, version: int) -> None:
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path(url))
        with conn:
            conn.execute("UPDATE baton_schema SET version = ?", (version,))
        conn.close()
        return
    raise NotImplementedError(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> str:
    return database_url(backend, tmp_path)


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    yield s
    s.close()


@pytest.fixture
def set_schema_version() -> Callable[[str, int], None]:
    """Change the recorded schema version behind the store's back."""
    return _set_schema_version
