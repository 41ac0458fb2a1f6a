"""`sql` tasks on real databases: SQLite and DuckDB files, and the PostgreSQL server of CI.

PostgreSQL tests use the server named by BATON_TEST_POSTGRES_URL (skipped when unset); each
gets a schema of its own (`options=-csearch_path=...` in the URL), dropped after it.
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from baton import get_run
from baton.errors import TaskTimeout
from baton.settings import Settings
from baton.tasks import sql as sql_type
from baton.tasks.base import TaskFailed

POSTGRES_URL_ENV = "BATON_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]

SAVE = """
import json

def save(query):
    with open("received.json", "w") as f:
        json.dump(query, f)
"""

# A query that keeps the database busy far longer than any test's timeout.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT count(*) FROM c",
    "duckdb": "SELECT count(*) FROM range(100000000000) a, range(1000000) b "
    "WHERE a.range + b.range = -1",
    "postgresql": "SELECT pg_sleep(30)",
}


@dataclass
class Db:
    backend: str
    url: str  # as a user writes it in a flow

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        """Rows of one query, on a connection of the test's own."""
        engine = sa.create_engine(sql_type.engine_url(sql_type.SqlConfig(sql="-", url=self.url)))
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(statement))]
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        engine = sa.create_engine(sql_type.engine_url(sql_type.SqlConfig(sql="-", url=self.url)))
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()


def _admin(base: str, *statements: str) -> None:
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for s in statements:
                conn.execute(sa.text(s))
    finally:
        engine.dispose()


@pytest.fixture
def postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema, dropped afterwards."""
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_URL_ENV} to run the sql task's tests on PostgreSQL")
    name = f"baton_sql_{uuid.uuid4().hex[:12]}"
    _admin(base, f"CREATE SCHEMA {name}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"
    finally:
        _admin(base, "SET lock_timeout = '10s'", f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    backend = str(request.param)
    if backend == "postgresql":
        return Db(backend, request.getfixturevalue("postgres"))
    suffix = "db" if backend == "sqlite" else "duckdb"
    return Db(backend, f"{backend}:///{tmp_path / f'data.{suffix}'}")


def result_of(workdir: Path, run_id: str, key: str) -> Any:
    settings = Settings.from_env({"BATON_HOME": str(workdir / ".baton")})
    return get_run(run_id, settings=settings).result(key)


def test_select_rows_reach_downstream(baton, write, h, workdir: Path, db: Db):
    write("lib.py", SAVE)
    path = write(
        "rows.yaml",
        f"""
        name: rows
        tasks:
          - key: query
            type: sql
            url: "{db.url}"
            params: {{cheap: 2}}
            sql: |
              CREATE TABLE items (id INTEGER, name VARCHAR(20), price DECIMAL(6, 2));
              -- a comment; with a semicolon
              INSERT INTO items VALUES (1, 'nut; bolt', 1.25), (2, 'it''s', 2.5), (3, 'gear', 9);
              SELECT id, name, price FROM items WHERE price < :cheap ORDER BY id;
          - {{key: save, type: python, function: "lib:save", depends_on: [query]}}
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"query": "succeeded", "save": "succeeded"}
    received = json.loads((workdir / "received.json").read_text())
    assert received == [{"id": 1, "name": "nut; bolt", "price": 1.25}]
    assert db.query("SELECT count(*) FROM items") == [(3,)]  # committed
    log = baton("logs", run["id"], "query").stdout
    assert "3 statement(s) in one transaction" in log
    assert "statement 3 of 3 (SELECT id, name, price FROM items WHERE price < :cheap" in log
    assert "1 row(s) in " in log


def test_rows_are_capped_at_max_rows(baton, write, h, workdir: Path):
    path = write(
        "many.yaml",
        """
        name: many
        tasks:
          - key: numbers
            type: sql
            url: sqlite:///numbers.db
            max_rows: 10
            sql: >
              WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50)
              SELECT x FROM c
        """,
    )
    run = baton.run(path)
    assert result_of(workdir, run["id"], "numbers") == [{"x": i} for i in range(1, 11)]
    log = baton("logs", run["id"], "numbers").stdout
    assert "more than 10 rows; kept the first 10 (max_rows)" in log


