"""`sql` tasks: run a SQL script with SQLAlchemy; the last statement's rows are the result.

The script is inline (`sql`) or a file (`file`, relative to the flow's folder) and runs against
a SQLAlchemy URL (`url`) or a named connection (`conn: NAME`, whose URL is read from the
environment variable `BATON_CONN_NAME` where the task runs, like Airflow's `AIRFLOW_CONN_*`).
A `postgresql://` (or `postgres://`) URL without a driver uses psycopg 3, the driver baton
installs, where SQLAlchemy would look for psycopg2.

Statements are split on `;` outside of quotes, comments and PostgreSQL dollar-quoted bodies
(so SQLite `CREATE TRIGGER ... BEGIN ...; END` bodies cannot be run this way), and run one by
one with `params` bound by name (`:name`; write a literal colon before a word as `\\:`). By
default they run in one transaction, committed at the end; with `autocommit` each statement
commits on its own (needed for `VACUUM` or `CREATE DATABASE`). The result is that of the last
statement: its rows as a list of dicts made JSON-friendly, at most `max_rows` of them, or
`{"rowcount": N}` for a statement that returns no rows (-1 when the driver cannot tell).

A timeout or cancel cancels the running query through the driver (psycopg's `cancel`,
`interrupt` for SQLite and DuckDB), so the database stops working on it too.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import os
import re
import threading
import time
import uuid
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.pool import NullPool

from baton.model import decorators, urls
from baton.model.context import TaskContext
from baton.tasks.base import Code, TaskConfig, TaskFailed, TaskType

CONN_PREFIX = "BATON_CONN_"
CANCEL_INTERVAL = 0.2  # seconds between cancels of a query that goes on
# Dialects without an autocommit switch: committing after each statement does the same.
NO_AUTOCOMMIT = frozenset({"duckdb"})
# DuckDB answers a statement that is not a query with one of these columns, not a rowcount.
DUCKDB_STATUS = (["Count"], ["Success"])
QUERY_WORDS = frozenset(
    {"select", "with", "from", "values", "table", "pragma", "show", "describe", "summarize"}
    | {"explain", "call"}
)
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*(\w*)", re.DOTALL)
# DBAPI errors that asking again will not change (a syntax error, a unique violation).
PERMANENT = (exc.ProgrammingError, exc.IntegrityError, exc.DataError, exc.NotSupportedError)

# What the splitter steps over whole, so that a `;` inside it does not end a statement.
_TOKEN = re.compile(
    r"""
      '[^']*(?:''[^']*)*'?                                  # a string; '' is a quote in it
    | "[^"]*(?:""[^"]*)*"?                                  # a quoted identifier
    | --[^\n]*                                              # a line comment
    | /\*.*?(?:\*/|\Z)                                      # a block comment
    | \$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?(?:\$(?P=tag)\$|\Z)  # a dollar-quoted body ($$..$$)
    | ;
    """,
    re.VERBOSE | re.DOTALL,
)


class SqlConfig(TaskConfig, frozen=True):
    sql: str | None = None
    file: str | None = None
    url: str | None = None
    conn: Annotated[str, msgspec.Meta(pattern=r"^\w+$")] | None = None
    params: dict[str, Any] = {}
    max_rows: Annotated[int, msgspec.Meta(ge=0)] = 1000
    autocommit: bool = False

    def __post_init__(self) -> None:
        for one, other in (("sql", "file"), ("url", "conn")):
            given = [f for f in (one, other) if getattr(self, f) is not None]
            if len(given) != 1:
                raise ValueError(
                    f"give exactly one of {one} or {other}" + (" (got both)" if given else "")
                )


def execute(ctx: TaskContext, cfg: SqlConfig) -> Any:
    statements = split_statements(script(ctx, cfg))
    if not statements:
        raise TaskFailed("the SQL holds no statement", retryable=False)
    url = engine_url(cfg)
    try:
        engine = sa.create_engine(url, poolclass=NullPool)
    except (exc.ArgumentError, ImportError) as error:  # a bad URL, a driver not installed
        raise TaskFailed(f"cannot use the url {shown(url)}: {error}", retryable=False) from None
    if not cfg.autocommit and engine.dialect.driver == "pysqlite":
        _transactional_sqlite(engine)
    try:
        return _run(ctx, cfg, engine, statements)
    finally:
        engine.dispose()


def script(ctx: TaskContext, cfg: SqlConfig) -> str:
    if cfg.sql is not None:
        return cfg.sql
    assert cfg.file is not None
    path = os.path.join(ctx.flow_dir, cfg.file)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as error:
        raise TaskFailed(
            f"cannot read the SQL file {path}: {error.strerror}", retryable=False
        ) from None


def engine_url(cfg: SqlConfig) -> sa.URL:
    """The URL to connect to; a named connection's variable must be set where the task runs."""
    return connection_url(cfg.url, cfg.conn)


def connection_url(url: str | None, conn: str | None) -> sa.URL:
    """The URL of named connection `conn` (from `$BATON_CONN_<CONN>`), else `url`: what sql
    tasks and sql asset checks connect to.

    Raises:
        TaskFailed: the connection's variable is not set, or the URL cannot be read.
    """
    if conn is not None:
        name = CONN_PREFIX + conn.upper()
        raw = os.environ.get(name)
        if not raw:
            raise TaskFailed(
                f"the environment variable {name} (connection '{conn}') is not set; set it "
                "to a SQLAlchemy URL where the worker runs",
                retryable=False,
            )
        where = f"{name} (connection '{conn}')"
    else:
        assert url is not None
        raw, where = url, "url"
    try:
        parsed = sa.make_url(raw)
    except exc.ArgumentError:
        # The message would quote the URL, password included.
        raise TaskFailed(f"{where} is not a SQLAlchemy URL", retryable=False) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(url: sa.URL) -> str:
    return urls.redacted(url.render_as_string(hide_password=False))


def _transactional_sqlite(engine: sa.Engine) -> None:
    """Make `BEGIN` cover DDL too: Python's sqlite3 only opens transactions before DML.

    SQLAlchemy's documented recipe ("Serializable isolation / Savepoints / Transactional DDL").
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def _run(ctx: TaskContext, cfg: SqlConfig, engine: sa.Engine, statements: list[str]) -> Any:
    try:
        conn = engine.connect()
    except exc.DBAPIError as error:
        if ctx.interrupted is not None:
            raise ctx.interrupted() from None
        raise TaskFailed(  # the driver's message may quote the URL: masked too
            f"cannot connect to {shown(engine.url)}: "
            + urls.redact(detail(error), engine.url.render_as_string(hide_password=False)),
            error_types=error_types(error),
        ) from None
    canceller = Canceller(conn.connection.dbapi_connection)
    unhook = ctx.on_interrupt(canceller.start)
    try:
        if cfg.autocommit and engine.dialect.name not in NO_AUTOCOMMIT:
            conn.execution_options(isolation_level="AUTOCOMMIT")
        print(
            f"connected to {shown(engine.url)}: {len(statements)} statement(s)"
            + (", autocommit" if cfg.autocommit else " in one transaction")
        )
        result: Any = None
        for number, statement in enumerate(statements, 1):
            if ctx.interrupted is not None:
                raise ctx.interrupted()
            where = f"statement {number} of {len(statements)} ({summary(statement)})"
            try:
                result = _statement(conn, statement, cfg, where)
                if cfg.autocommit:
                    conn.commit()
            except exc.SQLAlchemyError as error:
                raise _failed(ctx, f"{where} failed", error) from None
        try:
            conn.commit()
        except exc.SQLAlchemyError as error:
            raise _failed(ctx, "the commit failed", error) from None
        return result
    finally:
        unhook()
        canceller.stop()
        if ctx.interrupted is not None:
            # The connection may be mid-query: drop it rather than roll back over it.
            with contextlib.suppress(Exception):
                conn.invalidate()
        conn.close()


def _statement(conn: sa.Connection, statement: str, cfg: SqlConfig, where: str) -> Any:
    started = time.monotonic()
    cursor = conn.execute(sa.text(statement), cfg.params)
    if not cursor.returns_rows or _duckdb_status(conn, statement, list(cursor.keys())):
        count = cursor.rowcount
        print(f"{where}: {count} row(s) affected in {time.monotonic() - started:.3f}s")
        return {"rowcount": count}
    columns = list(cursor.keys())
    rows = cursor.fetchmany(cfg.max_rows + 1)
    cursor.close()
    print(f"{where}: {min(len(rows), cfg.max_rows)} row(s) in {time.monotonic() - started:.3f}s")
    if len(rows) > cfg.max_rows:
        print(f"{where}: more than {cfg.max_rows} rows; kept the first {cfg.max_rows} (max_rows)")
        rows = rows[: cfg.max_rows]
    return [{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]


def _duckdb_status(conn: sa.Connection, statement: str, columns: list[str]) -> bool:
    """Whether DuckDB's answer is the status of a statement that is not a query."""
    if conn.dialect.name != "duckdb" or columns not in DUCKDB_STATUS:
        return False
    first = _FIRST_WORD.match(statement)
    return first is not None and first.group(1).lower() not in QUERY_WORDS


def _failed(ctx: TaskContext, what: str, error: exc.SQLAlchemyError) -> BaseException:
    """The exception ending the attempt: the interrupt if one came, else a TaskFailed."""
    if ctx.interrupted is not None:
        return ctx.interrupted()
    dbapi_error = isinstance(error, exc.DBAPIError)
    return TaskFailed(
        f"{what}: {detail(error)}",
        error_types=error_types(error),
        retryable=dbapi_error and not isinstance(error, PERMANENT),
    )


def detail(error: exc.SQLAlchemyError) -> str:
    """The driver's own message, without SQLAlchemy's echo of the SQL and its parameters."""
    if isinstance(error, exc.StatementError) and error.orig is not None:
        orig: BaseException = error.orig
        return f"{type(orig).__name__}: {str(orig).strip()}"
    return f"{type(error).__name__}: {error}"


def error_types(error: exc.SQLAlchemyError) -> tuple[str, ...]:
    """Qualified class names of SQLAlchemy's error and the driver's, for `retry_on`."""
    classes = list(type(error).__mro__)
    if isinstance(error, exc.StatementError) and error.orig is not None:
        classes += type(error.orig).__mro__
    return tuple(dict.fromkeys(f"{t.__module__}.{t.__qualname__}" for t in classes))


class Canceller:
    """Cancels the connection's query, again and again, until the task's thread lets go of it.

    One cancel is not enough: drivers ignore a cancel that comes while no query runs, and the
    interrupt may come just before the next statement starts.
    """

    def __init__(self, dbapi_connection: Any) -> None:
        self._connection = dbapi_connection
        self._lock = threading.Lock()
        self._done = False
        self._stopped = threading.Event()

    def start(self, _kind: object) -> None:
        threading.Thread(target=self._loop, name="baton-sql-cancel", daemon=True).start()

    def stop(self) -> None:
        """After this returns, no cancel reaches the connection (it may be closed then)."""
        with self._lock:
            self._done = True
        self._stopped.set()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._done:
                    return
                cancel(self._connection)
            if self._stopped.wait(CANCEL_INTERVAL):
                return


def cancel(dbapi_connection: Any) -> None:
    """Stop the query running on the connection, from another thread, as the driver allows."""
    # psycopg: cancel_safe (3.2+) or cancel; sqlite3 and DuckDB: interrupt.
    for name in ("cancel_safe", "cancel", "interrupt"):
        method = getattr(dbapi_connection, name, None)
        if method is not None:
            with contextlib.suppress(Exception):  # the query ended meanwhile
                method()
            return


def split_statements(script: str) -> list[str]:
    """The statements of a script, split on `;` outside of quotes, comments and `$$` bodies."""
    statements: list[str] = []
    start = pos = 0
    code = False  # whether the statement so far holds more than comments and blanks
    for m in _TOKEN.finditer(script):
        code = code or bool(script[pos : m.start()].strip())
        token = m.group()
        if token == ";":
            if code:
                statements.append(script[start : m.start()].strip())
            start, code = m.end(), False
        elif not token.startswith(("--", "/*")):
            code = True
        pos = m.end()
    if code or script[pos:].strip():
        statements.append(script[start:].strip())
    return statements


def summary(statement: str, width: int = 60) -> str:
    """A statement's start on one line, to say which one of a script is meant."""
    flat = " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def jsonable(value: Any) -> Any:
    """A column value as JSON can hold it: numbers, strings, lists, dicts, null."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)  # network addresses, ranges, ...: their text form


def sql_task(
    sql: str | None = None,
    *,
    key: str,
    file: str | None = None,
    url: str | None = None,
    conn: str | None = None,
    params: dict[str, Any] | None = None,
    max_rows: int = 1000,
    autocommit: bool = False,
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """A SQL task inside a `@flow`: `sql_task("SELECT ...", key="q", conn="warehouse")`.

    Give `sql` or `file` (relative to the flow's folder) and `url` or `conn` (the URL is then
    read from `BATON_CONN_<CONN>` at run time). `params` values, bound as `:name`, may be task
    results or flow params; other options as for `@task` (retries, timeout, ...). The result
    is the last statement's rows as dicts (at most `max_rows`) or `{"rowcount": N}`.
    """
    config = {
        "sql": sql,
        "file": file,
        "url": url,
        "conn": conn,
        "params": params,
        "max_rows": max_rows,
        "autocommit": autocommit,
    }
    return decorators.typed_task("sql", key, config, wait_for=wait_for, **options)


def code(ctx: TaskContext, config: dict[str, Any]) -> Code:
    """The statement's text as written (its template: the params it reads are inputs), or
    its file."""
    if isinstance(config.get("sql"), str):
        return "sql", config["sql"]
    if isinstance(config.get("file"), str):
        return "script", os.path.join(ctx.flow_dir, config["file"])
    return None


TYPE = TaskType("sql", SqlConfig, execute, icon="sql", code=code)
