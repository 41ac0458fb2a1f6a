"""What every route depends on: the route class that authorizes and audits each call, the
store lent to the request, and the caller's role.

Route modules import from here and `app` imports the route modules, so the imports run one
way: app -> routes -> deps (-> auth, stores, common). Mutating calls are audited, refused
ones too, by the route class below: one place, so no route can forget it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from baton import errors
from baton.api.auth import (
    TOUCH_EVERY,
    Expired,
    Principal,
    identify,
    needs_touch,
    role_for,
    scope_of,
)
from baton.api.common import ERRORS
from baton.api.stores import StorePool
from baton.model import json_text
from baton.model.access import at_least
from baton.store.store import Store

API = "/api/v1"  # where the routes are served, but /metrics and /healthz
COOKIE = "baton_token"  # the UI's sign-in cookie
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# baton's errors as HTTP statuses; anything else a route raises is a bug (500).
STATUS: tuple[tuple[type[errors.BatonError], int], ...] = (
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.TransitionError, 409),
    (errors.ParamError, 422),
    (errors.InputError, 422),
    (errors.DefinitionError, 422),
    (errors.StoreError, 503),
)

_bearer = HTTPBearer(auto_error=False, description="an API token: `baton tokens create`")


def status_of(exc: BaseException) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


class AuditedRoute(APIRoute):
    """A route that checks the caller's token and role before anything else (so a refused
    call learns nothing about its body: 401, then 403, then validation), and whose mutating
    calls write an audit entry: who, what, which object, when, from where, and the outcome
    (ok, refused: 401/403, failed: any other error).

    A request takes one store from the pool and keeps it for its authorization, its route and
    its audit entry (`get_store` hands the route that one). It reads its body first: a slow
    client keeps its own connection busy, never a store. A request that finds no store free
    within the pool's wait is answered 503 (`stores.Busy`), unaudited: nothing was done."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        role = _required_role(self.dependant)
        scope = scope_of(self.name, self.path)
        audited = bool((self.methods or set()) & MUTATING)
        action = self.name

        async def route(request: Request) -> Response:
            pool: StorePool = request.app.state.stores
            if request.method in MUTATING:
                await _read_body(request)
            async with pool.lend() as store:
                request.state.store = store
                try:
                    if role is not None:
                        await run_in_threadpool(_authorize, store, request, role, scope)
                    response = await handler(request)
                except Exception as exc:
                    # An expired token is audited whatever the call (reads too): someone
                    # still holds and uses a token that should have been replaced.
                    expired = getattr(request.state, "expired", None)
                    if audited or expired:
                        await run_in_threadpool(
                            _audit, store, request, action, status_of(exc), str(exc)
                        )
                    raise
                if audited:
                    await run_in_threadpool(
                        _audit, store, request, action, response.status_code, None
                    )
                return response

        return route


async def _read_body(request: Request) -> None:
    """Read the body now, before taking a store (the route reads it again from `request`'s
    cache). A body over the limit is answered 413 here (`limits.BodyLimit`), unaudited like a
    503: the call was refused before anyone was known or anything done."""
    try:
        body = await request.body()
    except HTTPException:
        raise
    except Exception as exc:  # the client went away mid-body: nothing to answer
        raise HTTPException(400, f"the request body could not be read ({exc})") from None
    if body and "json" in request.headers.get("content-type", ""):
        await _refuse_lone_surrogates(request)


async def _refuse_lone_surrogates(request: Request) -> None:
    """422 naming the field, as for any invalid field, for a JSON string such as `"\ud800"`:
    stored, it would break every answer and page that shows it (no UTF-8 can hold it). The
    body is parsed once: `request.json()` keeps what it parsed for the route."""
    try:
        data = await request.json()
    except ValueError:
        return  # the route's own validation says what is wrong with it
    path = json_text.not_unicode_at(data)
    if path is None:
        return
    raise RequestValidationError(
        [
            {
                "loc": ("body", *path),
                "msg": "not valid Unicode (a lone surrogate)",
                "type": "value_error",
            }
        ]
    )


def _required_role(dependant: Dependant) -> str | None:
    for d in dependant.dependencies:
        role = getattr(d.call, "required_role", None) or _required_role(d)
        if role:
            return str(role)
    return None


