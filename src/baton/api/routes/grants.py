"""Admin routes for grants (a user's or group's role on a namespace or one flow) and groups."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from baton.api import grants
from baton.api.common import NAMESPACE
from baton.api.deps import API, Admin, StoreDep, audited_router
from baton.model.access import ROLES

router = audited_router(prefix=API, tags=["grants"])

_NAME = r"^[^\s]+$"  # a user's or group's name (`grants.check_subject` says the rest)
_FLOW = r"^([A-Za-z0-9_][A-Za-z0-9_.-]*/)?[A-Za-z0-9_][A-Za-z0-9_.-]*$"
Name = Annotated[str, Path(max_length=grants.MAX_SUBJECT, pattern=_NAME)]


class GrantIn(BaseModel):
    """A role on a namespace or one flow, for a user or a group: one of each."""

    model_config = ConfigDict(extra="forbid")
    user: str | None = Field(default=None, max_length=grants.MAX_SUBJECT, pattern=_NAME)
    group: str | None = Field(default=None, max_length=grants.MAX_SUBJECT, pattern=_NAME)
    role: str = Field(
        json_schema_extra={"enum": list(ROLES)}, pattern="^(viewer|operator|editor|admin)$"
    )
    namespace: str | None = Field(default=None, max_length=100, pattern=NAMESPACE)
    flow: str | None = Field(
        default=None, max_length=200, pattern=_FLOW, description="`name` or `namespace/name`"
    )


class GrantOut(BaseModel):
    id: int
    user: str | None
    group: str | None
    role: str
    namespace: str | None
    flow: str | None
    created_at: float
    created_by: str


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(max_length=grants.MAX_SUBJECT, pattern=_NAME)


class GroupOut(BaseModel):
    group: str
    members: list[str]


@router.get("/grants", name="grants.list", response_model=list[GrantOut])
def list_grants(
    store: StoreDep,
    _: Admin,
    subject: Annotated[str | None, Query(max_length=grants.MAX_SUBJECT)] = None,
    scope: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Every grant, oldest first; `subject` keeps a user's or group's, `scope` those on a
    namespace or flow."""
    return [grants.grant_json(r) for r in store.read().grants(subject=subject, scope=scope)]


@router.post("/grants", name="grants.create", status_code=201, response_model=GrantOut)
def create_grant(body: GrantIn, store: StoreDep, caller: Admin, request: Request) -> dict[str, Any]:
    """Give a user or a group a role on a namespace or one flow (409: it holds it already)."""
    with store.transaction() as tx:
        grant_id = grants.add_grant(tx, by=caller.user, **body.model_dump())
        row = tx.grant(grant_id)
    assert row is not None
    request.state.audit_object = grant_id
    return grants.grant_json(row)


@router.delete("/grants/{grant_id}", name="grants.remove", status_code=204)
def remove_grant(grant_id: Annotated[int, Path(ge=1, le=2**62)], store: StoreDep, _: Admin) -> None:
    """Take a grant back: it stops counting at once."""
    with store.transaction() as tx:
        if not tx.remove_grant(grant_id):
            raise HTTPException(404, f"no grant {grant_id}; GET /api/v1/grants lists them")


@router.get("/groups", name="groups.list", response_model=list[GroupOut])
def list_groups(store: StoreDep, _: Admin) -> list[dict[str, Any]]:
    """Every group with its members, by name."""
    return grants.groups_json(store.read().group_members())


@router.post("/groups/{group}/members", name="groups.add_member", response_model=GroupOut)
def add_member(group: Name, body: MemberIn, store: StoreDep, _: Admin) -> dict[str, Any]:
    """Put a user in a group (a group is made by its first member); the group after it."""
    grants.check_subject(group, "group")
    grants.check_subject(body.user, "user")
    with store.transaction() as tx:
        tx.add_group_member(group, body.user, time.time())
        rows = tx.group_members(group)
    return grants.groups_json(rows)[0]


@router.delete("/groups/{group}/members/{user}", name="groups.remove_member", status_code=204)
def remove_member(group: Name, user: Name, store: StoreDep, _: Admin) -> None:
    """Take a user out of a group."""
    with store.transaction() as tx:
        if not tx.remove_group_member(group, user):
            raise HTTPException(404, f"'{user}' is not in group '{group}'")
