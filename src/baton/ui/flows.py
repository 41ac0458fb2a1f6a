"""The flows page (every flow, searchable) and a flow's page (graph, partitions, runs grid,
trigger form, versions)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from baton.errors import InputError, NotFoundError
from baton.execution import partition_views
from baton.execution.secrets import Secrets
from baton.model import json_text, labels, triggers
from baton.model.graph import validate
from baton.model.spec import FlowSpec
from baton.store.records import RunRow
from baton.store.store import Row, Tx
from baton.ui import dag, diff, partitions, views, web
from baton.ui.web import Viewer

router = APIRouter(include_in_schema=False)
FLOWS_PAGE = 50
STRIP = 20  # runs in a flow's strip on the flows page
GRID_RUNS = 25  # runs (columns) in a flow's runs grid, unless the page asks for more
GRID_CHOICES = (25, 50, 100)
GRID_TASKS = 60  # tasks (rows) per page of the grid
FILTERS = {"all": None, "active": False, "paused": True}


@router.get("/flows", response_class=HTMLResponse)
def flows(
    request: Request,
    principal: Viewer,
    q: str = "",
    show: str = "all",
    after: str | None = None,
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    owner: str = "",
) -> HTMLResponse:
    q = q.strip()[:200]
    show = show if show in FILTERS else "all"
    # Odd values match no flow: no error page for a hand-edited URL.
    tags = list(dict.fromkeys(t.strip()[: labels.MAX_TAG_LENGTH] for t in tag if t.strip()))
    tags, owner = tags[: labels.MAX_TAGS], owner.strip()[: labels.MAX_OWNER_LENGTH]
    with web.reading(request) as read:
        rows = read.flow_rows(
            search=q or None,
            paused=FILTERS[show],
            after=after,
            limit=FLOWS_PAGE + 1,
            visible=principal.access.visibility(),
            tags=tags,
            owner=owner or None,
        )
        shown = rows[:FLOWS_PAGE]
        recent: dict[str, list[Row]] = {}
        for r in read.recent_runs([f.name for f in shown], STRIP):
            recent.setdefault(r["flow_name"], []).append(r)
    items = []
    for f in shown:
        spec = FlowSpec.from_json(f.spec)
        runs = recent.get(f.name, [])
        items.append(
            {
                "name": f.name,
                "description": spec.description,
                "tags": [{"name": t, "on": t in tags} for t in spec.tags],
                "owner": spec.owner,
                "schedule": views.schedule_text(spec.schedule),
                "triggers": [triggers.kind_of(t) for t in spec.triggers],
                "next_run_at": views.next_run_at(spec, f),
                "schedule_zone": views.schedule_zone(spec.schedule),
                "paused": bool(f.paused),
                "deployed": bool(f.deployed),
                "tasks": len(spec.tasks),
                "strip": list(reversed(runs)),  # oldest first, like a timeline
                "last": runs[0] if runs else None,
                "may_operate": principal.may_on(f.name, "operator"),
            }
        )
    return web.page(
        request,
        "flows.html",
        title="Flows",
        nav="flows",
        flows=items,
        q=q,
        show=show,
        tags=tags,
        owner=owner,
        labels_query=_labels_query(tags, owner),
        next_after=shown[-1].name if len(rows) > FLOWS_PAGE else None,
        first_page=after is None,
        strip_size=STRIP,
    )


def _labels_query(tags: list[str], owner: str) -> str:
    """The tag and owner filters as a query string, for links that keep them (`&`-led)."""
    pairs = [("tag", t) for t in tags] + ([("owner", owner)] if owner else [])
    return "&" + urlencode(pairs) if pairs else ""


@router.get("/flows/{name:path}", response_class=HTMLResponse)
def flow(
    request: Request,
    name: str,
    principal: Viewer,
    run: str | None = None,
    version: str | None = None,
    before: str | None = None,
    rows: str = "",
    parts: str = "",
    unfold: str = "",
    rerun: str = "",
    cols: str = "",
) -> HTMLResponse:
    ui = web.ui_of(request)
    width = next((n for n in GRID_CHOICES if cols == str(n)), GRID_RUNS)
    with web.reading(request) as read:
        found = read.flow_rows(name=name, limit=1)
        if not found:
            return web.not_found(request, f"There is no flow named “{name}”.")
        row = found[0]
        versions = read.flow_versions(name)
        runs = read.runs(flow=name, limit=width + 1, after=_cursor(read, name, before))
        chosen = _chosen_run(read, name, run, runs)
        again = _rerun_of(read, name, rerun)
        shown_version: str = row.latest_version
        if version in {v["id"] for v in versions}:
            shown_version = str(version)
        elif chosen:
            shown_version = chosen.version_id
        spec = read.load_version(shown_version)
        latest = spec if shown_version == row.latest_version else FlowSpec.from_json(row.spec)
        graph = validate(spec, {t.type for t in spec.tasks})
        coloured = chosen if chosen and chosen.version_id == shown_version else None
        chosen_states = _states_by_key(read.task_states([coloured.id], None)) if coloured else {}
        grid_runs = list(reversed(runs[:width]))  # oldest on the left
        first = min(views.whole(rows), len(graph.order) - 1)
        grid_keys = list(_grid_order(spec, graph.order)[first : first + GRID_TASKS])
        cells = read.task_states([r.id for r in grid_runs], grid_keys)
        keys = (
            partition_views.flow_partitions(read, latest, time.time())
            if latest.partitions
            else None
        )

    fname = quote(name, safe="")
    part_strip = None
    if keys is not None:
        part_strip = partitions.strip(
            keys,
            flow=name,
            selected=parts[:1000],
            zoom=lambda a, b: f"/flows/{fname}?parts={quote(a)}..{quote(b)}#partitions",
        )

    types = {t.key: t.type for t in spec.tasks}
    href = f"/runs/{coloured.id}/tasks/" if coloured else None
    groups = dag.groups_of(spec)
    shown = dag.unfolded(unfold, groups)
    grid: dict[str, dict[str, list[Row]]] = {}
    for c in cells:
        grid.setdefault(c["task_key"], {}).setdefault(c["run_id"], []).append(c)
    return web.page(
        request,
        "flow.html",
        title=name,
        nav="flows",
        flow={
            "name": name,
            "description": latest.description,
            "tags": latest.tags,
            "owner": latest.owner,
            "paused": bool(row.paused),
            "deployed": bool(row.deployed),
            "schedule": views.schedule_text(latest.schedule),
            "triggers": [triggers.kind_of(t) for t in latest.triggers],
            "next_run_at": views.next_run_at(latest, row),
            "schedule_zone": views.schedule_zone(latest.schedule),
            "latest_version": row.latest_version,
            "tasks": len(latest.tasks),
            "partitions": latest.partitions.type if latest.partitions else None,
        },
        part_strip=part_strip,
        params=_param_fields(latest, ui.secrets, json.loads(again.params) if again else None),
        rerun=again,
        dag={
            **dag.data(ui.drawing(spec, graph, shown_version, shown), chosen_states, href),
            "chips": dag.chips(spec),
            "groups": dag.group_links(
                groups, shown, request.url.path, request.query_params.multi_items()
            ),
        },
        asset_io=[(t.key, t.inputs, t.outputs) for t in spec.tasks if t.inputs or t.outputs],
        shown_version=shown_version,
        older_definition=diff.older_definition(spec, latest),
        versions=versions,
        spec_json=json_text.indented(ui.secrets.mask_json(spec.to_builtins())),
        chosen=chosen,
        coloured=coloured is not None,
        recent=runs[:width],
        grid_heads=_grid_heads(grid_runs, time.time()),
        grid_rows=_grid_rows(spec, grid_keys, grid),
        grid_cols=width,
        grid_choices=GRID_CHOICES,
        grid_runs=grid_runs,
        grid_keys=grid_keys,
        grid={
            k: {r: views.rollup(c["state"] for c in cs) for r, cs in v.items()}
            for k, v in grid.items()
        },
        grid_counts={k: {r: len(cs) for r, cs in v.items()} for k, v in grid.items()},
        types=types,
        rows_first=first,
        rows_total=len(graph.order),
        rows_page=GRID_TASKS,
        older=runs[width - 1].id if len(runs) > width else None,
        before=before,
    )


def _cursor(read: Tx, flow: str, before: str | None) -> tuple[float, str] | None:
    """Where a page of older runs starts: right after the run `before`."""
    if not before:
        return None
    found = read.run_rows([before])
    if not found or found[0].flow_name != flow:
        return None
    return (found[0].created_at, found[0].id)


def _chosen_run(read: Tx, flow: str, run_id: str | None, runs: list[RunRow]) -> RunRow | None:
    """The run whose states colour the graph: the one asked for, else the latest."""
    if run_id:
        for r in runs:
            if r.id == run_id:
                return r
        found = read.run_rows([run_id])
        if found and found[0].flow_name == flow:
            return read.run(run_id)
    return runs[0] if runs else None


def _states_by_key(task_runs: list[Row]) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for t in task_runs:
        states.setdefault(t["task_key"], []).append(t["state"])
    return states


def _grid_order(spec: FlowSpec, order: Sequence[str]) -> list[str]:
    """The grid's rows: the graph's order, a group's tasks together where its first is."""
    group = {t.key: t.group for t in spec.tasks}
    out: list[str] = []
    placed: set[str] = set()
    for k in order:
        g = group.get(k)
        if g is None:
            out.append(k)
        elif g not in placed:
            placed.add(g)
            out += [m for m in order if group.get(m) == g]
    return out


