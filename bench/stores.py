"""What the benchmarks share: a fresh database for one run, timing and percentiles."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def measure(fn: Callable[[], Any], n: int) -> tuple[list[float], list[Any]]:
    """`fn()` called `n` times: each call's milliseconds, and what it returned."""
    took, out = [], []
    for _ in range(n):
        start = time.perf_counter()
        out.append(fn())
        took.append((time.perf_counter() - start) * 1000)
    return took, out


def pct(values: list[float], p: float) -> float:
    """The `p`th percentile of `values` (the nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
