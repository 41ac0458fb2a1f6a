"""Flow routes: list and inspect flows, define them from YAML, pause them, trigger runs.

A flow defined through the API is a YAML flow whose tasks need no Python code: the server
never imports user code, and its workers have no project folder to find it in. Flows with
`python` tasks or sensors are deployed with `baton deploy` from their project instead.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from baton import tasks as task_types
from baton.api.auth import Principal, no_flow
from baton.api.common import (
    MAX_PAGE_LIMIT,
    NAMESPACE,
    PAGE_LIMIT,
    ErrorOut,
    SecretsDep,
    decode_cursor,
    encode_cursor,
    invalid,
)
from baton.api.deps import API, Editor, Operator, StoreDep, Viewer, audited_router
from baton.api.routes.runs import RunDetail, run_detail
from baton.engine.service import Engine
from baton.errors import DefinitionError, InputError, NotFoundError, ParamError
from baton.execution import loader
from baton.execution.loader import LoadedFlow
from baton.execution.secrets import Secrets
from baton.model import labels, yaml_spec
from baton.model.params import coerce_params
from baton.model.partitions import MAX_KEY
from baton.model.spec import FlowSpec
from baton.model.times import iso
from baton.scheduling.overview import flow_summary
from baton.scheduling.registration import deploy
from baton.store.store import Row, Store

router = audited_router(prefix=API, tags=["flows"])
RECENT_RUNS = 20  # runs per flow in a list: enough for a row of state dots
MAX_YAML_BYTES = 1 << 20
# A param's value is stored with its run and sent to every task: data belongs elsewhere.
MAX_PARAM_BYTES = 64 << 10
YAML_TYPES = ("application/yaml", "text/yaml", "application/x-yaml", "text/plain")
BODY = "request body"  # where DefinitionErrors say the YAML was
# ParamError.problems kinds as pydantic names them
TagQuery = Annotated[
    str, StringConstraints(pattern=labels.TAG_PATTERN, max_length=labels.MAX_TAG_LENGTH)
]
_PARAM_PROBLEMS = {"unknown": "extra_forbidden", "missing": "missing", "invalid": "value_error"}


class RunRef(BaseModel):
    id: str
    state: str
    created_at: str


class ParamOut(BaseModel):
    type: str
    default: Any
    required: bool
    description: str | None
    items: str | None


class FlowSummary(BaseModel):
    name: str
    description: str | None
    tags: list[str] = Field(default=[], description="short names to find the flow by")
    owner: str | None = Field(default=None, description="who answers for it: an email, a team")
    deployed: bool
    paused: bool
    schedule: str | dict[str, Any] | None
    triggers: list[dict[str, Any]]
    next_run_at: str | None
    latest_version: str
    params: dict[str, ParamOut]
    last_run: RunRef | None


class FlowListItem(FlowSummary):
    recent_runs: list[RunRef] = Field(description="the latest runs, newest first")


class FlowPage(BaseModel):
    items: list[FlowListItem]
    next_cursor: str | None


class DagNode(BaseModel):
    key: str
    type: str
    depends_on: list[str]
    trigger_rule: str
    map_over: str | None


class Dag(BaseModel):
    nodes: list[DagNode]
    edges: list[tuple[str, str]] = Field(description="[upstream key, downstream key] each")


class VersionOut(BaseModel):
    id: str
    created_at: str


class FlowDetail(FlowSummary):
    spec: dict[str, Any] = Field(description="the latest version's FlowSpec")
    dag: Dag
    versions: list[VersionOut] = Field(description="newest first")


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: dict[str, Any] = Field(default={}, description="the run's params, by name")
    partition: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_KEY,
        description="the key a run of a partitioned flow processes (a time-partitioned flow"
        " defaults to the partition that closed last)",
    )
    logical_date: datetime | None = Field(
        default=None,
        description="the date the run is for (ISO 8601; no zone: UTC), as a scheduled run has;"
        " one run per flow and logical date (409 for a second)",
    )
    note: str | None = Field(
        default=None, max_length=2000, description="why it was started, shown with the run"
    )


_SAVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": FlowDetail, "description": "a new flow"},
    413: {"model": ErrorOut, "description": f"a body over {MAX_YAML_BYTES} bytes"},
    415: {"model": ErrorOut, "description": "a body that is not YAML"},
}
_YAML_BODY = {
    "requestBody": {
        "required": True,
        "description": "one flow definition, as in a YAML flow file",
        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
    }
}


@router.get("/flows", name="flows.list", response_model=FlowPage)
def flows(
    store: StoreDep,
    secrets: SecretsDep,
    principal: Viewer,
    search: Annotated[str | None, Query(max_length=200)] = None,
    namespace: Annotated[str | None, Query(max_length=100, pattern=NAMESPACE)] = None,
    paused: bool | None = None,
    tag: Annotated[list[TagQuery], Query(max_length=labels.MAX_TAGS)] = [],  # noqa: B006
    owner: Annotated[str | None, Query(max_length=labels.MAX_OWNER_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """Flows by name, with their latest runs; `search` keeps those whose name holds it (any
    case), `namespace` those of one namespace, `tag` (repeatable) those having every tag
    given, `owner` those with that owner; `cursor` (a page's `next_cursor`) gives the
    next page. Only the flows the caller may see are listed."""
    after = decode_cursor(cursor, str)[0] if cursor else None
    read = store.read()
    visible = principal.access.visibility()
    rows = read.flow_rows(
        search=search,
        paused=paused,
        after=after,
        limit=limit + 1,
        visible=visible,
        namespace=namespace,
        tags=tag,
        owner=owner or None,  # `?owner=` alone filters nothing
    )
    page = rows[:limit]
    recent: dict[str, list[dict[str, Any]]] = {r.name: [] for r in page}
    for r in read.recent_runs(list(recent), RECENT_RUNS):
        recent[r["flow_name"]].append(_run_ref(r))
    now = time.time()
    items = [flow_summary(r, now) | {"recent_runs": recent[r.name]} for r in page]
    return {
        "items": secrets.mask_json(items),
        "next_cursor": encode_cursor(page[-1].name) if len(rows) > limit else None,
    }


@router.get("/flows/{name:path}", name="flows.get", response_model=FlowDetail)
def get(name: str, store: StoreDep, secrets: SecretsDep, _: Viewer) -> dict[str, Any]:
    """A flow: its latest definition and DAG, params, schedule, versions and latest run."""
    return _flow(store, name, secrets)


@router.post(
    "/flows",
    name="flows.create",
    response_model=FlowDetail,
    responses=_SAVE_RESPONSES,
    openapi_extra=_YAML_BODY,
)
async def create(
    request: Request, response: Response, store: StoreDep, secrets: SecretsDep, caller: Editor
) -> dict[str, Any]:
    """Define a flow from a YAML body, or change it (a new version when its definition
    changed): 201 when it is new, 200 otherwise. Its triggers and schedule start at once.
    The caller needs the editor role on the flow (on its namespace, or globally)."""
    return await _save(request, response, store, secrets, None, caller)


@router.put(
    "/flows/{name:path}",
    name="flows.update",
    response_model=FlowDetail,
    responses=_SAVE_RESPONSES,
    openapi_extra=_YAML_BODY,
)
async def update(
    name: str,
    request: Request,
    response: Response,
    store: StoreDep,
    secrets: SecretsDep,
    caller: Editor,
) -> dict[str, Any]:
    """The same as POST /flows, for the flow of this name (the YAML's `name` must be it)."""
    return await _save(request, response, store, secrets, name, caller)


@router.delete("/flows/{name:path}", name="flows.delete", status_code=204)
def delete(name: str, store: StoreDep, _: Editor) -> None:
    """Forget a flow: its schedule and triggers stop. Its runs stay, and so do the versions
    they ran; defining it again starts afresh."""
    with store.transaction() as tx:
        if not tx.delete_flow(name):
            raise _no_flow(name)


@router.post("/flows/{name:path}/pause", name="flows.pause", response_model=FlowDetail)
def pause(name: str, store: StoreDep, secrets: SecretsDep, _: Operator) -> dict[str, Any]:
    """Stop the flow's schedule and triggers creating runs."""
    return _set_paused(store, name, True, secrets)


@router.post("/flows/{name:path}/unpause", name="flows.unpause", response_model=FlowDetail)
def unpause(name: str, store: StoreDep, secrets: SecretsDep, _: Operator) -> dict[str, Any]:
    """Let the flow's schedule and triggers create runs again."""
    return _set_paused(store, name, False, secrets)


@router.post(
    "/flows/{name:path}/runs", name="flows.trigger", status_code=201, response_model=RunDetail
)
def trigger(
    name: str, body: TriggerIn, store: StoreDep, secrets: SecretsDep, caller: Operator
) -> dict[str, Any]:
    """Start a run of the flow's latest version with these params (checked against the
    flow's: a 422 names each bad one); the server's workers run it. Also a webhook."""
    flow = store.read().flow(name)
    if flow is None:
        raise _no_flow(name)
    spec = store.read().load_version(flow.latest_version)
    try:
        values = coerce_params(spec.params, body.params, flow=name)
    except ParamError as exc:
        if not exc.problems:
            raise
        raise invalid(
            *(
                (("body", "params", param), msg, _PARAM_PROBLEMS[kind])
                for param, kind, msg in exc.problems
            )
        ) from None
    oversized = [p for p in body.params if len(json.dumps(values.get(p))) > MAX_PARAM_BYTES]
    if oversized:
        msg = f"at most {MAX_PARAM_BYTES} bytes as JSON: pass a reference (a path, a URL)"
        raise invalid(*((("body", "params", p), msg, "value_error") for p in oversized))
    try:
        run_id = Engine(store).create_run(
            flow.latest_version,
            values,
            trigger="api",
            trigger_info={"user": caller.user, **({"note": body.note} if body.note else {})},
            partition=body.partition,
            logical_date=_timestamp(body.logical_date),
        )
    except InputError as exc:  # only the partition is checked there
        raise invalid((("body", "partition"), str(exc), "value_error")) from None
    return run_detail(store, run_id, secrets)


# -- helpers -----------------------------------------------------------------------------


def _timestamp(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


async def _save(
    request: Request,
    response: Response,
    store: Store,
    secrets: Secrets,
    name: str | None,
    caller: Principal,
) -> dict[str, Any]:
    text = await _yaml_text(request)
    created, flow = await run_in_threadpool(_define, store, text, name, caller)
    request.state.audit_object = flow
    if created:
        response.status_code = 201
    return await run_in_threadpool(_flow, store, flow, secrets)


async def _yaml_text(request: Request) -> str:
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in YAML_TYPES:
        raise HTTPException(
            415, f"send the flow as YAML: Content-Type one of {', '.join(YAML_TYPES)}"
        )
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_YAML_BYTES:
            raise HTTPException(413, f"a flow definition is at most {MAX_YAML_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the YAML is not UTF-8 text (byte {exc.start})") from None


def _define(store: Store, text: str, name: str | None, caller: Principal) -> tuple[bool, str]:
    """Check and deploy the flow a YAML text defines; (whether it is new, its name)."""
    flow = checked_yaml(text, name, caller)
    new = store.read().flow(flow.spec.name) is None
    deploy(store, [flow])
    return new, flow.spec.name


def checked_yaml(text: str, name: str | None, caller: Principal) -> LoadedFlow:
    """The flow a YAML text sent to the server defines, checked as a deploy checks it (and,
    with `name`, that it is that flow); DefinitionError (with its line) or InputError, and
    a 403 when the caller may not edit a flow of that name."""
    try:
        spec = yaml_spec.load_yaml_flow(text, file=BODY)
    except RecursionError:
        raise InputError("the YAML is nested too deeply") from None
    if not caller.may_on(spec.name, "editor"):
        raise HTTPException(
            403, f"defining flow '{spec.name}' needs the editor role on it or its namespace"
        )
    if name is not None and spec.name != name:
        raise InputError(
            f"the YAML defines flow '{spec.name}', not '{name}': PUT it to "
            f"/api/v1/flows/{spec.name}, or change its name"
        )
    for t in spec.tasks:
        if task_types.runs_user_code(t):
            raise DefinitionError(
                f"a {t.type} task with Python code cannot be defined through the API (the "
                "server never imports user code): deploy this flow "
                "with `baton deploy` from its project folder",
                file=BODY,
                flow=spec.name,
                task=t.key,
            )
    flow = LoadedFlow(spec)
    loader.check(flow, file=BODY)
    return flow


def _flow(store: Store, name: str, secrets: Secrets) -> dict[str, Any]:
    read = store.read()
    rows = read.flow_rows(name=name)
    if not rows:
        raise _no_flow(name)
    spec = FlowSpec.from_json(rows[0].spec)
    data = flow_summary(rows[0], time.time())
    data["spec"] = spec.to_builtins()
    data["dag"] = {
        "nodes": [
            {
                "key": t.key,
                "type": t.type,
                "depends_on": list(t.depends_on),
                "trigger_rule": t.trigger_rule.value,
                "map_over": t.map_over,
            }
            for t in spec.tasks
        ],
        "edges": [(up, t.key) for t in spec.tasks for up in dict.fromkeys(t.depends_on)],
    }
    data["versions"] = [
        {"id": v["id"], "created_at": iso(v["created_at"])} for v in read.flow_versions(name)
    ]
    masked: dict[str, Any] = secrets.mask_json(data)
    return masked


def _set_paused(store: Store, name: str, paused: bool, secrets: Secrets) -> dict[str, Any]:
    with store.transaction() as tx:
        if not tx.set_paused(name, paused):
            raise _no_flow(name)
    return _flow(store, name, secrets)


def _run_ref(r: Row) -> dict[str, Any]:
    return {"id": r["id"], "state": r["state"], "created_at": iso(r["created_at"])}


def _no_flow(name: str) -> NotFoundError:
    return NotFoundError(no_flow(name))
