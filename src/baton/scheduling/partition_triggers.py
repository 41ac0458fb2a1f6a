"""Which partitions of a downstream flow an upstream asset's write starts (asset triggers on
a partitioned flow).

- The same key when both are partitioned alike (static and dynamic keys map by identity; so
  do time partitions of one type and zone), or when the write came from outside baton with
  a key of the downstream's.
- Time partitions of another type or zone (Dagster's time-window mapping): each downstream
  key overlapping the written one, once every upstream key it reads has been written (a
  day of hours runs when its last hour lands, on a DST day its 23rd or 25th).
- A write without a partition: one run of the downstream's default key (the one that
  closed last; a static or dynamic flow has none, so such a write starts nothing).
"""

from __future__ import annotations

from baton.engine.service import Engine
from baton.model import partitions
from baton.model.partitions import TIME_TYPES, PartitionsSpec
from baton.store.records import MaterializationRow


def keys_for(engine: Engine, down: PartitionsSpec, write: MaterializationRow) -> list[str | None]:
    """The downstream keys `write` starts a run of (None: the default key), oldest first."""
    if write.partition is None:
        return [None] if down.type in TIME_TYPES else []
    up = _writer_partitions(engine, write.flow_name)
    if up is None or up == down or (up.type not in TIME_TYPES and down.type not in TIME_TYPES):
        return [write.partition] if partitions.is_key(down, write.partition) else []
    if partitions.mapping_problem(down, up) or not partitions.is_key(up, write.partition):
        return []
    written = engine.store.read().partition_materializations(write.asset)
    return [
        key
        for key in partitions.downstream_of(down, up, write.partition)
        if all(k in written for k in partitions.covering(down, up, key))
    ]


def _writer_partitions(engine: Engine, flow: str | None) -> PartitionsSpec | None:
    row = engine.store.read().flow(flow) if flow else None
    return None if row is None else engine.compiled(row.latest_version).spec.partitions