def token_of(request: Request) -> str | None:
    """The token a request carries: `Authorization: Bearer`, or the UI's sign-in cookie.

    The cookie counts only with the `X-Baton-UI` header, which a page of another site cannot
    send without a CORS preflight that this server never grants: so a cookie alone cannot make
    a browser change anything on a user's behalf (no CSRF).
    """
    scheme, _, text = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and text.strip():
        return text.strip()
    if request.headers.get("x-baton-ui"):
        return request.cookies.get(COOKIE)
    return None


def clock_of(request: Request) -> float:
    """The app's "now" for token expiry and audit times (`create_app`'s `clock`)."""
    now: float = request.app.state.clock()
    return now


def _authorize(store: Store, request: Request, role: str, scope: str) -> None:
    """Set `request.state.principal`, or raise 401 (no valid token, or an expired one: then
    `request.state.expired` says whose), 404 (a flow, or a run of one, the caller may not
    see) or 403 (role too low): see `auth.role_for`. Records the token's use, at most once
    per `auth.TOUCH_EVERY`."""
    now = clock_of(request)
    principal = identify(store.read(), token_of(request), now)
    if isinstance(principal, Expired):
        request.state.expired = principal
        raise HTTPException(
            401,
            "this API token has expired: ask an admin for a new one (`baton tokens create`)",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if principal is None:
        raise HTTPException(
            401,
            "a valid API token is required: `Authorization: Bearer <token>` "
            "(`baton tokens create` makes one)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    if needs_touch(principal, now):
        with store.transaction() as tx:
            tx.touch_token(principal.token_id, now, TOUCH_EVERY)
    try:
        held = role_for(store.read(), principal, scope, request.path_params)
    except errors.NotFoundError:
        request.state.refused = True  # audited as refused, though answered as not found
        raise
    if not at_least(held, role):
        raise HTTPException(
            403, f"{refusal(principal, held)} may not do this: it needs '{role}' or above"
        )


def refusal(principal: Principal, held: str | None) -> str:
    """Who was refused, as a 403 names them: the role they hold here, else why none."""
    if held is not None:
        who = f"role '{held}'"
    elif principal.role is None:
        who = "a token without a role (and no grant that counts here)"
    else:
        who = f"role '{principal.role}'"
    if principal.namespace and principal.role:
        who += f" (limited to namespace '{principal.namespace}')"
    return who


def _audit(store: Store, request: Request, action: str, status: int, error: str | None) -> None:
    principal: Principal | None = getattr(request.state, "principal", None)
    expired: Expired | None = getattr(request.state, "expired", None)
    params = dict(request.path_params)
    object_type = action.split(".", 1)[0]
    object_id = next(iter(params.values()), None) or getattr(request.state, "audit_object", None)
    refused = status in (401, 403) or getattr(request.state, "refused", False)
    outcome = "ok" if status < 400 else "refused" if refused else "failed"
    detail = {"method": request.method, "path": request.url.path}
    if error:
        detail["error"] = error[:500]
    actor, token_id = "anonymous", None
    if principal is not None:
        actor, token_id = principal.user, principal.token_id
    elif expired is not None:  # one entry, `auth.expired`, naming the route it was refused
        actor, token_id = expired.user, expired.token_id
        object_type, object_id = "token", expired.token_id
        detail["route"], action = action, "auth.expired"
    with store.transaction() as tx:
        tx.add_audit(
            {
                "at": clock_of(request),
                "actor": actor,
                "token_id": token_id,
                "role": principal.role if principal else None,
                "action": action,
                "object_type": object_type,
                "object_id": None if object_id is None else str(object_id)[:300],
                "outcome": outcome,
                "status": status,
                "remote": request.client.host if request.client else None,
                "detail": json.dumps(detail),
            }
        )


async def get_store(request: Request) -> Store:
    """The store the route class lent this request (a coroutine: no thread to wait for)."""
    store: Store = request.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def require(role: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, who holds a valid token of `role` or above. The route class
    checks that before anything else; the bearer scheme here puts it in the OpenAPI document."""

    async def caller(  # a coroutine: no thread hop for a field read
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal: Principal = request.state.principal
        return principal

    caller.required_role = role  # type: ignore[attr-defined]
    return caller


# The roles a route may require of its caller (see `auth.ROLES`): `_: Viewer` in its signature.
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def audited_router(**kwargs: Any) -> APIRouter:
    """A router whose routes are authorized, audited and document the errors they answer;
    every route module builds its own with this, and says there where its routes are served
    (`prefix=API`, or at the root)."""
    return APIRouter(route_class=AuditedRoute, responses=ERRORS, **kwargs)
