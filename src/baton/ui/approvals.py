"""The approvals page (what waits for a decision), and the approval cards the run and task
pages show: a prompt, the form, Approve and Reject (only to the task's approvers: the
buttons call the API, which refuses anyone else with 403)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.api.auth import Principal
from baton.api.routes.approvals import decider_of
from baton.execution import approvals
from baton.store.store import Tx
from baton.ui import web
from baton.ui.web import Viewer

router = APIRouter(include_in_schema=False)


@router.get("/approvals", name="approvals", response_class=HTMLResponse)
def page(request: Request, principal: Viewer) -> HTMLResponse:
    with web.reading(request) as read:
        items = web.ui_of(request).secrets.mask_json(waiting(read, principal))
    return web.page(request, "approvals.html", title="Approvals", nav="approvals", items=items)


def waiting(read: Tx, principal: Principal, run_id: str | None = None) -> list[dict[str, Any]]:
    """The approvals waiting (of one run, when given), each with `may_decide`."""
    items = approvals.pending(read, decider_of(read, principal))
    return [a for a in items if run_id is None or a["run_id"] == run_id]
