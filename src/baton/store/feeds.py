"""Feeds: readers of the state-event history that keep where they got to (`feeds` table).

A feed reads `state_events` by id (its primary key: a range, so the cost is what happened
since the last read) and keeps its cursor in `feeds`, moved by compare-and-set in the
transaction that records what it made of the events: two readers of one feed never both
act on the same events. The OpenLineage feed (`notify.lineage`) is the one there is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from baton.model.states import ATTEMPT_TERMINAL
from baton.store.base import Row, TxBase
from baton.store.claims import ATTEMPT_EVENT, attempt_event_state

_ENDS = tuple(attempt_event_state(s) for s in sorted(ATTEMPT_TERMINAL))


class Feeds(TxBase):
    """Feed cursors, and the attempts' starts and ends after one."""

    def feed_cursor(self, name: str) -> int | None:
        """The last state event id the feed `name` has read; None if it never ran."""
        row = self._one("SELECT cursor FROM feeds WHERE name = ?", (name,))
        return None if row is None else int(row["cursor"])

    def start_feed(self, name: str, cursor: int, now: float) -> None:
        """Create the feed `name` at `cursor`, unless another reader created it first."""
        self._c.execute(
            "INSERT INTO feeds (name, cursor, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (name, cursor, now),
        )

    def move_feed(self, name: str, frm: int, to: int, now: float) -> bool:
        """Move the feed's cursor from `frm` to `to`; False if another reader moved it."""
        cur = self._c.execute(
            "UPDATE feeds SET cursor = ?, updated_at = ? WHERE name = ? AND cursor = ?",
            (to, now, name, frm),
        )
        return cur.rowcount == 1

    def attempt_changes(
        self,
        after_id: int,
        *,
        settled: float = math.inf,
        span: int = 1000,
        run_ids: Sequence[str] | None = None,
    ) -> tuple[int, list[Row]]:
        """The attempts that started (first event) or ended in the state events after
        `after_id` (of these runs only, with `run_ids`): where the next read starts, and
        rows of the event (`id`, `run_id`, `to_state`, `at`, `from_state`), its attempt
        (`attempt_id`, `started_at`, `error`), task (`task_key`) and run (`flow_name`,
        `version_id`, `run_created_at`), oldest first.

        The read stops before the first event stamped after `settled`: a transaction still
        open may have numbered an event before it and not committed it yet (PostgreSQL), and
        the cursor must not pass that one. At most `span` events are read at once.
        """
        where, params = "", []
        if run_ids is not None:
            if not run_ids:
                return after_id, []
            where = f" AND run_id IN ({','.join('?' * len(run_ids))})"
            params = list(run_ids)
        events = self._all(
            f"SELECT id, at FROM state_events WHERE id > ?{where} ORDER BY id LIMIT ?",
            (after_id, *params, span),
        )
        upto = after_id
        for e in events:
            if e["at"] > settled:
                break
            upto = int(e["id"])
        if upto == after_id:
            return after_id, []
        ends = ",".join("?" * len(_ENDS))
        rows = self._all(
            "SELECT e.id, e.run_id, e.from_state, e.to_state, e.at, a.id AS attempt_id, "
            "a.started_at, a.error, t.task_key, r.flow_name, r.version_id, "
            "r.created_at AS run_created_at FROM state_events e "
            "JOIN attempts a ON a.id = e.note JOIN task_runs t ON t.id = e.task_run_id "
            "JOIN runs r ON r.id = e.run_id "
            f"WHERE e.id > ? AND e.id <= ?{where.replace('run_id', 'e.run_id')} "
            f"AND e.to_state LIKE ? AND (e.from_state IS NULL OR e.to_state IN ({ends})) "
            "ORDER BY e.id",
            (after_id, upto, *params, ATTEMPT_EVENT + "%", *_ENDS),
        )
        return upto, rows
