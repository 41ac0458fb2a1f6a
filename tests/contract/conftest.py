"""The store contract suite runs every test once per backend: SQLite and PostgreSQL.

PostgreSQL tests use the server named by BATON_TEST_POSTGRES_URL (skipped when unset); each
test gets a fresh schema of its own (the `pg_url` fixture of tests/conftest.py), dropped
after it, so tests run in parallel (pytest-xdist) without seeing each other's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from baton.store import dialect
from baton.store.store import Store

POSTGRES_URL_ENV = "BATON_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def execute(url: str, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    """Run statements (SQL, or SQL and params) on a connection of their own; both drivers
    commit each at once."""
    conn = dialect.for_url(url).connect()
    try:
        for s in statements:
            sql, params = (s, ()) if isinstance(s, str) else s
            conn.execute(sql, params)
    finally:
        conn.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'baton.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    yield s
    s.close()


def _set_revision(url: str, revision: str) -> None:
    execute(url, ("UPDATE alembic_version SET version_num = ?", (revision,)))


@pytest.fixture
def set_revision() -> Callable[[str, str], None]:
    """Change the recorded schema revision behind the store's back."""
    return _set_revision
