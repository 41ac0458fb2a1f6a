"""Partitions in the store: the keys of dynamic sets, and each partition's newest run."""

from __future__ import annotations

from collections.abc import Sequence

from baton.store.base import TxBase
from baton.store.records import BackfillRow, one

_ACTIVE = "('scheduled', 'queued', 'running', 'cancelling')"


# A partition's newest run (`Tx.partition_runs`): (key, run id, state, created_at,
# ended_at). A plain tuple: building 50,000 NamedTuples took longer than reading the rows.
PartitionRun = tuple[str, str, str, float, float | None]


class Partitions(TxBase):
    def add_dynamic_partitions(self, name: str, keys: Sequence[str], now: float) -> list[str]:
        """Add keys to the dynamic set `name`; returns those that were not in it yet."""
        added = []
        for key in dict.fromkeys(keys):
            cur = self._c.execute(
                "INSERT INTO dynamic_partitions (name, key, added_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name, key) DO NOTHING",
                (name, key, now),
            )
            if cur.rowcount == 1:
                added.append(key)
        return added

    def remove_dynamic_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove keys from the dynamic set `name`; returns those that were in it."""
        removed = []
        for key in dict.fromkeys(keys):
            cur = self._c.execute(
                "DELETE FROM dynamic_partitions WHERE name = ? AND key = ?", (name, key)
            )
            if cur.rowcount == 1:
                removed.append(key)
        return removed

    def dynamic_partition_keys(self, name: str) -> list[str]:
        """The set's keys in the order they were added (ties: by key)."""
        rows = self._all(
            "SELECT key FROM dynamic_partitions WHERE name = ? ORDER BY added_at, key", (name,)
        )
        return [str(r["key"]) for r in rows]

    def has_dynamic_partition(self, name: str, key: str) -> bool:
        row = self._one("SELECT 1 FROM dynamic_partitions WHERE name = ? AND key = ?", (name, key))
        return row is not None

    def active_partition_run(self, flow: str, partition: str) -> str | None:
        """The run of `flow` processing `partition` now, if any."""
        row = self._one(
            f"SELECT id FROM runs WHERE flow_name = ? AND partition = ? AND state IN {_ACTIVE}",
            (flow, partition),
        )
        return None if row is None else str(row["id"])

    def partition_runs(self, flow: str) -> dict[str, PartitionRun]:
        """The newest run of each partition of `flow` that has one, by key. Rows come in
        (partition, created_at) order from `ix_runs_flow_partition`, so the last of a key
        wins: a third of a window function's time on SQLite. Read as tuples: 50,000
        sqlite3.Rows cost more than the query."""
        rows = self._tuples(
            "SELECT partition, id, state, created_at, ended_at FROM runs "
            "WHERE flow_name = ? AND partition IS NOT NULL ORDER BY partition, created_at",
            (flow,),
        )
        return {r[0]: r for r in rows}

    def partition_materializations(self, asset: str) -> dict[str | None, float]:
        """When `asset` was last written, per partition key (None: writes without one)."""
        rows = self._tuples(
            "SELECT partition, max(at) FROM asset_materializations WHERE asset = ? "
            "GROUP BY partition",
            (asset,),
        )
        return dict(rows)

    # -- backfills through the API -------------------------------------------------------

    def insert_backfill(self, row: BackfillRow) -> None:
        fields = BackfillRow.__struct_fields__
        self._c.execute(
            f"INSERT INTO backfills ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
            tuple(getattr(row, f) for f in fields),
        )

    def backfill(self, backfill_id: str, *, lock: bool = False) -> BackfillRow | None:
        sql = "SELECT * FROM backfills WHERE id = ?" + (self._d.row_lock if lock else "")
        return one(BackfillRow, self._one(sql, (backfill_id,)))

    def running_backfills(self) -> list[str]:
        rows = self._all("SELECT id FROM backfills WHERE state = 'running' ORDER BY created_at")
        return [str(r["id"]) for r in rows]

    def update_backfill(
        self, backfill_id: str, state: str, next_index: int, progress: str, now: float
    ) -> None:
        self._c.execute(
            "UPDATE backfills SET state = ?, next_index = ?, progress = ?, updated_at = ? "
            "WHERE id = ?",
            (state, next_index, progress, now, backfill_id),
        )
