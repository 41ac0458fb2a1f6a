"""Admin routes: tokens, users and the audit log (which the API can only read)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from pydantic import BaseModel, Field, field_validator

from baton import errors
from baton.api import auth
from baton.api.auth import ROLES, create_token
from baton.api.deps import API, Admin, StoreDep, audited_router, clock_of
from baton.model import durations
from baton.store.store import Row

router = audited_router(prefix=API, tags=["admin"])


class TokenIn(BaseModel):
    user: str = Field(min_length=1, max_length=200, pattern=r"\S")
    role: str | None = Field(
        default=None,
        json_schema_extra={"enum": list(ROLES)},
        pattern="^(viewer|operator|editor|admin)$",
        description="the token's global role; none: it carries only its user's grants",
    )
    description: str | None = Field(default=None, max_length=1000)
    expires_in: str | None = Field(
        default=None,
        max_length=40,
        description="how long the token works: 30s, 15m, 6h, 30d (none: until revoked)",
        examples=["30d"],
    )
    namespace: str | None = Field(
        default=None,
        pattern=f"^{auth.NAMESPACE.pattern}$",
        max_length=200,
        description="the one namespace the token may act in (none: any)",
    )

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                durations.parse(value, "expires_in", error=errors.InputError)
            except errors.InputError as exc:
                raise ValueError(str(exc)) from None
        return value


class TokenOut(BaseModel):
    id: str
    user: str
    role: str | None
    namespace: str | None
    description: str | None
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None


class NewToken(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


def _token(r: Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "user": r["user_name"],
        "role": r["role"],
        "namespace": r["namespace"],
        "description": r["description"],
        "created_at": r["created_at"],
        "expires_at": r["expires_at"],
        "last_used_at": r["last_used_at"],
        "revoked_at": r["revoked_at"],
    }


@router.post("/tokens", name="tokens.create", status_code=201, response_model=NewToken)
def create(body: TokenIn, store: StoreDep, _: Admin, request: Request) -> dict[str, Any]:
    """Create a token for a user, with a global role or none (then only the user's grants
    count), maybe expiring (`expires_in`) or limited to one namespace; the answer holds the
    token, shown once."""
    expires_in = None
    if body.expires_in is not None:
        expires_in = durations.parse(body.expires_in, "expires_in", error=errors.InputError)
    with store.transaction() as tx:
        token_id, text = create_token(
            tx,
            body.user,
            body.role,
            body.description,
            clock_of(request),
            expires_in=expires_in,
            namespace=body.namespace,
        )
        row = tx.token(token_id)
    assert row is not None
    request.state.audit_object = token_id
    return {**_token(row), "token": text}


@router.get("/tokens", name="tokens.list", response_model=list[TokenOut])
def tokens(store: StoreDep, _: Admin, include_revoked: bool = False) -> list[dict[str, Any]]:
    return [_token(r) for r in store.read().tokens(include_revoked=include_revoked)]


@router.delete("/tokens/{token_id}", name="tokens.revoke", status_code=204)
def revoke(token_id: str, store: StoreDep, _: Admin, request: Request) -> None:
    """Revoke a token: it stops working at once."""
    with store.transaction() as tx:
        if not tx.revoke_token(token_id, clock_of(request)):
            raise HTTPException(404, f"no active token '{token_id}'")


class UserOut(BaseModel):
    user: str
    roles: list[str] = Field(description="the global roles of the user's tokens, highest first")
    grants: list[dict[str, Any]] = Field(description="roles on namespaces or flows")


@router.get("/users", name="users.list", response_model=list[UserOut])
def users(store: StoreDep, _: Admin, request: Request) -> list[dict[str, Any]]:
    """Everyone who holds a working token (not revoked, not expired), with their global roles
    and grants."""
    return auth.users(store.read(), clock_of(request))


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
    since: Annotated[float | None, Query(ge=0, le=1e11, description="UNIX seconds")] = None,
) -> dict[str, Any]:
    """The audit log, newest first; `cursor` (the `next_cursor` of a page) pages back;
    `since`: only entries at or after that time."""
    rows = store.read().audit(
        limit=limit + 1,
        before_id=int(cursor) if cursor else None,
        actor=actor,
        action=action,
        since=since,
    )
    items = [
        {**dict(r), "detail": json.loads(r["detail"]) if r["detail"] else None}
        for r in rows[:limit]
    ]
    return {
        "items": items,
        "next_cursor": str(rows[limit - 1]["id"]) if len(rows) > limit else None,
    }
