"""StateStore: the only code that reads and writes baton's durable state.

Every state change of a run, task run or attempt goes through `Tx.move_run`, `Tx.move_tasks`
or `Tx.move_attempts`: each checks the transition table (`model.states`), does a
compare-and-set on the expected source state, and appends to `state_events` in the same
transaction. Their inserts set the first state and append its event; nothing else writes
their `state` columns. (A notification's delivery state is not one of these: see `admin`.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from baton.errors import StoreError, StoreUnavailable
from baton.model import urls
from baton.store import dialect
from baton.store.admin import Admin
from baton.store.assets import Assets
from baton.store.base import Row
from baton.store.cache_entries import CacheEntries
from baton.store.claims import AttemptMove, Claimed, Claims
from baton.store.escalations import Escalations
from baton.store.feeds import Feeds
from baton.store.flows import Flows
from baton.store.grants import Grants
from baton.store.logs import Logs
from baton.store.partitions import Partitions
from baton.store.reads import Reads
from baton.store.revision import HEAD
from baton.store.runs import RunWrites, TaskMove

# Callers import these from here: one path for the store's types, whichever part defines them.
__all__ = ["SCHEMA_REVISION", "AttemptMove", "Claimed", "Row", "Store", "TaskMove", "Tx"]

# The alembic revision this code reads and writes, said once in store.revision (not
# store.schema, which would pull SQLAlchemy's schema machinery onto every command's path).
SCHEMA_REVISION = HEAD


class Store:
    """A connection to the state database. Use it from one thread at a time.

    The URL picks the database: sqlite:///PATH, or postgresql://... (psycopg 3).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._dialect = dialect.for_url(url)
        self._conn = self._dialect.connect()
        try:
            self._ensure_schema()
        except self._dialect.errors() as exc:
            # Lost right after connecting (the server restarting, a backend terminated): an
            # outage like a refused connection, which a patient caller waits out.
            broken = self._dialect.is_disconnect(self._conn)
            self._conn.close()
            if broken:
                raise StoreUnavailable(
                    f"cannot connect to {self.shown_url}: {self.describe(exc)}"
                ) from None
            raise
        except BaseException:
            self._conn.close()
            raise

    def _ensure_schema(self) -> None:
        d, conn = self._dialect, self._conn
        tables = d.tables(conn)
        if "alembic_version" not in tables:
            # Maybe new, or being created by another process: look again once it is done.
            with d.schema_lock(conn):
                tables = d.tables(conn)
                if not tables:
                    from baton.store import schema  # only a new database pays for SQLAlchemy

                    schema.create(self.url)
                    return
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num AS v FROM alembic_version").fetchone()
            found = f"schema revision {row['v'] if row else None}"
            if row is not None and row["v"] == SCHEMA_REVISION:
                return
        elif "baton_schema" in tables:  # made before baton used alembic
            row = conn.execute("SELECT version AS v FROM baton_schema").fetchone()
            found = f"schema version {row['v'] if row else None} (from before migrations)"
        else:
            raise StoreError(
                f"{self.shown_url} is not a baton database (it has tables, but no "
                "alembic_version): give baton an empty database or schema of its own"
            )
        raise StoreError(
            f"the database {self.shown_url} has {found}, this baton needs schema revision "
            f"{SCHEMA_REVISION}: run `baton db upgrade` (a database a newer baton upgraded "
            "needs that baton)"
        )

    @property
    def shown_url(self) -> str:
        """The URL as messages show it: its password masked."""
        return urls.redacted(self.url)

    def describe(self, exc: BaseException) -> str:
        """A database error as one line of a message or log, with no password in it."""
        return dialect.describe(exc, self.url)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction; it commits on success and rolls back on any error."""
        self._conn.execute(self._dialect.begin)
        tx = Tx(self._conn, self._dialect)
        try:
            yield tx
            if tx.queued:  # workers listening elsewhere learn at commit that work is ready
                self._dialect.notify_ready(self._conn)
        except BaseException:
            if not self._dialect.is_disconnect(self._conn):
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def read(self) -> Tx:
        """Reads outside a transaction (each statement sees the latest commit)."""
        return Tx(self._conn, self._dialect)

    def clock(self) -> float:
        """The store's "now" (UNIX seconds): see `Tx.now`."""
        return self.read().now()

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """The driver's exceptions: a caller that can wait and retry catches these."""
        return self._dialect.errors()

    @property
    def broken(self) -> bool:
        """Whether the database closed this connection (cluster mode): `reconnect`."""
        return self._dialect.is_disconnect(self._conn)

    def reconnect(self) -> None:
        """Open a new connection if the database closed this one (cluster mode)."""
        if not self._dialect.is_disconnect(self._conn):
            return
        with suppress(Exception):  # it is already broken; a new one replaces it
            self._conn.close()
        self._conn = self._dialect.connect()

    def listen(self, wake: Callable[[], object]) -> None:
        """Call `wake` (from another thread) whenever another process made work ready."""
        self._listener = self._dialect.listen(wake)

    def unlisten(self) -> None:
        listener, self._listener = getattr(self, "_listener", None), None
        if listener is not None:
            listener.stop()


class Tx(
    Claims,
    RunWrites,
    Flows,
    Assets,
    Partitions,
    CacheEntries,
    Admin,
    Grants,
    Escalations,
    Reads,
    Logs,
    Feeds,
):
    """The store's operations. SQL is written in sqlite3's style; see `dialect`.

    One type for callers, put together from the store's parts (`runs`, `claims`, `flows`,
    `assets`, `cache_entries`, `admin`, `grants`, `reads`, `logs`, `feeds`), which share the
    connection through `base.TxBase`.
    """
