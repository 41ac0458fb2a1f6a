"""What differs between SQLite and PostgreSQL, in one place.

The store's SQL is written once, in sqlite3's style (`?` and `:name` placeholders), and the
same text runs on both databases: RETURNING, ON CONFLICT and `excluded` mean the same on both.
A `Dialect` holds the rest:

| | SQLite (sqlite3) | PostgreSQL (psycopg 3) |
| --- | --- | --- |
| placeholders | `?`, `:name` | `%s`, `%(name)s` (`translate`, cached per text) |
| write transaction | `BEGIN IMMEDIATE`: one writer | `BEGIN` (read committed) |
| claim | the single writer | `SELECT ... FOR UPDATE SKIP LOCKED`, same transaction |
| lock a row read to update it | the single writer | `SELECT ... FOR UPDATE` |
| tell workers work is ready | (one process: its own wake-up) | `NOTIFY baton_ready` at commit |
| count a pool's slots | the single writer | transaction advisory lock per pool |
| clock of leases, locks, timers (`clock`) | the caller's, bound as `:now` | `clock_timestamp()` |
| rows (read them by column name) | `sqlite3.Row` | `dict` (`dict_row`) |
| tables present | `sqlite_master` | `information_schema`, current schema (search_path) |
| one process creates the schema | `flock` on `PATH.init-lock` | a session advisory lock |

executemany's rowcount is the sum over all parameter sets on both drivers. Column types
(double precision times, bigserial ids, byte-order "C" text) are SQLAlchemy's business:
see `schema`. Only a PostgreSQL URL imports psycopg.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from baton.errors import StoreError, StoreUnavailable
from baton.model import urls

Params = Sequence[Any] | Mapping[str, Any]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """The part of a DBAPI connection the store uses; sqlite3.Connection is one as it is."""

    def execute(self, sql: str, parameters: Params = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Sequence[Params], /) -> Cursor: ...

    def close(self) -> None: ...


def for_url(url: str) -> Dialect:
    scheme = url.partition(":")[0]
    if scheme == "sqlite":
        return SQLite(url)
    if scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        return Postgres(url)
    raise StoreError(
        f"unsupported database URL '{urls.redacted(url)}': use sqlite:///PATH (one machine) or "
        "postgresql://USER@HOST:PORT/DATABASE (cluster mode)"
    )


def describe(exc: BaseException, url: str) -> str:
    """A driver's error as one line of a message or log, the URL's password masked."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return urls.redact(text, url)


# What a PostgreSQL server or libpq says when the URL itself is wrong: trying again will
# not help. Any other failure to connect (refused, timed out, starting up, too many
# clients) may pass, so the caller may wait and try again (StoreUnavailable).
_CONFIG_ERRORS = (
    "does not exist",
    "authentication failed",
    "pg_hba.conf",
    "configuration parameter",
    "invalid ",
    "permission denied",
)


def sqlite_path(url: str) -> str:
    # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    if not path:
        raise StoreError(f"database URL '{urls.redacted(url)}' names no file: use sqlite:///PATH")
    return path


