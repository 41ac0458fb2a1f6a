"""Asset routes: the catalog (filters, cursor pages), one asset, its materializations and
check results (cursor pages), lineage across deployed flows, and reporting a write made
outside baton (operator; it fires asset triggers like any other write).

Answers are `execution.asset_views`' JSON, secrets masked; their schemas are made from the
views (`out_model`), so the OpenAPI document shows what the CLI prints.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, create_model

from baton.api.common import (
    MAX_PAGE_LIMIT,
    PAGE_LIMIT,
    SecretsDep,
    decode_cursor,
    encode_cursor,
    invalid,
    out_model,
)
from baton.api.deps import API, Operator, StoreDep, Viewer, audited_router
from baton.errors import NotFoundError
from baton.execution import asset_views
from baton.execution.asset_views import (
    AssetDetail,
    AssetSummary,
    CheckResultView,
    Lineage,
    LineageNode,
    MaterializationView,
)
from baton.execution.secrets import Secrets
from baton.model.assets import MAX_NAME, NAME_RULE, is_name
from baton.store.store import Tx

router = audited_router(prefix=API, tags=["assets"])

AssetOut = out_model(AssetSummary, name="AssetSummary")
AssetDetailOut = out_model(AssetDetail, name="AssetDetail")
MaterializationOut = out_model(MaterializationView)
CheckResultOut = out_model(CheckResultView)
LineageNodeOut = out_model(LineageNode)
# `from` is a Python keyword: the model reads and shows the field by its alias.
LineageEdgeOut = create_model(
    "LineageEdgeOut",
    __config__=ConfigDict(populate_by_name=True, serialize_by_alias=True),
    from_=(str, Field(alias="from", description="a node id")),
    to=(str, Field(description="a node id")),
)
LineageOut = out_model(
    Lineage,
    drop=("nodes", "edges"),
    nodes=(list[LineageNodeOut], ...),  # type: ignore[valid-type]
    edges=(list[LineageEdgeOut], ...),  # type: ignore[valid-type]
)


class AssetPage(BaseModel):
    items: list[AssetOut]  # type: ignore[valid-type]
    next_cursor: str | None


class MaterializationPage(BaseModel):
    items: list[MaterializationOut]  # type: ignore[valid-type]
    next_cursor: str | None


class CheckResultPage(BaseModel):
    items: list[CheckResultOut]  # type: ignore[valid-type]
    next_cursor: str | None


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, Any] = Field(
        default={}, description="JSON values (row counts, paths...); secrets are masked"
    )
    partition: str | None = Field(default=None, min_length=1, max_length=asset_views.MAX_TEXT)
    data_version: str | None = Field(default=None, min_length=1, max_length=asset_views.MAX_TEXT)


AssetName = Annotated[str, Path(max_length=MAX_NAME, description="an asset name")]
Depth = Annotated[int, Query(ge=0, le=asset_views.MAX_DEPTH, description="asset hops")]


@router.get("/assets", name="assets.list", response_model=AssetPage)
def assets(
    store: StoreDep,
    secrets: SecretsDep,
    _: Viewer,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    stale: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="in names or descriptions")] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The catalog by name, with freshness and failing checks; `stale=true` only the assets
    the scheduler last found stale, `false` the others; `cursor` (a page's `next_cursor`)
    pages on."""
    after = decode_cursor(cursor, str)[0] if cursor else None
    items = asset_views.asset_list(
        store.read(), tag=tag, stale=stale, q=q, owner=owner, after=after, limit=limit + 1
    )
    more = len(items) > limit
    return {
        "items": secrets.mask_json([a.to_json() for a in items[:limit]]),
        "next_cursor": encode_cursor(items[limit - 1].name) if more else None,
    }


