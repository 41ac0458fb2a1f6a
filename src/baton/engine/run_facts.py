"""What the engine keeps of a run once it exists: none of it ever changes, so it is read
from the store once and cached (`Engine.run_info`, `Engine.run_meta`)."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from baton.store.records import RunRow


class RunMeta(NamedTuple):
    """What a run's tasks are told about why and for when it runs, and how it caches."""

    logical_date: float | None
    data_interval_start: float | None
    data_interval_end: float | None
    trigger_info: dict[str, Any] | None
    refresh_cache: bool = False  # its caching tasks recompute and replace their entries
    partition: str | None = None  # the partition key it processes (part of a default cache key)


class RunFacts(NamedTuple):
    version_id: str
    params: dict[str, Any]
    meta: RunMeta


def of_row(row: RunRow) -> RunFacts:
    meta = RunMeta(
        row.logical_date,
        row.data_interval_start,
        row.data_interval_end,
        json.loads(row.trigger_info) if row.trigger_info else None,
        bool(row.refresh_cache),
        row.partition,
    )
    return RunFacts(row.version_id, json.loads(row.params), meta)
