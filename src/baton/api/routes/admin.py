"""Admin routes: tokens, users and the audit log (which the API can only read)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from pydantic import BaseModel, Field

from baton.api.auth import ROLES, create_token
from baton.api.deps import API, Admin, StoreDep, audited_router
from baton.store.store import Row

router = audited_router(prefix=API, tags=["admin"])


class TokenIn(BaseModel):
    user: str = Field(min_length=1, max_length=200, pattern=r"\S")
    role: str = Field(
        json_schema_extra={"enum": list(ROLES)}, pattern="^(viewer|operator|editor|admin)$"
    )
    description: str | None = Field(default=None, max_length=1000)


class TokenOut(BaseModel):
    id: str
    user: str
    role: str | None  # None: the token carries only its user's grants
    description: str | None
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


class NewToken(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


def _token(r: Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "user": r["user_name"],
        "role": r["role"],
        "description": r["description"],
        "created_at": r["created_at"],
        "last_used_at": r["last_used_at"],
        "revoked_at": r["revoked_at"],
    }


@router.post("/tokens", name="tokens.create", status_code=201, response_model=NewToken)
def create(body: TokenIn, store: StoreDep, _: Admin, request: Request) -> dict[str, Any]:
    """Create a token for a user with a role; the answer holds the token, shown once."""
    with store.transaction() as tx:
        token_id, text = create_token(tx, body.user, body.role, body.description)
        row = tx.token(token_id)
    assert row is not None
    request.state.audit_object = token_id
    return {**_token(row), "token": text}


@router.get("/tokens", name="tokens.list", response_model=list[TokenOut])
def tokens(store: StoreDep, _: Admin, include_revoked: bool = False) -> list[dict[str, Any]]:
    return [_token(r) for r in store.read().tokens(include_revoked=include_revoked)]


@router.delete("/tokens/{token_id}", name="tokens.revoke", status_code=204)
def revoke(token_id: str, store: StoreDep, _: Admin) -> None:
    """Revoke a token: it stops working at once."""
    with store.transaction() as tx:
        if not tx.revoke_token(token_id, time.time()):
            raise HTTPException(404, f"no active token '{token_id}'")


@router.get("/users", name="users.list")
def users(store: StoreDep, _: Admin) -> list[dict[str, Any]]:
    """Everyone who holds an active token, with their roles."""
    found: dict[str, set[str]] = {}
    for r in store.read().tokens():
        roles = found.setdefault(r["user_name"], set())
        if r["role"] is not None:  # a token that carries only its user's grants
            roles.add(r["role"])
    return [{"user": u, "roles": sorted(found[u], key=ROLES.index)} for u in sorted(found)]


class AuditEntry(BaseModel):
    id: int
    at: float
    actor: str
    token_id: str | None
    role: str | None
    action: str
    object_type: str | None
    object_id: str | None
    outcome: str
    status: int
    remote: str | None
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


@router.get("/audit", name="audit.list", response_model=AuditPage)
def audit(
    store: StoreDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """The audit log, newest first; `cursor` (the `next_cursor` of a page) pages back."""
    rows = store.read().audit(
        limit=limit + 1,
        before_id=int(cursor) if cursor else None,
        actor=actor,
        action=action,
    )
    items = [
        {**dict(r), "detail": json.loads(r["detail"]) if r["detail"] else None}
        for r in rows[:limit]
    ]
    return {
        "items": items,
        "next_cursor": str(rows[limit - 1]["id"]) if len(rows) > limit else None,
    }
