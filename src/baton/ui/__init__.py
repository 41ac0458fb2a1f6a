"""The web UI: server-rendered pages (Jinja2) and small hand-written JavaScript.

`install(app)` adds the pages and /static to the API's app; `baton server` and `baton ui`
serve both. Everything is served from this package: no CDN, no build step, works offline.
"""

from __future__ import annotations

from fastapi import FastAPI

from baton.execution.secrets import Secrets
from baton.ui import admin, approvals, assets, diff, editor, flows, runs, web


def install(app: FastAPI) -> None:
    """Add the UI's pages (at /) and static files (at /static) to the API's app."""
    ui = app.state.ui = web.UI(Secrets.load(app.state.settings))
    # The editor before the flows: its /flows/new and /flows/NAME/edit are not flow names.
    for module in (admin, approvals, assets, diff, editor, flows, runs):
        app.include_router(module.router)
    app.mount("/static", ui.static, name="static")
    app.add_exception_handler(web.SignInRequired, web.sign_in_redirect)
    app.add_exception_handler(web.PageForbidden, web.forbidden_page)
    app.add_exception_handler(web.PageNotFound, web.not_found_page)
