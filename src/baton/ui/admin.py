"""Sign-in and sign-out, the workers page (workers, pools, queues) and the audit log."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from baton.api.auth import authenticate
from baton.api.deps import COOKIE
from baton.model import resources
from baton.ui import views, web
from baton.ui.web import Admin, Viewer

router = APIRouter(include_in_schema=False)
COOKIE_DAYS = 7
AUDIT_PAGE = 100
RUNNING_SHOWN = 500  # running task runs listed on the workers page
MAX_FORM = 4096  # bytes of a sign-in form: a token is ~60
CROSS_SITE = "This form was sent from another site's page."


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/flows", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/flows") -> HTMLResponse:
    return web.page(request, "login.html", title="Sign in", next=_local(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    if not web.same_origin(request):
        return web.page(request, "error.html", 403, title="Not allowed", message=CROSS_SITE)
    # A plain form post, parsed here: no multipart dependency for one field.
    body = (await request.body())[:MAX_FORM].decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    token, target = form.get("token", "").strip(), _local(form.get("next", "/flows"))
    with web.reading(request) as read:
        principal = authenticate(read, token, request.app.state.clock())
    if principal is None:
        return web.page(
            request,
            "login.html",
            status_code=401,
            title="Sign in",
            next=target,
            error="This token is not valid: it is mistyped, revoked, or from another server.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", response_class=RedirectResponse)
def logout(request: Request) -> Response:
    if not web.same_origin(request):
        return web.page(request, "error.html", 403, title="Not allowed", message=CROSS_SITE)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response


@router.get("/workers", response_class=HTMLResponse)
def workers(request: Request, principal: Viewer) -> HTMLResponse:
    settings = request.app.state.settings
    with web.reading(request) as read:
        rows = read.workers()
        pools = read.pools()
        queues = read.queue_counts()
        running = read.running_tasks(RUNNING_SHOWN)
        now = read.now()  # heartbeats are stamped by the store's clock (PostgreSQL's)
    doing: dict[str, list[dict[str, Any]]] = {}
    for r in running:
        doing.setdefault(r["worker_id"], []).append(
            {**r, "name": views.task_name(r["task_key"], r["map_index"])}
        )
    stale_after = 3 * settings.heartbeat_seconds  # as `baton_workers_alive` counts them
    return web.page(
        request,
        "workers.html",
        title="Workers",
        nav="workers",
        workers=[
            {
                **msgspec.structs.asdict(w),
                "queues": json.loads(w.queues),
                "alive": now - w.heartbeat_at < stale_after,
                "doing": doing.get(w.id, []),
                "usage": resources.usage(w.used, w.capacity),
            }
            for w in rows
        ],
        pools=pools,
        queues=queues,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    principal: Admin,
    actor: str = "",
    action: str = "",
    before: str | None = None,
) -> HTMLResponse:
    actor, action = actor.strip()[:200], action.strip()[:100]
    before_id = views.whole(before) or None
    with web.reading(request) as read:
        rows = read.audit(
            limit=AUDIT_PAGE + 1, before_id=before_id, actor=actor or None, action=action or None
        )
    entries: list[dict[str, Any]] = [
        {**r, "detail": json.loads(r["detail"]) if r["detail"] else {}} for r in rows[:AUDIT_PAGE]
    ]
    return web.page(
        request,
        "audit.html",
        title="Audit log",
        nav="audit",
        entries=entries,
        actor=actor,
        action=action,
        older=rows[AUDIT_PAGE - 1]["id"] if len(rows) > AUDIT_PAGE else None,
        first_page=before is None,
    )


def _local(target: str) -> str:
    """Only a path of this server: a sign-in must not send anyone elsewhere."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/flows"
    return target
