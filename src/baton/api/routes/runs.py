"""Run routes: lists (filters, cursor pages), one run with its tasks and attempts, and what
an operator does to a run: cancel, repair, resume, acknowledge. The server's workers do the
work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from baton.api.common import (
    MAX_PAGE_LIMIT,
    NAMESPACE,
    PAGE_LIMIT,
    IsoTime,
    SecretsDep,
    SettingsDep,
    decode_cursor,
    encode_cursor,
    out_model,
)
from baton.api.deps import API, Operator, StoreDep, Viewer, audited_router
from baton.engine import acknowledgement
from baton.engine.service import Engine
from baton.execution import local
from baton.execution.secrets import Secrets
from baton.execution.views import AttemptView, RunView, TaskRunView, load_result
from baton.model.partitions import MAX_KEY
from baton.model.states import RunState
from baton.store.store import Store

router = audited_router(prefix=API, tags=["runs"])


AttemptOut = out_model(
    AttemptView, worker=(str | None, Field(description="the name of the worker that ran it"))
)
TaskRunOut = out_model(TaskRunView, drop=("record",))
RunDetail = out_model(
    RunView,
    name="RunDetail",
    tasks=(list[TaskRunOut], ...),  # type: ignore[valid-type]
    children=(list[str], Field(description="the runs made from it: repairs, sub-flow runs")),
)
RunSummary = out_model(
    RunView,
    name="RunSummary",
    drop=("tasks", "children", "trigger_info", "data_interval_start", "data_interval_end"),
)


class RunPage(BaseModel):
    items: list[RunSummary]  # type: ignore[valid-type]
    next_cursor: str | None


@router.get("/runs", name="runs.list", response_model=RunPage)
def runs(
    store: StoreDep,
    secrets: SecretsDep,
    principal: Viewer,
    flow: Annotated[str | None, Query(max_length=200)] = None,
    namespace: Annotated[str | None, Query(max_length=100, pattern=NAMESPACE)] = None,
    state: RunState | None = None,
    partition: Annotated[str | None, Query(max_length=MAX_KEY, description="its key")] = None,
    created_after: IsoTime | None = None,
    created_before: IsoTime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = PAGE_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Runs, newest first; `created_after` (inclusive) and `created_before` are ISO-8601
    times (UTC unless they say otherwise); `cursor` (a page's `next_cursor`) pages back.
    Only the runs of flows the caller may see are listed; `namespace` keeps one's."""
    rows = store.read().runs(
        flow=flow,
        namespace=namespace,
        visible=principal.access.visibility(),
        state=state.value if state else None,
        partition=partition or None,
        limit=limit + 1,
        created_after=_seconds(created_after),
        created_before=_seconds(created_before),
        after=_after(cursor),
    )
    last = rows[limit - 1] if len(rows) > limit else None
    return {
        "items": secrets.mask_json([RunView.of(r).summary_json() for r in rows[:limit]]),
        "next_cursor": encode_cursor(last.created_at, last.id) if last else None,
    }


@router.get("/runs/{run_id}", name="runs.get", response_model=RunDetail)
def get(run_id: str, store: StoreDep, secrets: SecretsDep, _: Viewer) -> dict[str, Any]:
    """A run (by id, or a unique prefix of one) with its task runs and their attempts."""
    return run_detail(store, store.read().resolve_run_id(run_id), secrets)


@router.post("/runs/{run_id}/cancel", name="runs.cancel", response_model=RunDetail)
def cancel(
    run_id: str, store: StoreDep, settings: SettingsDep, secrets: SecretsDep, _: Operator
) -> dict[str, Any]:
    """Cancel a run: what has not started ends cancelled, running tasks are stopped by their
    workers (the run is `cancelling` until they are). A run that already ended (perhaps
    while the cancel came) is left as it is: 200, with its final state."""
    run_id = store.read().resolve_run_id(run_id)
    local.cancel(Engine(store), settings, run_id)
    return run_detail(store, run_id, secrets)


@router.post("/runs/{run_id}/repair", name="runs.repair", status_code=201, response_model=RunDetail)
def repair(run_id: str, store: StoreDep, secrets: SecretsDep, _: Operator) -> dict[str, Any]:
    """A new run of a finished run's flow version and params that re-runs only what did not
    succeed (and what depends on it); the server's workers run it. Answers the new run."""
    new_id = Engine(store).repair(store.read().resolve_run_id(run_id))
    return run_detail(store, new_id, secrets)


@router.post("/runs/{run_id}/resume", name="runs.resume", response_model=RunDetail)
def resume(
    run_id: str, store: StoreDep, settings: SettingsDep, secrets: SecretsDep, _: Operator
) -> dict[str, Any]:
    """Carry on a run whose process died: its attempts whose worker is gone end `lost` and
    retry per policy, on the server's workers; what finished does not run again."""
    run_id = store.read().resolve_run_id(run_id)
    local.end_lost_attempts(Engine(store), settings, run_id)
    return run_detail(store, run_id, secrets)


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(
        default=None,
        max_length=acknowledgement.MAX_COMMENT,
        description="what the one acknowledging says (who is on it, what is done)",
    )


class Acknowledgement(BaseModel):
    run_id: str
    acknowledged_at: str = Field(description="ISO-8601, UTC")
    acknowledged_by: str = Field(description="the user of the token that acknowledged it")
    comment: str | None
    already_acknowledged: bool = Field(
        description="true: an earlier acknowledgement stands, and this call changed nothing"
    )


@router.post("/runs/{run_id}/acknowledge", name="runs.acknowledge", response_model=Acknowledgement)
def acknowledge(
    run_id: str, store: StoreDep, caller: Operator, body: AcknowledgeIn | None = None
) -> dict[str, Any]:
    """Acknowledge a run: someone is on its failure (or its waiting approval), so the
    escalation steps `unless: acknowledged` of its notifications are not sent. The first
    acknowledgement stands: calling again answers it, with `already_acknowledged`."""
    comment = body.comment if body is not None else None
    return acknowledgement.acknowledge(store, run_id, caller.user, comment, store.clock())


def run_detail(store: Store, run_id: str, secrets: Secrets) -> dict[str, Any]:
    """A run as `baton runs show --json` prints it, and per task its type, upstream keys,
    attempts and sub-flow run; plus the runs made from it. A few queries, whatever its size."""
    data = load_result(store, run_id).to_json()
    masked: dict[str, Any] = secrets.mask_json(data)
    return masked


def _after(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:  # `?cursor=`: the first page
        return None
    created_at, run_id = decode_cursor(cursor, float, str)
    return float(created_at), run_id


def _seconds(t: datetime | None) -> float | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