def test_python_flow_binds_params_and_results_and_counts_rows(
    baton, write, h, workdir: Path, db: Db
):
    path = write(
        "load.py",
        f"""
        from baton import flow, task
        from baton.tasks.sql import sql_task

        URL = {db.url!r}

        @task
        def label():
            return "widget"

        @flow
        def load(n: int = 1):
            made = sql_task(
                "CREATE TABLE parts (name VARCHAR(20), n INTEGER);"
                "INSERT INTO parts VALUES (:name, :n);"
                "INSERT INTO parts VALUES (:name, :n);"
                "UPDATE parts SET n = n + :n",
                key="insert",
                url=URL,
                params={{"name": label(), "n": n}},
            )
            sql_task("SELECT name, n FROM parts", key="check", url=URL, wait_for=made)
        """,
    )
    run = baton.run(path, "-p", "n=5")
    assert h.states(run) == {"label": "succeeded", "insert": "succeeded", "check": "succeeded"}
    assert result_of(workdir, run["id"], "insert") == {"rowcount": 2}
    assert result_of(workdir, run["id"], "check") == [{"name": "widget", "n": 10}] * 2


def test_sql_file_and_named_connection(baton, write, h, workdir: Path):
    # The file is found next to the flow, though baton runs from the parent folder.
    (workdir / "flows").mkdir()
    write("flows/report.sql", "SELECT :who AS who, 40 + 2 AS answer;\n")
    path = write(
        "flows/report.yaml",
        """
        name: report
        tasks:
          - {key: report, type: sql, file: report.sql, conn: warehouse, params: {who: ann}}
          - {key: unknown, type: sql, sql: SELECT 1, conn: nowhere, retries: 2}
          - {key: no_file, type: sql, file: missing.sql, conn: warehouse, retries: 2}
        """,
    )
    url = f"sqlite:///{workdir / 'warehouse.db'}"
    proc = baton("run", path, "--json", check=1, env={"BATON_CONN_WAREHOUSE": url})
    run = json.loads(proc.stdout)
    tasks = h.tasks(run)
    assert tasks["report"]["state"] == "succeeded"
    assert result_of(workdir, run["id"], "report") == [{"who": "ann", "answer": 42}]
    # Neither a missing variable nor a missing file appears by trying again.
    for key, named in (("unknown", "BATON_CONN_NOWHERE"), ("no_file", "missing.sql")):
        assert (tasks[key]["state"], tasks[key]["attempts"]) == ("failed", 1)
        assert named in tasks[key]["error"]


def test_bad_sql_fails_with_the_database_error_and_rolls_back(baton, write, h, db: Db):
    path = write(
        "bad.yaml",
        f"""
        name: bad
        tasks:
          - key: broken
            type: sql
            url: "{db.url}"
            retries: 1
            retry_delay: 0
            sql: |
              CREATE TABLE kept (a INTEGER);
              INSERT INTO kept VALUES (1);
              SELECT * FROM no_such_table;
        """,
    )
    run = baton.run(path, check=1)
    broken = h.tasks(run)["broken"]
    assert broken["state"] == "failed"
    assert broken["error"].startswith("statement 3 of 3 (SELECT * FROM no_such_table) failed: ")
    assert "no_such_table" in broken["error"]
    assert "[SQL:" not in broken["error"]  # the driver's message, not SQLAlchemy's echo
    # SQLite reports a missing table as an OperationalError, which may be transient; the
    # others as a ProgrammingError, which asking again will not change.
    assert broken["attempts"] == (2 if db.backend == "sqlite" else 1)
    assert "kept" not in db.tables()  # the whole script was one transaction, DDL included


