"""Suite-wide settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.execution.context import TaskContext
from baton.store import dialect
from waiting import wait_until as _wait_until

POSTGRES_URL_ENV = "BATON_TEST_POSTGRES_URL"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """With BATON_FORBID_SKIPS set (CI sets it), a skipped test fails: CI has PostgreSQL and
    a JDK, so a skip there means a test silently did not run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("BATON_FORBID_SKIPS"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but BATON_FORBID_SKIPS is set: {report.longrepr}"


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """`wait_until(condition, timeout=, what=)` from tests/waiting.py, the suite's one
    polling loop (helpers outside a test import it from there)."""
    return _wait_until


@pytest.fixture
def task_context(tmp_path: Path) -> Callable[..., TaskContext]:
    """A TaskContext for calling a task type's execute() directly."""

    def make(**fields: Any) -> TaskContext:
        defaults: dict[str, Any] = {
            "run_id": "r",
            "flow": "f",
            "task_key": "t",
            "map_index": None,
            "attempt": 1,
            "attempt_id": "a",
            "params": {},
            "upstream": {},
            "item": None,
            "log_path": str(tmp_path / "log"),
            "flow_dir": str(tmp_path),
            "work_dir": str(tmp_path / "work"),
            "load_function": lambda _: print,
        }
        return TaskContext(**(defaults | fields))

    return make


def sql(url: str, *statements: str | tuple[str, tuple[object, ...]]) -> list[Any]:
    """Run statements (SQL, or SQL and params) on a connection of their own, each committed
    at once; the rows of the last one, if it returns any."""
    conn = dialect.for_url(url).connect()
    try:
        rows: list[Any] = []
        for s in statements:
            text, params = (s, ()) if isinstance(s, str) else s
            cur = conn.execute(text, params)
            rows = cur.fetchall() if getattr(cur, "description", None) else []
        return rows
    finally:
        conn.close()


@pytest.fixture(name="sql")
def sql_fixture() -> Callable[..., list[Any]]:
    """`sql(url, statement...)` for tests (test modules do not import conftest)."""
    return sql


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema of this test's own, dropped afterwards.

    Connections made with it carry `application_name` = the schema's name, so a test can
    find (and terminate) them in pg_stat_activity.
    """
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_URL_ENV} to run the tests that need PostgreSQL")
    name = f"baton_test_{uuid.uuid4().hex[:12]}"
    sql(base, f"CREATE SCHEMA {name}")
    try:
        sep = "&" if "?" in base else "?"
        yield f"{base}{sep}options=-csearch_path%3D{name}&application_name={name}"
    finally:
        # A store left open in a transaction would hold locks: fail instead of hanging.
        sql(base, "SET lock_timeout = '10s'", f"DROP SCHEMA {name} CASCADE")
