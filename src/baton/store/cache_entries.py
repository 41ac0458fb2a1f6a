"""Cache entries: task results kept for reuse under a key (`execution.cache_keys`).

One result per key. A task run that computed a result writes it in the transaction that
records its success: the first writer of a key wins and a later one leaves it as it is, so
two runs computing one key at once both finish and the entry holds one of their results,
never two; a refresh (`--refresh-cache`) replaces it. Entries are read on the worker that is
about to run the task, by key, on the primary key: one query for every task it probes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baton.store.base import TxBase
from baton.store.records import CacheEntryRow, many

_IN_MAX = 500  # keys in one IN (...) list
_COLUMNS = (
    "key, flow_name, task_key, run_id, task_run_id, attempt, result, result_ref, result_len, "
    "created_at, expires_at"
)


class CacheEntries(TxBase):
    def cache_hits(self, keys: Sequence[str], now: float) -> dict[str, CacheEntryRow]:
        """The entries of these keys that have not expired at `now`, by key."""
        found: dict[str, CacheEntryRow] = {}
        unique = sorted(set(keys))
        for i in range(0, len(unique), _IN_MAX):
            part = unique[i : i + _IN_MAX]
            rows = self._all(
                f"SELECT * FROM cache_entries WHERE key IN ({','.join('?' * len(part))}) "
                "AND (expires_at IS NULL OR expires_at > ?)",
                [*part, now],
            )
            found.update((r.key, r) for r in many(CacheEntryRow, rows))
        return found

    def put_cache_entries(self, entries: Sequence[CacheEntryRow], *, replace: bool) -> None:
        """Store computed results: a key already held is kept unless its entry expired, or
        with `replace` (a refresh) overwritten."""
        if not entries:
            return
        names = [n.strip() for n in _COLUMNS.split(",")]
        update = ", ".join(f"{n} = excluded.{n}" for n in names if n != "key")
        conflict = f"DO UPDATE SET {update}"
        if not replace:
            conflict += (
                " WHERE cache_entries.expires_at IS NOT NULL"
                " AND cache_entries.expires_at <= excluded.created_at"
            )
        self._c.executemany(
            f"INSERT INTO cache_entries ({_COLUMNS}) VALUES "
            f"({', '.join(':' + n for n in names)}) ON CONFLICT (key) {conflict}",
            [{n: getattr(e, n) for n in names} for e in entries],
        )

    def cache_entries(
        self,
        *,
        flow: str | None = None,
        task: str | None = None,
        limit: int = 1000,
        after: tuple[float, str] | None = None,
    ) -> list[CacheEntryRow]:
        """Entries, newest first, of a flow (and task) if given; `after` is the
        (created_at, key) of the last entry of the page before."""
        where, params = self._cache_filter(flow, task, None)
        if after is not None:
            where.append("(created_at < ? OR (created_at = ? AND key < ?))")
            params += [after[0], after[0], after[1]]
        sql = "SELECT * FROM cache_entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, key DESC LIMIT ?"
        return many(CacheEntryRow, self._all(sql, [*params, limit]))

    def clear_cache(
        self, *, flow: str | None = None, task: str | None = None, before: float | None = None
    ) -> int:
        """Delete the entries of a flow (and task), created before `before`, if given; how
        many went."""
        where, params = self._cache_filter(flow, task, before)
        sql = "DELETE FROM cache_entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return int(self._c.execute(sql, params).rowcount)

    def prune_expired_cache(self, now: float, *, dry_run: bool = False) -> int:
        """Delete the entries whose ttl ran out by `now` (dry: count them); how many."""
        where = "FROM cache_entries WHERE expires_at IS NOT NULL AND expires_at <= ?"
        if dry_run:
            row = self._one(f"SELECT count(*) AS n {where}", (now,))
            return int(row["n"]) if row else 0
        return int(self._c.execute(f"DELETE {where}", (now,)).rowcount)

    @staticmethod
    def _cache_filter(
        flow: str | None, task: str | None, before: float | None
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for condition, value in (
            ("flow_name = ?", flow),
            ("task_key = ?", task),
            ("created_at < ?", before),
        ):
            if value is not None:
                where.append(condition)
                params.append(value)
        return where, params
