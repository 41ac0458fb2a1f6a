"""Approval routes: the approval tasks waiting for a decision, and the decision itself.

Deciding needs a token (viewer or above on the run's flow: a run of a flow the caller may
not see is 404) whose user is one of the task's approvers (users, `role:NAME` and the
default `role:operator` by the effective role on the flow, grants included, `group:NAME`
by `baton groups`); anyone else gets 403 and changes nothing. The list shows only the
approvals of flows the caller may see. Of concurrent deciders exactly one wins; the others get 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from baton.api.auth import Principal
from baton.api.common import SecretsDep
from baton.api.deps import API, StoreDep, Viewer, audited_router
from baton.engine.service import Engine
from baton.execution import approvals
from baton.store.store import Store, Tx

router = audited_router(prefix=API, tags=["approvals"])

FIELDS_MAX = 100  # fields of a decision's inputs
TASK = Annotated[str, Path(max_length=300, description="the task's key (`key.N`: a mapped one)")]


class Decision(BaseModel):
    """What an approver says: a comment, and the fields of the task's form."""

    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=approvals.COMMENT_MAX)
    inputs: dict[str, Any] = Field(default_factory=dict, max_length=FIELDS_MAX)


class DecisionOut(BaseModel):
    run_id: str
    task: str
    decision: str = Field(description="approved or rejected")
    by: str = Field(description="the user who decided")
    at: str = Field(description="when (ISO-8601 UTC)")
    comment: str | None
    inputs: dict[str, Any] = Field(description="the form's fields, checked and completed")


class PendingOut(BaseModel):
    run_id: str
    flow: str
    task: str
    task_key: str
    map_index: int | None
    prompt: str | None
    approvers: list[str]
    form: dict[str, Any] = Field(description="its fields, declared like params")
    since: str | None
    deadline: str | None = Field(description="when on_timeout applies (none: no timeout)")
    on_timeout: str | None
    may_decide: bool = Field(description="whether the caller is one of its approvers")


class PendingPage(BaseModel):
    items: list[PendingOut]


@router.get("/approvals", name="approvals.list", response_model=PendingPage)
def pending(store: StoreDep, secrets: SecretsDep, principal: Viewer) -> dict[str, Any]:
    """Approval tasks waiting for a decision, oldest first (secret values masked)."""
    read = store.read()
    return {"items": secrets.mask_json(approvals.pending(read, decider_of(read, principal)))}


@router.post(
    "/runs/{run_id}/tasks/{task}/approve", name="approvals.approve", response_model=DecisionOut
)
def approve(
    run_id: str, task: TASK, body: Decision, store: StoreDep, principal: Viewer
) -> dict[str, Any]:
    """Approve an approval task waiting for a decision: it succeeds, with the decision as
    its result. 403: not one of its approvers; 409: not waiting (any more)."""
    return _decide(store, principal, run_id, task, "approve", body)


@router.post(
    "/runs/{run_id}/tasks/{task}/reject", name="approvals.reject", response_model=DecisionOut
)
def reject(
    run_id: str, task: TASK, body: Decision, store: StoreDep, principal: Viewer
) -> dict[str, Any]:
    """Reject an approval task waiting for a decision: it fails with error_kind `rejected`
    (downstream follows its trigger rules). 403: not one of its approvers; 409: not waiting."""
    return _decide(store, principal, run_id, task, "reject", body)


def _decide(
    store: Store, principal: Principal, run_id: str, task: str, action: str, body: Decision
) -> dict[str, Any]:
    try:
        return approvals.decide(
            Engine(store),
            run_id,
            task,
            decider_of(store.read(), principal),
            action,
            comment=body.comment,
            inputs=body.inputs,
        )
    except approvals.NotAnApprover as exc:
        raise HTTPException(403, str(exc)) from None


def decider_of(read: Tx, principal: Principal) -> approvals.Decider:
    """The caller as an approval sees them (the UI's pages ask the same): their effective
    role on each flow (grants count), their groups, and the flows they may see."""
    return approvals.Decider(
        principal.user,
        principal.may_on,
        approvals.groups_of(read, principal.user),
        principal.access.visibility(),
    )
