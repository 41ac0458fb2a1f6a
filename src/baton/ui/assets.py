"""The assets pages: the catalog (search, tag and freshness filters, cursor pages), an
asset's page (its materializations over time, numeric metadata charted, checks and their
history, producers and consumers, freshness) and the lineage graph around an asset.

Everything shown comes from the read model the CLI and the API show (`asset_views`).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.errors import InputError
from baton.execution import asset_views, partition_views
from baton.store.store import Tx
from baton.ui import charts, partitions, web
from baton.ui import lineage as lineage_drawing
from baton.ui.web import Viewer

router = APIRouter(include_in_schema=False)
ASSETS_PAGE = 50
HISTORY_PAGE = 50  # materializations in the table, and check results
PLOTTED = 200  # materializations whose numeric metadata is charted
FIELD_MAX = 200  # characters of a search or a tag looked up
NAME_MAX = 1000  # an asset name longer than this is not one
STALE = {"": None, "stale": True, "fresh": False}
DEFAULT_DEPTH = 3


@router.get("/assets", response_class=HTMLResponse)
def assets(
    request: Request,
    principal: Viewer,
    q: str = "",
    tag: str = "",
    show: str = "",
    after: str | None = None,
) -> HTMLResponse:
    q, tag = q.strip()[:FIELD_MAX], tag.strip()[:FIELD_MAX]
    show = show if show in STALE else ""
    after = after[:NAME_MAX] if after else None
    with web.reading(request) as read:
        rows = asset_views.asset_list(
            read,
            q=q or None,
            tag=tag or None,
            stale=STALE[show],
            after=after,
            limit=ASSETS_PAGE + 1,
        )
    shown = rows[:ASSETS_PAGE]
    return web.page(
        request,
        "assets.html",
        title="Assets",
        nav="assets",
        assets=[{**a.to_json(), "check_state": _checks_state(a)} for a in shown],
        q=q,
        tag=tag,
        show=show,
        next_after=shown[-1].name if len(rows) > ASSETS_PAGE else None,
        first_page=after is None,
    )


@router.get("/assets/{name:path}", response_class=HTMLResponse)
def asset(
    request: Request,
    name: str,
    principal: Viewer,
    before: str = "",
    checks_before: str = "",
    parts: str = "",
) -> HTMLResponse:
    secrets = web.ui_of(request).secrets
    before_id = _cursor(before)
    checks_id = _cursor(checks_before)
    with web.reading(request) as read:
        found = asset_views.asset_show(read, name, time.time()) if len(name) <= NAME_MAX else None
        if found is None:
            return _no_asset(request, name)
        plotted = asset_views.asset_history(read, name, limit=PLOTTED)
        history = (
            plotted[: HISTORY_PAGE + 1]
            if before_id is None
            else asset_views.asset_history(read, name, before_id=before_id, limit=HISTORY_PAGE + 1)
        )
        results = asset_views.check_history(read, name, before_id=checks_id, limit=HISTORY_PAGE + 1)
        part_strip = _partition_strip(read, name, parts)
    detail = secrets.mask_json(found.to_json())
    shown = [secrets.mask_json(m.to_json()) for m in history[:HISTORY_PAGE]]
    return web.page(
        request,
        "asset.html",
        title=name,
        nav="assets",
        asset=detail,
        history=shown,
        timeline=charts.timeline(shown),
        plots=charts.plots([m.to_json() for m in plotted]),
        plotted=len(plotted),
        older=history[HISTORY_PAGE - 1].id if len(history) > HISTORY_PAGE else None,
        before=before_id,
        results=[secrets.mask_json(c.to_json()) for c in results[:HISTORY_PAGE]],
        older_checks=results[HISTORY_PAGE - 1].id if len(results) > HISTORY_PAGE else None,
        checks_before=checks_id,
        check_state=_detail_checks_state(detail["checks"]),
        policy=_policy_text(found.freshness_policy),
        part_strip=part_strip,
    )


def _partition_strip(read: Tx, name: str, parts: str) -> dict[str, Any] | None:
    """The asset's partitions (those of the deployed flow writing it), if it has any."""
    try:
        spec, keys = partition_views.asset_partitions(read, name, time.time())
    except InputError:  # not written by a partitioned deployed flow
        return None
    page = f"/assets/{quote(name, safe='')}"
    return {
        **partitions.strip(
            keys,
            flow=spec.name,
            selected=parts[:1000],
            zoom=lambda a, b: f"{page}?parts={quote(a)}..{quote(b)}#partitions",
        ),
        "flow": spec.name,
        "type": spec.partitions.type if spec.partitions else None,
        "base": page,
    }