@router.get("/assets/{name}", name="assets.get", response_model=AssetDetailOut)
def get(name: AssetName, store: StoreDep, secrets: SecretsDep, _: Viewer) -> dict[str, Any]:
    """An asset: who writes and reads it, its last write, freshness and checks."""
    found = asset_views.asset_show(store.read(), _named(name), time.time())
    if found is None:
        raise _unknown(name)
    data: dict[str, Any] = secrets.mask_json(found.to_json())
    return data


@router.get(
    "/assets/{name}/materializations",
    name="assets.materializations",
    response_model=MaterializationPage,
)
def materializations(
    name: AssetName,
    store: StoreDep,
    secrets: SecretsDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """An asset's writes, newest first; `cursor` pages back."""
    read = _known(store.read(), name)
    before = _before(cursor)
    items = asset_views.asset_history(read, name, before_id=before, limit=limit + 1)
    return _page(items, limit, secrets)


@router.get("/assets/{name}/checks", name="assets.checks", response_model=CheckResultPage)
def checks(
    name: AssetName,
    store: StoreDep,
    secrets: SecretsDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The results of an asset's checks, newest first; `cursor` pages back."""
    read = _known(store.read(), name)
    before = _before(cursor)
    items = asset_views.check_history(read, name, before_id=before, limit=limit + 1)
    return _page(items, limit, secrets)


@router.post(
    "/assets/{name}/materializations",
    name="assets.report",
    status_code=201,
    response_model=MaterializationOut,
)
def report(
    name: AssetName,
    body: ReportIn,
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    principal: Operator,
) -> dict[str, Any]:
    """Record a write of an asset made outside baton (dbt, Spark, a vendor): it fires the
    asset triggers waiting for it, as a task's write does. The asset must be known: declared
    under a deployed flow's `assets:`, or written or read by a deployed task."""
    _named(name)
    with store.transaction() as tx:
        m = asset_views.report(
            tx,
            name,
            body.metadata,
            partition=body.partition,
            data_version=body.data_version,
            reported_by=principal.user,
            mask=secrets.mask_json,
            now=time.time(),
        )
    data: dict[str, Any] = secrets.mask_json(m.to_json())
    return data


def _page(items: Sequence[Any], limit: int, secrets: Secrets) -> dict[str, Any]:
    """A page of `limit` of `items` (fetched one more, to know whether another page
    follows), secrets masked; the cursor is the last one's id."""
    more = len(items) > limit
    return {
        "items": secrets.mask_json([i.to_json() for i in items[:limit]]),
        "next_cursor": encode_cursor(items[limit - 1].id) if more else None,
    }


@router.get("/lineage", name="lineage.get", response_model=LineageOut)
def lineage(
    store: StoreDep,
    _: Viewer,
    asset: Annotated[str, Query(max_length=MAX_NAME, description="the asset to start from")],
    upstream: Depth = 3,
    downstream: Depth = 3,
) -> dict[str, Any]:
    """The assets `upstream` asset hops above `asset` and `downstream` below it, with the
    deployed tasks between them, across flows. Node ids: an asset's name, `task:FLOW/TASK`
    for a task; edges go task -> asset for a write, asset -> task for a read."""
    if not is_name(asset):
        raise invalid((("query", "asset"), f"not an asset name: use {NAME_RULE}", "value_error"))
    g = asset_views.lineage(store.read(), asset, upstream=upstream, downstream=downstream)
    if g is None:
        raise _unknown(asset)
    return g.to_json()


def _named(name: str) -> str:
    if not is_name(name):
        raise invalid((("path", "name"), f"not an asset name: use {NAME_RULE}", "value_error"))
    return name


def _known(read: Tx, name: str) -> Tx:
    if read.asset(_named(name)) is None and not read.asset_links([name]):
        raise _unknown(name)
    return read


def _unknown(name: str) -> NotFoundError:
    return NotFoundError(f"no asset '{name}': GET /api/v1/assets lists the catalog")


def _before(cursor: str | None) -> int | None:
    if not cursor:
        return None
    (before,) = decode_cursor(cursor, int)
    return int(before)
