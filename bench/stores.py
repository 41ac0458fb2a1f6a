"""What the store benchmarks share: a fresh database for one benchmark run."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from baton.store import dialect

BASE = os.environ.get("BATON_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def database(url: str, home: Path) -> Iterator[str]:
    """A fresh store URL: a file under `home` for `sqlite`, else a schema of its own on the
    PostgreSQL server `url` (dropped after)."""
    if url == "sqlite":
        yield f"sqlite:///{home / 'baton.db'}"
        return
    schema = f"baton_bench_{uuid.uuid4().hex[:10]}"
    _sql(url, f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        _sql(url, f"DROP SCHEMA {schema} CASCADE")


def _sql(url: str, statement: str) -> None:
    conn = dialect.for_url(url).connect()
    try:
        conn.execute(statement)
    finally:
        conn.close()


def vacuum(url: str, *tables: str) -> None:
    """VACUUM ANALYZE these PostgreSQL tables (after a bulk fill, as autovacuum would)."""
    for table in tables:
        _sql(url, f"VACUUM ANALYZE {table}")