@pytest.mark.postgres
def test_autocommit_runs_what_a_transaction_cannot(baton, write, h, workdir: Path, postgres: str):
    path = write(
        "vacuum.yaml",
        f"""
        name: vacuum
        tasks:
          - key: tidy
            type: sql
            url: "{postgres}"
            autocommit: true
            sql: CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1); VACUUM t
          - key: inside
            type: sql
            url: "{postgres}"
            sql: VACUUM t
            depends_on: [tidy]
        """,
    )
    run = baton.run(path, check=1)
    tasks = h.tasks(run)
    assert tasks["tidy"]["state"] == "succeeded"
    assert "VACUUM cannot run inside a transaction block" in tasks["inside"]["error"]


def test_timeout_cancels_the_running_query(baton, write, h, db: Db):
    marker = f"baton-test-{uuid.uuid4().hex}"
    path = write(
        "slow.yaml",
        f"""
        name: slow
        tasks:
          - key: slow
            type: sql
            url: "{db.url}"
            timeout: 1
            sql: "/* {marker} */ {SLOW[db.backend]}"
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    assert time.monotonic() - started < 5
    slow = h.tasks(run)["slow"]
    assert slow["state"] == "failed"
    assert "timed out" in slow["error"]
    if db.backend == "postgresql":
        base = os.environ[POSTGRES_URL_ENV]
        activity = Db("postgresql", base)
        h.wait_until(
            lambda: (
                not activity.query(
                    "SELECT pid FROM pg_stat_activity "
                    f"WHERE query LIKE '%{marker}%' AND pid <> pg_backend_pid()"
                )
            ),
            timeout=3,
            what="the server to stop the cancelled query",
        )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("sql: SELECT 1", "url or conn"),
        ("sql: SELECT 1\n    url: sqlite:///x.db\n    conn: x", "url or conn (got both)"),
        ("url: sqlite:///x.db", "sql or file"),
        ("sql: SELECT 1\n    file: q.sql\n    url: sqlite:///x.db", "sql or file"),
        ("sql: SELECT 1\n    url: sqlite:///x.db\n    max_rows: -1", "max_rows"),
        ("sql: SELECT 1\n    conn: not-a-name", "conn"),
        ("sql: SELECT 1\n    url: sqlite:///x.db\n    params: [1]", "params"),
    ],
)
def test_bad_fields_exit_2_naming_the_field(baton, write, fields: str, named: str):
    path = write(
        "bad.yaml",
        f"""
name: bad
tasks:
  - key: q
    type: sql
    {fields}
""",
    )
    proc = baton("run", path, check=2)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "task 'q'" in proc.stderr
    assert named in proc.stderr


# -- the task type on its own --------------------------------------------------------


def test_an_interrupt_cancels_a_query_in_flight(tmp_path: Path, db: Db, task_context):
    # No worker here to raise the timeout in this thread: only the driver's cancel ends it.
    ctx = task_context()
    threading.Timer(0.3, ctx.interrupt, args=(TaskTimeout,)).start()
    started = time.monotonic()
    with pytest.raises(TaskTimeout):
        sql_type.execute(ctx, sql_type.SqlConfig(sql=SLOW[db.backend], url=db.url))
    assert time.monotonic() - started < 3


TYPED = {
    "duckdb": "SELECT DATE '2024-01-02' AS d, TIMESTAMP '2024-01-02 03:04:05' AS ts, "
    "CAST(12.5 AS DECIMAL(6, 2)) AS n, '\\xDE\\xAD'::BLOB AS b, [1, 2] AS l",
    "postgresql": "SELECT DATE '2024-01-02' AS d, TIMESTAMP '2024-01-02 03:04:05' AS ts, "
    "CAST(12.5 AS NUMERIC(6, 2)) AS n, '\\xdead'::bytea AS b, ARRAY[1, 2] AS l",
}


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_column_values_become_json(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, task_context
):
    url = (
        request.getfixturevalue("postgres")
        if backend == "postgresql"
        else f"duckdb:///{tmp_path / 'x.duckdb'}"
    )
    rows = sql_type.execute(task_context(), sql_type.SqlConfig(sql=TYPED[backend], url=url))
    assert rows == [
        {"d": "2024-01-02", "ts": "2024-01-02T03:04:05", "n": 12.5, "b": "dead", "l": [1, 2]}
    ]
    json.dumps(rows)


def test_jsonable():
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    value = {
        "n": decimal.Decimal("1.50"),
        "t": moment,
        "d": moment.date(),
        "h": datetime.time(3, 4),
        "gap": datetime.timedelta(minutes=1, seconds=30),
        "b": memoryview(b"\x01\xff"),
        "u": uuid.UUID(int=1),
        "nested": {"xs": (1, None, True)},
    }
    assert sql_type.jsonable(value) == {
        "n": 1.5,
        "t": "2024-01-02T03:04:05+00:00",
        "d": "2024-01-02",
        "h": "03:04:00",
        "gap": 90.0,
        "b": "01ff",
        "u": "00000000-0000-0000-0000-000000000001",
        "nested": {"xs": [1, None, True]},
    }


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1", ["SELECT 1"]),
        (" SELECT 1 ;; SELECT 2;\n", ["SELECT 1", "SELECT 2"]),
        ("SELECT 'a;b', \"c;d\" ; SELECT 'it''s;'", ["SELECT 'a;b', \"c;d\"", "SELECT 'it''s;'"]),
        (
            "SELECT 1 -- one; two\n; /* three; */ SELECT 2",
            ["SELECT 1 -- one; two", "/* three; */ SELECT 2"],
        ),
        ("SELECT 1; -- the end;\n/* really; */", ["SELECT 1"]),
        (
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT $x$;$x$",
            ["CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "SELECT $x$;$x$"],
        ),
        ("SELECT $1::int; SELECT 2", ["SELECT $1::int", "SELECT 2"]),
        ("-- nothing;\n", []),
        ("SELECT 'unterminated; SELECT 2", ["SELECT 'unterminated; SELECT 2"]),
    ],
)
def test_split_statements(script: str, statements: list[str]):
    assert sql_type.split_statements(script) == statements


def test_urls_and_named_connections(monkeypatch: pytest.MonkeyPatch):
    def url(**fields: Any) -> str:
        return sql_type.shown(sql_type.engine_url(sql_type.SqlConfig(sql="-", **fields)))

    assert url(url="postgresql://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"
    assert url(url="postgres://h/db") == "postgresql+psycopg://h/db"
    assert url(url="postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"
    monkeypatch.setenv("BATON_CONN_WAREHOUSE", "duckdb:///w.duckdb")
    assert url(conn="warehouse") == "duckdb:///w.duckdb"
    monkeypatch.setenv("BATON_CONN_BAD", "not a url s3cret")
    with pytest.raises(TaskFailed, match=r"BATON_CONN_BAD \(connection 'bad'\) is not a") as bad:
        url(conn="bad")
    assert "s3cret" not in str(bad.value)
    monkeypatch.delenv("BATON_CONN_WAREHOUSE")
    with pytest.raises(TaskFailed, match="BATON_CONN_WAREHOUSE") as missing:
        url(conn="warehouse")
    assert missing.value.retryable is False


def test_a_driver_not_installed_fails_for_good(tmp_path: Path, task_context):
    cfg = sql_type.SqlConfig(sql="SELECT 1", url="mysql+nosuchdriver://u:pw@h/db")
    with pytest.raises(
        TaskFailed, match=r"cannot use the url mysql\+nosuchdriver://u:\*\*\*@h"
    ) as e:
        sql_type.execute(task_context(), cfg)
    assert e.value.retryable is False


def test_a_refused_connection_fails_retryably(tmp_path: Path, task_context):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = sql_type.SqlConfig(sql="SELECT 1", url=f"postgresql://u:pw@127.0.0.1:{port}/db")
    with pytest.raises(TaskFailed, match=r"cannot connect to postgresql\+psycopg://u:\*\*\*@") as e:
        sql_type.execute(task_context(), cfg)
    assert e.value.retryable is True
    assert "sqlalchemy.exc.OperationalError" in e.value.error_types
