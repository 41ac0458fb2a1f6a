"""Partition routes: a flow's (and an asset's) partition keys with their status (cursor
pages, filtered by status), backfills of them (operator), and the keys of dynamic partition
sets (read; add and remove: operator)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from baton.api.common import (
    MAX_PAGE_LIMIT,
    PAGE_LIMIT,
    decode_cursor,
    encode_cursor,
    invalid,
    out_model,
)
from baton.api.deps import API, Operator, StoreDep, Viewer, audited_router
from baton.engine import partitions as engine_partitions
from baton.engine.service import Engine
from baton.errors import InputError, NotFoundError
from baton.execution import partition_views
from baton.execution.partition_views import ASSET_STATUSES, STATUSES
from baton.model.assets import MAX_NAME, is_name
from baton.model.partitions import MAX_KEY
from baton.scheduling import partition_backfills
from baton.scheduling.partition_backfills import BackfillView
from baton.store.store import Store

router = audited_router(prefix=API, tags=["partitions"])

MAX_SELECTION = 10_000  # characters of a key selection: ranges keep it short
MAX_PARALLEL = 100
# Partition pages may be long: each page computes every key's status (50,000 in ~70 ms),
# so few big pages cost a client far less than many small ones.
MAX_PARTITION_PAGE = 10_000

Status = Annotated[
    list[str] | None,
    Query(max_length=len(STATUSES), description=f"only keys in these: {', '.join(STATUSES)}"),
]
AssetStatus = Annotated[
    list[str] | None,
    Query(max_length=len(ASSET_STATUSES), description=f"only: {', '.join(ASSET_STATUSES)}"),
]
SetName = Annotated[str, Path(max_length=MAX_NAME, description="a dynamic partition set")]


class PartitionOut(BaseModel):
    key: str
    status: str = Field(description=", ".join(STATUSES))
    run_id: str | None = Field(description="the key's newest run")
    updated_at: str | None


class PartitionPage(BaseModel):
    flow: str
    type: str = Field(description="hourly, daily, weekly, monthly, static or dynamic")
    total: int = Field(description="keys in all (before the status filter)")
    counts: dict[str, int] = Field(description="keys by status, over all keys")
    items: list[PartitionOut]
    next_cursor: str | None


class AssetPartitionOut(BaseModel):
    key: str
    status: str = Field(description=", ".join(ASSET_STATUSES))
    materialized_at: str | None = Field(description="its last write")
    run_id: str | None = Field(description="the key's newest run of the writing flow")


class AssetPartitionPage(BaseModel):
    asset: str
    flow: str = Field(description="the deployed flow writing it, whose partitions it shares")
    type: str
    total: int
    counts: dict[str, int]
    items: list[AssetPartitionOut]
    next_cursor: str | None


class BackfillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partitions: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SELECTION,
        description="keys and inclusive ranges: 2024-01-01..2024-01-31, eu,us; every key"
        " when absent (with missing or failed)",
    )
    missing: bool = Field(default=False, description="only keys that never ran")
    failed: bool = Field(default=False, description="only keys whose newest run failed")
    max_parallel: int = Field(default=1, ge=1, le=MAX_PARALLEL, description="active runs at once")


BackfillOut = out_model(BackfillView, name="Backfill")


class KeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[Annotated[str, Field(max_length=MAX_KEY)]] = Field(
        min_length=1, max_length=engine_partitions.MAX_ADD
    )


class KeysPage(BaseModel):
    name: str
    items: list[str]
    next_cursor: str | None


class KeysChanged(BaseModel):
    name: str
    keys: list[str] = Field(description="those that were added (or removed): new ones only")


@router.get("/flows/{name:path}/partitions", name="flows.partitions", response_model=PartitionPage)
def flow_partitions(
    name: str,
    store: StoreDep,
    _: Viewer,
    status: Status = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PARTITION_PAGE)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """The flow's partition keys, oldest first, each with the status of its newest run;
    `status` keeps some; `cursor` (a page's `next_cursor`) pages on."""
    read = store.read()
    flow = read.flow(name)
    if flow is None:
        raise NotFoundError(f"no flow '{name}'; GET /api/v1/flows lists the flows")
    spec = read.load_version(flow.latest_version)
    if spec.partitions is None:
        raise NotFoundError(f"flow '{name}' has no partitions")
    views = partition_views.flow_partitions(read, spec, time.time())
    try:
        kept = partition_views.chosen(views, status)
    except InputError as exc:
        raise invalid((("query", "status"), str(exc), "value_error")) from None
    start = _after(cursor, [v.key for v in kept])
    page = kept[start : start + limit]
    more = start + limit < len(kept)
    return partition_views.flow_page(
        spec, views, page, encode_cursor(page[-1].key) if more else None
    )


@router.get(
    "/assets/{name}/partitions", name="assets.partitions", response_model=AssetPartitionPage
)
def asset_partitions(
    name: Annotated[str, Path(max_length=MAX_NAME, description="an asset name")],
    store: StoreDep,
    _: Viewer,
    status: AssetStatus = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PARTITION_PAGE)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """The asset's partition keys (those of the deployed flow writing it), oldest first,
    each with its status: materialized, failed, missing or stale."""
    if not is_name(name):
        raise invalid((("path", "name"), "not an asset name", "value_error"))
    try:
        spec, views = partition_views.asset_partitions(store.read(), name, time.time())
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    try:
        kept = partition_views.chosen(views, status, ASSET_STATUSES)
    except InputError as exc:
        raise invalid((("query", "status"), str(exc), "value_error")) from None
    start = _after(cursor, [v.key for v in kept])
    page = kept[start : start + limit]
    more = start + limit < len(kept)
    cursor_out = encode_cursor(page[-1].key) if more else None
    return partition_views.asset_page(name, spec, views, page, cursor_out)


@router.post(
    "/flows/{name:path}/backfills",
    name="flows.backfill",
    status_code=201,
    response_model=BackfillOut,
)
def start_backfill(
    name: str, body: BackfillIn, store: StoreDep, caller: Operator
) -> dict[str, Any]:
    """Backfill partitions of a deployed flow: one run per key selected (every key, or the
    missing and/or failed ones), at most `max_parallel` active at once, made by the
    server's timers in key order; a key with a run going is skipped."""
    if body.partitions is None and not (body.missing or body.failed):
        msg = "give the keys to backfill, or missing and/or failed to pick them by status"
        raise invalid((("body", "partitions"), msg, "missing"))
    statuses = [s for s in ("missing", "failed") if getattr(body, s)]
    try:
        view = partition_backfills.start(
            Engine(store),
            name,
            body.partitions,
            statuses=statuses,
            max_parallel=body.max_parallel,
            user=caller.user,
            now=time.time(),
        )
    except InputError as exc:
        raise invalid((("body", "partitions"), str(exc), "value_error")) from None
    return view.to_json()


@router.get("/backfills/{backfill_id}", name="backfills.get", response_model=BackfillOut)
def get_backfill(
    backfill_id: Annotated[str, Path(max_length=32)], store: StoreDep, _: Viewer
) -> dict[str, Any]:
    """A backfill of partitions: the keys it runs, the runs made so far, what it skipped."""
    row = store.read().backfill(backfill_id)
    if row is None:
        raise NotFoundError(f"no backfill '{backfill_id}'")
    return BackfillView.of(row).to_json()


@router.post("/backfills/{backfill_id}/cancel", name="backfills.cancel", response_model=BackfillOut)
def cancel_backfill(
    backfill_id: Annotated[str, Path(max_length=32)], store: StoreDep, _: Operator
) -> dict[str, Any]:
    """Stop a backfill making runs; the runs it made go on (cancel them as runs)."""
    view = partition_backfills.cancel(Engine(store), backfill_id)
    if view is None:
        raise NotFoundError(f"no backfill '{backfill_id}'")
    return view.to_json()


@router.get("/partitions/{name}", name="partitions.keys", response_model=KeysPage)
def keys(
    name: SetName,
    store: StoreDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """The keys of a dynamic partition set, in the order they were added."""
    found = store.read().dynamic_partition_keys(_named(name))
    start = _after(cursor, found)
    page = found[start : start + limit]
    more = start + limit < len(found)
    return {"name": name, "items": page, "next_cursor": encode_cursor(page[-1]) if more else None}


@router.post("/partitions/{name}", name="partitions.add", response_model=KeysChanged)
def add(name: SetName, body: KeysIn, store: StoreDep, _: Operator) -> dict[str, Any]:
    """Add keys to a dynamic partition set (made on its first key); answers the new ones."""
    return {"name": name, "keys": _checked(store, name, body.keys, add=True)}


@router.delete("/partitions/{name}", name="partitions.remove", response_model=KeysChanged)
def remove(
    name: SetName,
    store: StoreDep,
    _: Operator,
    key: Annotated[list[str], Query(min_length=1, max_length=MAX_PAGE_LIMIT)],
) -> dict[str, Any]:
    """Remove keys (`?key=a&key=b`) from a dynamic set; their runs stay, as history."""
    return {"name": name, "keys": _checked(store, name, key, add=False)}


def _checked(store: Store, name: str, keys: list[str], *, add: bool) -> list[str]:
    _named(name)
    try:
        if add:
            return engine_partitions.add(store, name, keys, time.time())
        return engine_partitions.remove(store, name, keys)
    except InputError as exc:
        where = ("body", "keys") if add else ("query", "key")
        raise invalid((where, str(exc), "value_error")) from None


def _named(name: str) -> str:
    if not is_name(name):
        msg = "not a name of dynamic partitions: letters, digits, '_' or '-' in dotted segments"
        raise invalid((("path", "name"), msg, "value_error"))
    return name


def _after(cursor: str | None, keys: Sequence[str]) -> int:
    """Where a page starts: after the key `cursor` names (the start without one). A key
    removed since (a dynamic one) cannot say where the next page starts: a 422, not a
    listing that silently ends early."""
    if not cursor:
        return 0
    (last,) = decode_cursor(cursor, str)
    for i, key in enumerate(keys):
        if key == last:
            return i + 1
    msg = f"the cursor's key {last!r} is gone (removed meanwhile): list again from the start"
    raise invalid((("query", "cursor"), msg, "value_error"))
