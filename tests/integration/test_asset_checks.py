"""Asset checks run by real `baton run`s, as part of the task run writing the asset: a
blocking check stops downstream, a warn check only notifies; sql checks on a SQLite file
and on PostgreSQL through a named connection; python checks given what the task reported."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from baton.store.store import Store

SECRET = "pw-9f8e7d6c5b"
POSTGRES_URL_ENV = "BATON_TEST_POSTGRES_URL"

CHECKS = """
import baton

def write():
    baton.record_asset("w.orders", metadata={"rows": 3, "dsn": "pg://u:${PW}@h"})

def enough_rows(*, asset, metadata, partition):
    return baton.CheckResult(
        metadata["rows"] >= 10,
        {"asset": asset, "rows": metadata["rows"], "partition": partition,
         "seen": metadata["dsn"]},
    )

def flaky(*, asset, metadata, partition):
    raise RuntimeError("cannot reach pg://u:${PW}@h")
"""


def store_of(workdir: Path) -> Store:
    return Store(f"sqlite:///{workdir / '.baton' / 'baton.db'}")


def recorded(workdir: Path, asset: str) -> tuple[list[Any], list[Any], list[Any]]:
    """(materializations, check results oldest first, asset notification rows)."""
    s = store_of(workdir)
    try:
        read = s.read()
        notes = read._all("SELECT * FROM notifications WHERE asset = ? ORDER BY id", (asset,))
        return read.materializations(asset), read.check_results(asset)[::-1], notes
    finally:
        s.close()


def orders_db(path: Path, missing: int) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, amount REAL)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?)",
            [(i, None if i < missing else 1.0) for i in range(30)],
        )
    return f"sqlite:///{path}"


def test_a_blocking_sql_check_stops_downstream(baton, write, h, workdir: Path) -> None:
    url = orders_db(workdir / "w.db", missing=25)
    write(
        "flow.yaml",
        f"""
        name: orders
        assets:
          - name: w.orders
            checks:
              - name: amounts
                sql: SELECT id FROM orders WHERE amount IS NULL ORDER BY id
                url: "{url}"
        tasks:
          - {{key: load, type: shell, command: "true", outputs: [w.orders]}}
          - {{key: report, type: shell, command: "true", depends_on: [load]}}
        """,
    )
    run = baton.run("flow.yaml", check=1)
    tasks = h.tasks(run)
    assert run["state"] == "failed"
    assert tasks["load"]["state"] == "failed"
    assert tasks["load"]["error_kind"] == "check"
    assert tasks["load"]["attempts"] == 1  # a check failure is not retried
    assert tasks["load"]["error"].startswith(
        "asset 'w.orders' failed check 'amounts' (20 failing row(s))"
    )
    assert tasks["report"]["state"] == "upstream_failed"
    materializations, (result,), notes = recorded(workdir, "w.orders")
    assert materializations == [] and notes == []
    assert (result.check_name, result.passed, result.run_id, result.materialization_id) == (
        "amounts",
        0,
        run["id"],
        None,
    )
    assert json.loads(result.failing_rows or "") == [{"id": i} for i in range(20)]
    assert json.loads(result.metadata or "") == {"more_failing_rows": True}
    log = baton("logs", run["id"], "load").stdout
    assert "check amounts of asset w.orders: failed (error) in " in log
    assert "20+ failing row(s)" in log


def test_a_warn_check_only_notifies(baton, write, h, workdir: Path) -> None:
    baton.env["BATON_SECRET_PW"] = SECRET
    write("checks.py", CHECKS.replace("${PW}", SECRET))
    write(
        "flow.yaml",
        """
        name: orders
        assets:
          - name: w.orders
            checks:
              - {name: enough_rows, python: "checks:enough_rows", severity: warn}
              - {name: flaky, python: "checks:flaky", severity: warn}
            notifications:
              - {on: [check_failed], webhook: "http://127.0.0.1:9/hook"}
        tasks:
          - {key: load, type: python, function: "checks:write", outputs: [w.orders]}
          - {key: report, type: shell, command: "true", depends_on: [load]}
        """,
    )
    run = baton.run("flow.yaml")
    assert h.states(run) == {"load": "succeeded", "report": "succeeded"}
    (m,), (rows, flaky), notes = recorded(workdir, "w.orders")
    assert [r.materialization_id for r in (rows, flaky)] == [m.id, m.id]
    assert (rows.passed, rows.severity) == (0, "warn")
    assert json.loads(rows.metadata or "") == {
        "asset": "w.orders",
        "rows": 3,
        "partition": None,
        "seen": "pg://u:***@h",
    }
    assert flaky.error == "RuntimeError: cannot reach pg://u:***@h"
    assert len(notes) == 2 and {n["run_id"] for n in notes} == {run["id"]}
    payload = json.loads(notes[1]["payload"])
    assert payload | {"at": None} == {
        "event": "check_failed",
        "asset": "w.orders",
        "run_id": run["id"],
        "flow": "orders",
        "task": "load",
        "check": "flaky",
        "severity": "warn",
        "error": "RuntimeError: cannot reach pg://u:***@h",
        "metadata": None,
        "failing_rows": 0,
        "at": None,
    }
    assert payload["at"].endswith("Z")
    assert SECRET not in (workdir / ".baton" / "baton.db").read_bytes().decode("latin-1")
    log = baton("logs", run["id"], "load").stdout
    assert "check flaky of asset w.orders: failed (warn)" in log and SECRET not in log


@pytest.fixture
def postgres() -> Iterator[str]:
    """The URL of a new PostgreSQL schema holding table `orders`, dropped afterwards."""
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_URL_ENV} to run the PostgreSQL check tests")
    name = f"baton_checks_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {name}"))
            conn.execute(sa.text(f"CREATE TABLE {name}.orders (id int, amount numeric)"))
            conn.execute(sa.text(f"INSERT INTO {name}.orders VALUES (1, 2.5), (2, NULL)"))
            conn.commit()
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
            conn.commit()
        engine.dispose()


@pytest.mark.postgres
def test_a_sql_check_on_postgresql_through_a_named_connection(
    baton, write, h, workdir: Path, postgres: str
) -> None:
    baton.env["BATON_CONN_WAREHOUSE"] = postgres
    write(
        "flow.yaml",
        """
        name: orders
        assets:
          - name: w.orders
            checks:
              - {name: ids, sql: "SELECT * FROM orders WHERE id IS NULL", conn: warehouse}
              - name: amounts
                sql: "SELECT id, amount FROM orders WHERE amount IS NULL OR amount > 2 ORDER BY id"
                conn: warehouse
                severity: warn
        tasks:
          - {key: load, type: shell, command: "true", outputs: [w.orders]}
        """,
    )
    run = baton.run("flow.yaml")
    assert h.states(run) == {"load": "succeeded"}
    _, (ids, amounts), _ = recorded(workdir, "w.orders")
    assert (ids.passed, ids.error, json.loads(ids.failing_rows or "")) == (1, None, [])
    assert amounts.passed == 0
    assert json.loads(amounts.failing_rows or "") == [
        {"id": 1, "amount": 2.5},
        {"id": 2, "amount": None},
    ]


def test_a_check_running_past_the_timeout_is_stopped(baton, write, h, workdir: Path) -> None:
    forever = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    write(
        "flow.yaml",
        f"""
        name: slow
        assets:
          - name: w.slow
            checks: [{{name: forever, sql: "{forever}", url: "sqlite:///{workdir / "w.db"}"}}]
        tasks:
          - {{key: load, type: shell, command: "true", outputs: [w.slow], timeout: 1}}
        """,
    )
    run = baton.run("flow.yaml", check=1)
    load = h.tasks(run)["load"]
    assert (load["state"], load["error_kind"]) == ("failed", "timeout")
    materializations, results, _ = recorded(workdir, "w.slow")
    assert materializations == [] and results == []