def _grid_rows(
    spec: FlowSpec, keys: list[str], cells: dict[str, dict[str, list[Row]]]
) -> list[dict[str, Any]]:
    """The grid's rows: a task each, under a header row for each group, whose cells roll up
    its tasks' states in each run."""
    group = {t.key: t.group for t in spec.tasks}
    rows: list[dict[str, Any]] = []
    for k in keys:
        g = group.get(k)
        if g is not None and (not rows or rows[-1].get("group") != g):
            members = [m for m in keys if group.get(m) == g]
            by_run: dict[str, list[str]] = {}
            for m in members:
                for run_id, found in cells.get(m, {}).items():
                    by_run.setdefault(run_id, []).extend(c["state"] for c in found)
            rolled = {run_id: views.rollup(states) for run_id, states in by_run.items()}
            rows.append({"head": g, "group": g, "members": members, "cells": rolled})
        rows.append({"key": k, "group": g, "head": None})
    return rows


def _grid_heads(runs: list[RunRow], now: float) -> list[dict[str, Any]]:
    """Each run's column head: its date (the logical date when it has one), and a bar as
    long as its duration next to the longest in view."""
    spans = [
        ((r.ended_at or now) - r.started_at) if r.started_at is not None else 0.0 for r in runs
    ]
    longest = max(spans, default=0.0) or 1.0
    return [
        {
            "run": r,
            "at": r.logical_date if r.logical_date is not None else r.created_at,
            "logical": r.logical_date is not None,
            "seconds": span,
            "pct": max(4, round(100 * span / longest)) if r.started_at is not None else 0,
        }
        for r, span in zip(runs, spans, strict=True)
    ]


