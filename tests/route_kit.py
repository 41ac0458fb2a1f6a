"""What the route matrices share (tests/api/test_roles.py by role, test_grants.py by grant):
the app as `baton server` serves it, its routes, who may call each, and the store's rows."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, routing
from starlette.routing import Mount

from baton import ui
from baton.api import create_app
from baton.api.deps import AuditedRoute
from baton.settings import Settings

# Who may call each route (by name): the lowest role, or None for anyone.
MIN_ROLE: dict[str, str | None] = {
    # No token: health, the API's description, the UI's sign-in and static files.
    "healthz": None,
    "openapi": None,
    "swagger_ui_html": None,
    "swagger_ui_redirect": None,
    "home": None,
    "login_form": None,
    "login": None,
    "logout": None,
    "static": None,
    # viewer: read everything but tokens, users and the audit log.
    "metrics.read": "viewer",
    "flows.list": "viewer",
    "flows.get": "viewer",
    "runs.list": "viewer",
    "runs.get": "viewer",
    "logs.get": "viewer",
    "logs.stream": "viewer",
    "workers.list": "viewer",
    "pools.list": "viewer",
    "queues.list": "viewer",
    "flows": "viewer",  # the UI's pages
    "flow": "viewer",
    "runs": "viewer",
    "run": "viewer",
    "task": "viewer",
    "workers": "viewer",
    "assets.list": "viewer",
    "assets.get": "viewer",
    "assets.materializations": "viewer",
    "assets.checks": "viewer",
    "lineage.get": "viewer",
    "flows.partitions": "viewer",
    "partitions.keys": "viewer",
    "backfills.get": "viewer",
    "assets.partitions": "viewer",
    "assets": "viewer",  # the UI's pages
    "asset": "viewer",
    "lineage": "viewer",
    # viewer, and then one of the task's approvers (tests/api/test_approvals.py): here the
    # task is no approval, so the role check passes and the call answers 409. The list shows
    # only the approvals of flows the caller may see.
    "approvals.list": "viewer",
    "approvals.approve": "viewer",
    "approvals.reject": "viewer",
    "approvals": "viewer",  # the UI's page
    # operator: + trigger, cancel, repair, resume runs; pause and unpause flows.
    "flows.trigger": "operator",
    "flows.pause": "operator",
    "flows.unpause": "operator",
    "runs.cancel": "operator",
    "runs.repair": "operator",
    "runs.resume": "operator",
    "workers.embedded": "operator",
    "diff_page": "viewer",
    "flow_new": "editor",
    "flow_edit": "editor",
    "editor_check": "editor",
    "runs.acknowledge": "operator",
    "assets.report": "operator",
    "partitions.add": "operator",
    "flows.backfill": "operator",
    "backfills.cancel": "operator",
    "partitions.remove": "operator",
    # editor: + create, update and delete flows.
    "flows.create": "editor",
    "flows.update": "editor",
    "flows.delete": "editor",
    # admin: + tokens, users, pools, the audit log.
    "tokens.create": "admin",
    "tokens.list": "admin",
    "tokens.revoke": "admin",
    "users.list": "admin",
    "audit.list": "admin",
    "pools.set": "admin",
    "pools.delete": "admin",
    "audit": "admin",  # the UI's page
    "grants.list": "admin",
    "grants.create": "admin",
    "grants.remove": "admin",
    "groups.list": "admin",
    "groups.add_member": "admin",
    "groups.remove_member": "admin",
}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    kind: str  # "api" (a Bearer token), "page" (the UI's sign-in cookie) or "public"

    @property
    def role(self) -> str | None:
        return MIN_ROLE[self.name]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def served_app(settings: Settings) -> FastAPI:
    """The app as `baton server` serves it: the API and the UI."""
    app = create_app(settings)
    ui.install(app)
    return app


def routes_of(app: FastAPI) -> list[Route]:
    found = []
    for r in routing.iter_route_contexts(app.routes):
        original = r.original_route
        if isinstance(original, Mount):
            found.append(Route(str(r.name), "GET", f"{r.path}/app.js", "public"))
            continue
        kind = "api" if isinstance(original, AuditedRoute) else "page"
        if MIN_ROLE.get(str(r.name), "?") is None:
            kind = "public"
        for method in sorted((r.methods or set()) - {"HEAD"}):
            found.append(Route(str(r.name), method, str(r.path), kind))
    return found


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the audit log (and when tokens were last used), row by row."""
    conn = sqlite3.connect(db)
    try:
        tables = [
            t
            for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if t != "audit_log" and not t.startswith("sqlite_")
        ]
        rows = {}
        for t in tables:
            cur = conn.execute(f"SELECT * FROM {t} ORDER BY rowid")
            cols = [d[0] for d in cur.description]
            rows[t] = [
                tuple(v for c, v in zip(cols, row, strict=True) if c != "last_used_at")
                for row in cur
            ]
        return rows
    finally:
        conn.close()


def audited(db: Path) -> list[tuple[str, str, int]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute("SELECT action, outcome, status FROM audit_log ORDER BY id"))
    finally:
        conn.close()
