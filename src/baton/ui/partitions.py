"""The partition strip of the flow and asset pages: every key of a flow (or asset) as one
row of cells coloured by status, aggregated on the server so that 50,000 keys are at most
`MAX_CELLS` cells. A cell of several keys is a stack of its statuses in proportion, where a
failed, running or stale share never takes less than `NOTICED` of it (one failed key in
250 must show); it is named by its worst status (failed first) and zooms into its keys
when clicked. A cell of one key lists its runs."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from baton.execution.partition_views import AssetPartitionView, PartitionView

MAX_CELLS = 200
NOTICED = 0.3  # the least share of a cell a failed, running or stale key takes
LOUD = ("failed", "running", "stale")
WORST = ("failed", "stale", "running", "missing", "succeeded", "materialized")
CSS = {
    "succeeded": "succeeded",
    "materialized": "succeeded",
    "failed": "failed",
    "running": "running",
    "missing": "none",
    "stale": "upstream_failed",
}


def strip(
    views: Sequence[PartitionView | AssetPartitionView],
    *,
    flow: str,
    selected: str,
    zoom: Callable[[str, str], str],
) -> dict[str, Any]:
    """The cells for `views`, narrowed to `selected` (`FIRST..LAST`, as a zoomed cell links;
    the whole when it names no keys of them). `zoom(first, last)` is a cell's link."""
    shown, zoomed = _narrowed(views, selected)
    size = max(1, math.ceil(len(shown) / MAX_CELLS))
    cells = []
    for start in range(0, len(shown), size):
        chunk = shown[start : start + size]
        found = Counter(v.status for v in chunk)
        status = next(s for s in WORST if s in found)
        first, last = chunk[0].key, chunk[-1].key
        counts = ", ".join(f"{found[s]} {s}" for s in WORST if s in found)
        if len(chunk) == 1:
            title = f"{first}: {status}"
            href = f"/runs?flow={quote(flow)}&partition={quote(first)}"
        else:
            title = f"{first} … {last}: {counts}"
            href = zoom(first, last)
        cells.append(
            {
                "status": status,
                "css": CSS[status],
                "title": title,
                "href": href,
                "stack": _stack(found, len(chunk)),
            }
        )
    totals = Counter(v.status for v in shown)
    return {
        "cells": cells,
        "per_cell": size,
        "first": shown[0].key if shown else None,
        "last": shown[-1].key if shown else None,
        "shown": len(shown),
        "total": len(views),
        "zoomed": zoomed,
        "counts": [(s, totals[s], CSS[s]) for s in WORST if totals[s]],
    }


def _narrowed(
    views: Sequence[PartitionView | AssetPartitionView], selected: str
) -> tuple[Sequence[PartitionView | AssetPartitionView], bool]:
    first, dots, last = selected.partition("..")
    if not dots:
        return views, False
    at = {v.key: i for i, v in enumerate(views)}
    if first not in at or last not in at or at[first] > at[last]:
        return views, False
    return views[at[first] : at[last] + 1], True


def _stack(found: Counter[str], n: int) -> list[tuple[str, int]]:
    """A cell's statuses as (css class, percent of its height), loud ones first (bottom)."""
    share = {s: found[s] / n for s in WORST if found[s]}
    loud = {s: max(v, NOTICED) for s, v in share.items() if s in LOUD}
    quiet = {s: v for s, v in share.items() if s not in LOUD}
    room = max(0.0, 1.0 - sum(loud.values()))
    scale = room / sum(quiet.values()) if quiet else 0.0
    parts = {**loud, **{s: v * scale for s, v in quiet.items()}}
    total = sum(parts.values())
    return [(CSS[s], round(100 * v / total)) for s, v in parts.items()]