def _rerun_of(read: Tx, flow: str, run_id: str) -> RunRow | None:
    """The run whose params `?rerun=ID` fills the trigger form with (one of this flow's)."""
    if not run_id or len(run_id) > 64:
        return None
    try:
        row = read.run(read.resolve_run_id(run_id))
    except (NotFoundError, InputError):
        return None
    return row if row.flow_name == flow else None


def _as_text(value: Any, param_type: str) -> str:
    """A param value as the form's field holds it."""
    if value is None:
        return ""
    if param_type in ("array", "object", "any") and not isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _param_fields(
    spec: FlowSpec, secrets: Secrets, again: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The trigger form's fields: one per param, in declared order, typed, with its default
    filled in (masked: the form sends only the fields changed, so a masked default is never
    sent back); `again`, the params of a run to start again, fill the fields instead where
    they hold no secret (a masked value must not be sent back as the value)."""
    fields = []
    for name, p in spec.ordered_params():
        text = _as_text(p.default, p.type)
        value = text
        if again is not None and name in again:
            earlier = _as_text(again[name], p.type)
            if secrets.mask(earlier) == earlier:
                value = earlier
        fields.append(
            {
                "name": name,
                "type": p.type,
                "item_type": p.items,
                "required": p.required,
                "description": p.description,
                "value": secrets.mask(value),
                "default": secrets.mask(text),
                "has_default": p.default is not None,
            }
        )
    return fields