class SQLite:
    name = "sqlite"
    begin = "BEGIN IMMEDIATE"
    claim_lock = ""  # the write transaction already excludes every other writer
    row_lock = ""

    def notify_ready(self, conn: Conn) -> None:
        pass  # workers of one SQLite database share a machine; they poll briefly instead

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def is_disconnect(self, conn: Conn) -> bool:
        return False

    def lock_pool(self, conn: Conn, name: str) -> None:
        pass  # the write transaction already excludes every other claimer

    def tuples(self, conn: Conn, sql: str, params: Params) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: for reads of tens of thousands of rows, where building a
        sqlite3.Row each costs more than the query."""
        cur = conn.cursor()  # type: ignore[attr-defined]
        cur.row_factory = None
        return list(cur.execute(sql, params).fetchall())

    def errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def listen(self, wake: Callable[[], object]) -> None:
        return None  # no notifications: workers of a SQLite store poll (TIMER_INTERVAL)

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)

    def connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            # Switching a new database to WAL fails at once (no busy wait) while another
            # connection does the same: one switch at a time.
            with self.schema_lock(conn):
                conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps every commit across a process crash (WAL); only an OS crash may lose
        # the last commits, which the lease/resume path already recovers from.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def tables(self, conn: Conn) -> set[str]:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows}

    @contextmanager
    def schema_lock(self, conn: Conn) -> Iterator[None]:
        with open(self.path + ".init-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def sqlalchemy_url(self) -> str:
        return self.url


class Postgres:
    name = "postgresql"
    begin = "BEGIN"
    # Concurrent claimers each take rows nobody else holds, instead of queueing behind one
    # another and then failing the compare-and-set.
    claim_lock = " FOR UPDATE SKIP LOCKED"
    row_lock = " FOR UPDATE"
    channel = "baton_ready"

    def notify_ready(self, conn: Conn) -> None:
        conn.execute(f"NOTIFY {self.channel}")

    def is_unique_violation(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) == "23505"

    def is_disconnect(self, conn: Conn) -> bool:
        raw = getattr(conn, "raw", None)
        return bool(raw is None or raw.closed or raw.broken)

    def lock_pool(self, conn: Conn, name: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('baton-pool:' || ?))", (name,))

    def tuples(self, conn: Conn, sql: str, params: Params) -> list[tuple[Any, ...]]:
        """Rows as plain tuples (see `SQLite.tuples`)."""
        from psycopg.rows import tuple_row

        cur = conn.raw.cursor(row_factory=tuple_row)  # type: ignore[attr-defined]
        cur.execute(translate(sql), params)
        return list(cur.fetchall())

    def errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def listen(self, wake: Callable[[], object]) -> Listener:
        return Listener(self, wake)

    def __init__(self, url: str) -> None:
        self.url = url

    def libpq_url(self) -> str:
        """The URL as libpq reads it (query parameters such as `options` pass through)."""
        return "postgresql:" + self.url.partition(":")[2]

    def sqlalchemy_url(self) -> str:
        return "postgresql+psycopg:" + self.url.partition(":")[2]

    def connect(self) -> PgConn:
        try:
            import psycopg  # only PostgreSQL users pay for it
        except ImportError:  # pragma: no cover - depends on the installation
            raise StoreError(
                f"{urls.redacted(self.url)} needs the PostgreSQL driver: "
                "pip install 'baton[postgres]'"
            ) from None
        from psycopg.rows import dict_row

        try:
            conn = psycopg.connect(self.libpq_url(), autocommit=True, row_factory=dict_row)
        except psycopg.Error as e:
            # libpq's message can quote the URL, password included: `describe` masks it.
            text = f"cannot connect to {urls.redacted(self.url)}: {describe(e, self.url)}"
            if isinstance(e, psycopg.OperationalError) and not any(
                s in str(e) for s in _CONFIG_ERRORS
            ):
                raise StoreUnavailable(text) from None
            raise StoreError(text) from None
        return PgConn(conn)

    def tables(self, conn: Conn) -> set[str]:
        rows = conn.execute(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema()"
        ).fetchall()
        return {r["name"] for r in rows}

    @contextmanager
    def schema_lock(self, conn: Conn) -> Iterator[None]:
        # One lock per database and schema, so stores in other schemas do not wait.
        key = "hashtext('baton-schema:' || current_database() || '.' || current_schema())"
        conn.execute(f"SELECT pg_advisory_lock({key})")
        try:
            yield
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({key})")


class Listener:
    """LISTENs on its own connection in a thread and calls `wake` on each notification.

    It reconnects with backoff when the database goes away, and calls `wake` once after each
    (re)connection, since work may have been queued while nobody listened.
    """

    def __init__(self, d: Postgres, wake: Callable[[], object]) -> None:
        self._d, self._wake = d, wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baton-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        import psycopg

        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._d.libpq_url(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {self._d.channel}")
                    self._wake()
                    backoff = 0.1
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=64):
                            self._wake()
            except psycopg.Error:
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)


class PgConn:
    """A psycopg connection that takes the store's sqlite3-style SQL."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Params = (), /) -> Cursor:
        cur: Cursor = self.raw.execute(translate(sql), parameters)
        return cur

    def executemany(self, sql: str, parameters: Sequence[Params], /) -> Cursor:
        cur = self.raw.cursor()
        cur.executemany(translate(sql), parameters)
        result: Cursor = cur
        return result

    def close(self) -> None:
        self.raw.close()


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """sqlite3 placeholders to psycopg's: `?` -> `%s`, `:name` -> `%(name)s`, `%` -> `%%`.

    Text inside quotes ('...' or "...") keeps its `?` and `:`; its `%` is doubled too, since
    psycopg reads every `%` of the query. `::type` casts stay as they are. Comments are not
    understood: the store's SQL has none.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    quote = ""
    while i < n:
        ch = sql[i]
        if ch == "%":
            out.append("%%")
        elif quote:
            out.append(ch)
            if ch == quote:
                quote = ""  # a doubled quote closes and reopens: same result
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == ":" and i + 1 < n and sql[i + 1] == ":":
            out.append("::")
            i += 1
        elif ch == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(f"%({sql[i + 1 : j]})s")
            i = j
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


Dialect = SQLite | Postgres


# The clock of leases, locks and timers, as SQL for "now" in UNIX seconds. On PostgreSQL the
# database's own: processes on machines whose clocks disagree, or a server whose clock jumps,
# still agree on when a lease or a lock expires. On SQLite every process shares one machine
# (its clock): the caller's time, bound as `:now` (which lets tests pass their own).
_PG_CLOCK = "extract(epoch from clock_timestamp())::float8"


def clock(d: Dialect) -> str:
    """SQL for the store's "now"; a statement using it binds `now` (named) on SQLite."""
    return ":now" if d.name == "sqlite" else _PG_CLOCK


# SQLite result codes (their first two words, e.g. SQLITE_IOERR of SQLITE_IOERR_WRITE) and
# errno values of a fault on this machine that no reconnect will mend.
_LOCAL_FAULTS = {
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
    "SQLITE_IOERR",
}
_LOCAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


def local_fault(exc: BaseException) -> str | None:
    """What makes `exc` permanent, as one line, when it is a fault of this machine's disk
    (full, read-only, a corrupt database file); None when trying again may work (a lost
    connection, a busy database). A fault met during the rollback of another counts."""
    seen: BaseException | None = exc
    while seen is not None:
        name = getattr(seen, "sqlite_errorname", None) or ""
        if "_".join(name.split("_")[:2]) in _LOCAL_FAULTS:
            return " ".join(str(seen).split()) or name
        if isinstance(seen, OSError) and seen.errno in _LOCAL_ERRNOS:
            return seen.strerror or str(seen)
        seen = seen.__context__
    return None
