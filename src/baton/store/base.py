"""What every part of `Tx` shares: the connection, the dialect, the clock, the state events.

`store.Tx` is put together from one class per part of the store (runs, claims, flows, admin,
reads, logs); each builds on `TxBase`, which declares what they all use, so mypy checks each
part on its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from baton.store import dialect

Row = Mapping[str, Any]


def like_escape(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (`ESCAPE '\\'`): its own `%`, `_` and `\\`
    match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_anywhere(text: str) -> str:
    """A pattern for `lower(column) LIKE ? ESCAPE '\\'` matching `text` anywhere, any case."""
    return f"%{like_escape(text.lower())}%"


class TxBase:
    """The connection a transaction's operations run on, and what they all need."""

    def __init__(self, conn: dialect.Conn, d: dialect.Dialect) -> None:
        self._c = conn
        self._d = d
        self._claim_lock = d.claim_lock
        self._clock = dialect.clock(d)
        # Task runs this transaction made ready and did not claim itself: other workers are
        # told at commit. A worker that queues a successor and claims it in the same
        # transaction (a chain) wakes nobody for nothing.
        self.queued: set[int] = set()

    def _one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Row | None:
        row: Row | None = self._c.execute(sql, params).fetchone()
        return row

    def _all(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
        return list(self._c.execute(sql, params).fetchall())

    def _tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples, for reads of very many rows (`Dialect.tuples`)."""
        return self._d.tuples(self._c, sql, params)

    def now(self) -> float:
        """The time by the clock of leases, locks and timers (`dialect.clock`): PostgreSQL's
        on a cluster store, one round trip; this process's on SQLite, none. Statements that
        compare or set those times use the clock in their SQL instead of calling this."""
        if self._d.name == "sqlite":
            return time.time()
        row = self._one(f"SELECT {self._clock} AS t")
        assert row is not None
        return float(row["t"])

    def _events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._c.executemany(
            "INSERT INTO state_events (run_id, task_run_id, from_state, to_state, at, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