@router.get("/lineage", response_class=HTMLResponse)
def lineage(
    request: Request,
    principal: Viewer,
    asset: str = "",
    upstream: str = str(DEFAULT_DEPTH),
    downstream: str = str(DEFAULT_DEPTH),
) -> HTMLResponse:
    depths = {}
    for field, text in (("upstream", upstream), ("downstream", downstream)):
        depth = _depth(text)
        if depth is None:
            return web.page(
                request,
                "error.html",
                status_code=422,
                title="Bad lineage depth",
                message=f"{field} must be a whole number of asset hops from 0 to "
                f"{asset_views.MAX_DEPTH}; got “{text[:40]}”.",
            )
        depths[field] = depth
    asset = asset.strip()
    graph = None
    if asset:
        with web.reading(request) as read:
            if len(asset) <= NAME_MAX:
                graph = asset_views.lineage(read, asset, **depths)
        if graph is None:
            return _no_asset(request, asset)
    return web.page(
        request,
        "lineage.html",
        title=f"Lineage of {asset}" if asset else "Lineage",
        nav="assets",
        asset=asset,
        depths=depths,
        max_depth=asset_views.MAX_DEPTH,
        truncated=bool(graph and graph.truncated),
        drawing=lineage_drawing.drawing(graph.to_json(), asset) if graph else None,
    )


def _no_asset(request: Request, name: str) -> HTMLResponse:
    return web.page(
        request,
        "error.html",
        status_code=404,
        title="Asset not found",
        message=f"There is no asset named “{name[:200]}”: no deployed flow declares, writes "
        "or reads it, and nothing has reported it. Find assets on the Assets page.",
        back=("/assets", "Go to the assets"),
    )


def _depth(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 3:
        return None
    n = int(text)
    return n if n <= asset_views.MAX_DEPTH else None


def _cursor(text: str) -> int | None:
    """An id cursor from the query string; anything else (a hand-edited URL): the start."""
    return int(text) if text.isdigit() and len(text) < 19 else None


def _policy_text(policy: dict[str, Any] | None) -> str:
    """A freshness policy as written: `max lag 6h`, or `cron 0 7 * * * (Europe/Paris) + 1h`."""
    if not policy:
        return ""
    lag = policy.get("max_lag")
    lag_text = _lag(float(lag)) if isinstance(lag, int | float) else ""
    if policy.get("cron"):
        tz = policy.get("timezone") or "UTC"
        return f"cron {policy['cron']} ({tz})" + (f" + {lag_text} grace" if lag_text else "")
    return f"max lag {lag_text}" if lag_text else ""


def _lag(seconds: float) -> str:
    """Seconds as the YAML writes durations: the largest unit that divides them."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _checks_state(a: asset_views.AssetSummary) -> str:
    """As `_detail_checks_state`: declared checks none of which has run yet are `none`."""
    if not a.checks or not a.checks_run:
        return "none"
    return "failing" if a.checks_failing else "passing"


def _detail_checks_state(checks: list[dict[str, Any]]) -> str:
    """passing (every check's latest result passed), failing (one failed), none (no checks,
    or none run yet)."""
    lasts = [c["last"] for c in checks if c.get("last")]
    if not lasts:
        return "none"
    return "failing" if any(not x["passed"] for x in lasts) else "passing"
