"""The flows page (every flow, searchable) and a flow's page (graph, partitions, runs grid,
trigger form, versions)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.execution import partition_views
from baton.execution.secrets import Secrets
from baton.model import triggers
from baton.model.graph import validate
from baton.model.spec import FlowSpec
from baton.store.records import RunRow, TaskRunRow
from baton.store.store import Row, Tx
from baton.ui import dag, partitions, views, web
from baton.ui.web import Viewer

router = APIRouter(include_in_schema=False)
FLOWS_PAGE = 50
STRIP = 20  # runs in a flow's strip on the flows page
GRID_RUNS = 20  # runs (columns) in a flow's runs grid
GRID_TASKS = 60  # tasks (rows) per page of the grid
FILTERS = {"all": None, "active": False, "paused": True}


@router.get("/flows", response_class=HTMLResponse)
def flows(
    request: Request,
    principal: Viewer,
    q: str = "",
    show: str = "all",
    after: str | None = None,
) -> HTMLResponse:
    q = q.strip()[:200]
    show = show if show in FILTERS else "all"
    with web.reading(request) as read:
        rows = read.flow_rows(
            search=q or None,
            paused=FILTERS[show],
            after=after,
            limit=FLOWS_PAGE + 1,
            visible=principal.access.visibility(),
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
                "schedule": views.schedule_text(spec.schedule),
                "triggers": [triggers.kind_of(t) for t in spec.triggers],
                "next_run_at": views.next_run_at(spec, f),
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
        next_after=shown[-1].name if len(rows) > FLOWS_PAGE else None,
        first_page=after is None,
        strip_size=STRIP,
    )


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
) -> HTMLResponse:
    ui = web.ui_of(request)
    with web.reading(request) as read:
        found = read.flow_rows(name=name, limit=1)
        if not found:
            return web.not_found(request, f"There is no flow named “{name}”.")
        row = found[0]
        versions = read.flow_versions(name)
        runs = read.runs(flow=name, limit=GRID_RUNS + 1, after=_cursor(read, name, before))
        chosen = _chosen_run(read, name, run, runs)
        shown_version: str = row.latest_version
        if version in {v["id"] for v in versions}:
            shown_version = str(version)
        elif chosen:
            shown_version = chosen.version_id
        spec = read.load_version(shown_version)
        latest = spec if shown_version == row.latest_version else FlowSpec.from_json(row.spec)
        graph = validate(spec, {t.type for t in spec.tasks})
        coloured = chosen if chosen and chosen.version_id == shown_version else None
        chosen_states = _states_by_key(read.task_runs(coloured.id)) if coloured else {}
        grid_runs = list(reversed(runs[:GRID_RUNS]))  # oldest on the left
        first = min(views.whole(rows), len(graph.order) - 1)
        grid_keys = list(graph.order[first : first + GRID_TASKS])
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
            "paused": bool(row.paused),
            "deployed": bool(row.deployed),
            "schedule": views.schedule_text(latest.schedule),
            "triggers": [triggers.kind_of(t) for t in latest.triggers],
            "next_run_at": views.next_run_at(latest, row),
            "latest_version": row.latest_version,
            "tasks": len(latest.tasks),
            "partitions": latest.partitions.type if latest.partitions else None,
        },
        part_strip=part_strip,
        params=_param_fields(latest, ui.secrets),
        dag={
            **dag.data(ui.drawing(spec, graph, shown_version, shown), chosen_states, href),
            "chips": dag.chips(spec),
            "groups": dag.group_links(
                groups, shown, request.url.path, request.query_params.multi_items()
            ),
        },
        asset_io=[(t.key, t.inputs, t.outputs) for t in spec.tasks if t.inputs or t.outputs],
        shown_version=shown_version,
        versions=versions,
        spec_json=json.dumps(ui.secrets.mask_json(spec.to_builtins()), indent=2),
        chosen=chosen,
        coloured=coloured is not None,
        recent=runs[:GRID_RUNS],
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
        older=runs[GRID_RUNS - 1].id if len(runs) > GRID_RUNS else None,
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


def _states_by_key(task_runs: list[TaskRunRow]) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for t in task_runs:
        states.setdefault(t.task_key, []).append(t.state)
    return states


def _param_fields(spec: FlowSpec, secrets: Secrets) -> list[dict[str, Any]]:
    """The trigger form's fields: one per param, typed, with its default filled in (masked:
    the form sends only the fields changed, so a masked default is never sent back)."""
    fields = []
    for name, p in spec.params.items():
        default = p.default
        if default is None:
            text = ""
        elif p.type in ("array", "object", "any") and not isinstance(default, str):
            text = json.dumps(default)
        elif isinstance(default, bool):
            text = "true" if default else "false"
        else:
            text = str(default)
        fields.append(
            {
                "name": name,
                "type": p.type,
                "item_type": p.items,
                "required": p.required,
                "description": p.description,
                "value": secrets.mask(text),
                "has_default": p.default is not None,
            }
        )
    return fields
