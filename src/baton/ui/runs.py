"""The runs page, a run's page (live graph, Gantt chart, task table, actions) and a task
run's page (attempts, live log, error, result)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from baton.errors import InputError, NotFoundError
from baton.execution.secrets import Secrets
from baton.execution.views import TaskRunView, task_views, unplaceable
from baton.model.graph import validate
from baton.model.states import RUN_TERMINAL, RunState, TaskState
from baton.model.times import iso
from baton.settings import Settings
from baton.store.records import RunRow
from baton.store.runs import RunQuery
from baton.store.store import Tx
from baton.ui import approvals, dag, mapped, tracebacks, views, web
from baton.ui.web import Viewer

router = APIRouter(include_in_schema=False)
RUNS_PAGE = 50
PAGE_SIZES = (25, 50, 100, 200)
MAX_PICKED = 50  # values of one filter a page takes (more is no list a person picked)
MAX_FLOW_CHOICES = 500  # flows the filter offers to pick from; others can be typed
_PAGING = frozenset({"before", "after", "last", "size"})
# The kinds of run the trigger filter offers (`runs.trigger`, as stored).
TRIGGER_KINDS = (
    "manual",
    "api",
    "schedule",
    "backfill",
    "repair",
    "file",
    "asset",
    "flow",
    "materialize",
)
TASKS_PAGE = 50  # rows of a run's task table
_SERVER_ONLY = frozenset({"error", "t0", "t1", "name", "type", "reused"})
REPAIRABLE = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED})


@router.get("/runs", response_class=HTMLResponse)
def runs(
    request: Request,
    principal: Viewer,
    flow: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies it)
    state: Annotated[list[str], Query()] = [],  # noqa: B006
    trigger: Annotated[list[str], Query()] = [],  # noqa: B006
    q: str = "",
    partition: str = "",
    on: str = "created",
    start: str = "",
    end: str = "",
    size: str = "",
    before: str | None = None,
    after: str | None = None,
    last: str = "",
) -> HTMLResponse:
    flows = tuple(dict.fromkeys(f.strip()[:200] for f in flow[:MAX_PICKED] if f.strip()))
    states = tuple(s for s in dict.fromkeys(state[:MAX_PICKED]) if s in views.STATES)
    kinds = tuple(t for t in dict.fromkeys(trigger[:MAX_PICKED]) if t in TRIGGER_KINDS)
    on = "logical" if on == "logical" else "created"
    low, high = _day(start), _day(end, end_of_day=True)
    page_size = next((n for n in PAGE_SIZES if size == str(n)), RUNS_PAGE)
    query = RunQuery(
        flows=flows,
        flow_like=q.strip()[:200] or None,
        states=states,
        triggers=kinds,
        partition=partition.strip()[:200] or None,
        created_after=low if on == "created" else None,
        created_before=high if on == "created" else None,
        logical_after=low if on == "logical" else None,
        logical_before=high if on == "logical" else None,
        visible=principal.access.visibility(),
    )
    with web.reading(request) as read:
        cursor = None
        mark = before or after
        if mark:
            found = read.run_rows([mark[:64]])
            cursor = (found[0].created_at, found[0].id) if found else None
        backwards = bool(last) or (after is not None and cursor is not None)
        rows = read.runs(query=query, limit=page_size + 1, after=cursor, oldest_first=backwards)
        more = len(rows) > page_size
        rows = rows[:page_size]
        if backwards:
            rows.reverse()
        total = read.count_runs(query)
        known_flows = read.flow_names(visible=query.visible, limit=MAX_FLOW_CHOICES)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in _PAGING]
    base = "?" + urlencode([*kept, ("size", str(page_size))])
    # Newest first, so the start is the newest page: the last page is read oldest first,
    # and so is a step back towards the newest (`after`), then turned round.
    at_start = (not backwards and cursor is None) or (not last and backwards and not more)
    at_end = bool(last) or (not backwards and not more)
    return web.page(
        request,
        "runs.html",
        title="Runs",
        nav="runs",
        runs=rows,
        total=total,
        flows=flows,
        q=q[:200],
        states=states,
        triggers=kinds,
        partition=partition[:200],
        on=on,
        start=start[:10] if low is not None else "",
        end=end[:10] if high is not None else "",
        page_size=page_size,
        page_sizes=[(n, "?" + urlencode([*kept, ("size", str(n))])) for n in PAGE_SIZES],
        trigger_kinds=TRIGGER_KINDS,
        known_flows=sorted(set(known_flows) | set(flows)),
        partitioned=any(r.partition is not None for r in rows),
        logical=any(r.logical_date is not None for r in rows),
        filtered=bool(flows or q.strip() or states or kinds or partition.strip() or low or high),
        # The states a user filters by, in the menu's order (cancelling is too brief to ask for).
        run_states=(
            RunState.QUEUED,
            RunState.RUNNING,
            RunState.SUCCEEDED,
            RunState.FAILED,
            RunState.CANCELLED,
            RunState.SCHEDULED,
        ),
        first_href=None if at_start else base,
        newer_href=None if at_start or not rows else f"{base}&after={rows[0].id}",
        older_href=None if at_end or not rows else f"{base}&before={rows[-1].id}",
        last_href=None if at_end else f"{base}&last=1",
    )


def _day(text: str, *, end_of_day: bool = False) -> float | None:
    """A date filter's bound (YYYY-MM-DD, UTC): its day's start, or the next day's."""
    try:
        day = datetime.strptime(text.strip()[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return (day + timedelta(days=1 if end_of_day else 0)).timestamp()


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run(
    request: Request,
    run_id: str,
    principal: Viewer,
    state: str = "",
    page: str = "",
    unfold: str = "",
) -> Response:
    ui = web.ui_of(request)
    with web.reading(request) as read:
        found = _resolve(read, run_id)
        if found is None:
            return web.not_found(request, f"There is no run “{run_id}”.")
        if found != run_id:
            return RedirectResponse(f"/runs/{found}", status_code=303)
        row = read.run(run_id)
        task_rows = read.task_runs(run_id)
        attempt_rows = read.attempts(run_id)
        spec = read.load_version(row.version_id)
        waiting = unplaceable(read, task_rows)
        queued = read.queued_times(run_id)
        related = _related(read, row)
        settings: Settings = request.app.state.settings
        workers = read.live_worker_count(settings.alive_since(time.time()))
        ack = read.run_ack(run_id)
        deciding = approvals.waiting(read, principal, run_id)
        params = json.loads(row.params)
        map_keys = {t.task_key for t in task_rows if t.map_index >= 0}
        items = mapped.items(read, run_id, spec, params, map_keys) if map_keys else {}
    graph = validate(spec, {t.type for t in spec.tasks})
    rank = {k: i for i, k in enumerate(graph.order)}
    task_rows.sort(key=lambda t: (rank.get(t.task_key, len(rank)), t.map_index))
    tasks = [_task_json(t) for t in task_views(task_rows, attempt_rows, spec, waiting, queued)]

    groups = dag.groups_of(spec)
    shown_groups = dag.unfolded(unfold, groups)
    states: dict[str, list[str]] = {}
    for t in task_rows:
        states.setdefault(t.task_key, []).append(t.state)
    counts: dict[str, int] = {}
    for t in task_rows:
        counts[t.state] = counts.get(t.state, 0) + 1
    listed = [t for t in tasks if not state or t["state"] == state]
    pages = max(1, -(-len(listed) // TASKS_PAGE))
    shown = min(views.whole(page), pages - 1)
    secrets = ui.secrets
    info = json.loads(row.trigger_info) if row.trigger_info else None
    return web.page(
        request,
        "run.html",
        title=f"{row.flow_name} · run {views.short_id(run_id)}",
        nav="runs",
        run=row,
        params=secrets.mask_json(params),
        trigger=views.trigger_text(row.trigger, info),
        note=secrets.mask(str(info["note"])) if info and info.get("note") else None,
        related=related,
        dag={
            **dag.data(
                ui.drawing(spec, graph, row.version_id, shown_groups),
                states,
                f"/runs/{run_id}/tasks/",
            ),
            "groups": dag.group_links(
                groups, shown_groups, request.url.path, request.query_params.multi_items()
            ),
        },
        ack=ack,
        counts=counts,
        total=len(task_rows),
        state=state,
        rows=[
            {
                **t,
                "error": secrets.mask(t["error"]) if t["error"] else None,
                "item": _item(items, t["key"], t["map_index"], secrets),
            }
            for t in listed[shown * TASKS_PAGE : (shown + 1) * TASKS_PAGE]
        ],
        page=shown,
        pages=pages,
        repairable=row.state in RUN_TERMINAL and any(s in REPAIRABLE for s in counts),
        # Nothing alive to run it: say so (and offer this process, when it can run tasks).
        no_worker=row.state not in RUN_TERMINAL and workers == 0,
        run_here=getattr(request.app.state, "start_worker", None) is not None,
        approvals=secrets.mask_json(deciding),
        data={
            "run": {"id": run_id, "state": row.state, "created_at": iso(row.created_at)},
            # What the script reads, nulls left out: 2,000 tasks weigh less.
            "tasks": [
                {k: v for k, v in t.items() if v is not None and k not in _SERVER_ONLY}
                for t in tasks
            ],
        },
    )


@router.get("/runs/{run_id}/tasks/{task}", response_class=HTMLResponse)
def task(
    request: Request, run_id: str, task: str, principal: Viewer, attempt: str = ""
) -> Response:
    ui = web.ui_of(request)
    key, _, index = task.rpartition(".") if _mapped(task) else (task, "", "")
    map_index = int(index) if index else -1
    with web.reading(request) as read:
        found = _resolve(read, run_id)
        if found is None:
            return web.not_found(request, f"There is no run “{run_id}”.")
        row = read.run(found)
        spec = read.load_version(row.version_id)
        if key not in {t.key for t in spec.tasks}:
            return web.not_found(request, f"Flow {row.flow_name} has no task “{key}”.")
        graph = validate(spec, {t.type for t in spec.tasks})
        near = [*graph.upstream[key], *graph.downstream[key]]
        near_rows = read.task_runs(found, [key, *near])
        mine = [t for t in near_rows if t.task_key == key]
        this = next((t for t in mine if t.map_index == map_index), None)
        if this is None and map_index < 0 and mine:  # a mapped task: its first run
            return RedirectResponse(
                f"/runs/{found}/tasks/{views.task_name(key, mine[0].map_index)}", 303
            )
        attempts = read.task_attempts(this.id) if this else []
        deciding = [a for a in approvals.waiting(read, principal, found) if a["task"] == task]
        items = (
            mapped.items(read, found, spec, json.loads(row.params), [key])
            if len(mine) > 1 or map_index >= 0
            else {}
        )
    secrets = ui.secrets
    spec_task = spec.task(key)
    number = views.whole(attempt)
    shown = next((a for a in attempts if a.number == number), attempts[-1] if attempts else None)
    failed = next((a for a in reversed(attempts) if a.error), None)
    result_text = None
    if this is not None and this.result is not None:
        result_text = views.pretty(secrets.mask_json(json.loads(this.result)))
    by_key: dict[str, list[str]] = {}
    for t in near_rows:
        by_key.setdefault(t.task_key, []).append(t.state)
    return web.page(
        request,
        "task.html",
        title=f"{views.task_name(key, map_index)} · run {views.short_id(found)}",
        nav="runs",
        run=row,
        key=key,
        name=views.task_name(key, map_index),
        task_run=this,
        siblings=[
            (views.task_name(key, t.map_index), _item(items, key, t.map_index, secrets))
            for t in mine
        ]
        if len(mine) > 1
        else [],
        item=_item(items, key, map_index, secrets, mapped.LONG),
        spec_task=spec_task,
        config=json.dumps(secrets.mask_json(spec_task.config), indent=2, sort_keys=True),
        attempts=[
            {
                **msgspec.structs.asdict(a),
                "error": secrets.mask(a.error) if a.error else None,
                "traceback": secrets.mask(a.traceback) if a.traceback else None,
            }
            for a in attempts
        ],
        shown=shown.number if shown else None,
        shown_running=bool(shown and shown.ended_at is None),
        baton_dir=tracebacks.BATON_DIR,
        failure=(
            {
                "number": failed.number,
                "error": secrets.mask(failed.error or ""),
                "kind": failed.error_kind,
                "traceback": secrets.mask(failed.traceback) if failed.traceback else None,
                "traceback_parts": tracebacks.parts(secrets.mask(failed.traceback or "")),
            }
            if failed and this is not None and this.state != TaskState.SUCCEEDED
            else None
        ),
        result_text=result_text,
        result_file=this is not None and bool(this.result_ref),
        upstream=[(k, views.rollup(by_key.get(k, ()))) for k in graph.upstream[key]],
        downstream=[(k, views.rollup(by_key.get(k, ()))) for k in graph.downstream[key]],
        retryable=(this is not None and row.state in RUN_TERMINAL and this.state in REPAIRABLE),
        approvals=secrets.mask_json(deciding),
    )


def _item(
    items: dict[str, list[Any]],
    key: str,
    index: int | None,
    secrets: Secrets,
    limit: int = mapped.SHORT,
) -> str | None:
    """The short text of the item a mapped task run ran on; None when there is none."""
    found = items.get(key)
    if found is None or index is None or not 0 <= index < len(found):
        return None
    return mapped.text(found[index], secrets, limit)


def _mapped(task: str) -> bool:
    head, dot, tail = task.rpartition(".")
    return bool(dot and head and tail.isdigit())


def _resolve(read: Tx, run_id: str) -> str | None:
    try:
        return read.resolve_run_id(run_id)
    except (NotFoundError, InputError):
        return None


def _related(read: Tx, row: RunRow) -> dict[str, Any]:
    """The run this one came from (a repair's original, a sub-flow's parent) and the runs
    made from it, with their states."""
    children = read.runs_from(row.id)
    ids = [c["id"] for c in children]
    if row.parent_run_id:
        ids.append(row.parent_run_id)
    summaries = {r.id: r for r in read.run_rows(ids)}
    parent = summaries.get(row.parent_run_id) if row.parent_run_id else None
    return {
        "parent": parent,
        "repairs": [summaries[c["id"]] for c in children if c["parent_task_run_id"] is None],
        "subflows": [summaries[c["id"]] for c in children if c["parent_task_run_id"] is not None],
    }


def _task_json(t: TaskRunView) -> dict[str, Any]:
    """A task run as the API's run JSON has it (the fields the page's script reads), with
    its name, its times as numbers (the Gantt chart's) and whether a repair reused it."""
    assert t.record is not None  # read from the store
    last = t.attempt_list[-1] if t.attempt_list else None
    return {
        **t.to_json(),
        "name": t.name,
        "type": t.type or "python",
        "t0": t.record.started_at,
        "t1": t.record.ended_at,
        "error_kind": (last.error_kind if last else None) or t.error_kind,
        "reused": t.record.reused_from is not None,
        "attempt_list": [
            {k: v for k, v in a.to_json().items() if v is not None and k in _ATTEMPT_SHOWN}
            for a in t.attempt_list or ()
        ],
    }


_ATTEMPT_SHOWN = frozenset({"number", "state", "queued_at", "started_at", "ended_at", "error_kind"})
