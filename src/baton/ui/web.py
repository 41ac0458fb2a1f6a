"""What every page shares: templates, the signed-in principal, the store, error pages.

Pages read the store directly (one or two queries each) and render HTML on the server; the
browser's JavaScript calls the REST API for actions and live updates, with the sign-in
cookie and the `X-Baton-UI` header (see `baton.api.deps.token_of`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
import msgspec
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from baton.api.auth import (
    ROLES,
    TOUCH_EVERY,
    Principal,
    authenticate,
    needs_touch,
    role_for,
    scope_of,
)
from baton.api.deps import COOKIE
from baton.api.stores import StorePool
from baton.errors import NotFoundError
from baton.execution.secrets import Secrets
from baton.model import access
from baton.model.graph import Graph
from baton.model.spec import FlowSpec
from baton.store.store import Tx
from baton.ui import dag, layout, static_files, views

HERE = Path(__file__).parent
DRAWINGS = 64  # flow versions whose DAG drawing is kept (a version never changes)


class SignInRequired(Exception):
    """The request has no valid sign-in cookie: it is sent to /login."""


class PageForbidden(Exception):
    """The principal's role may not see this page."""

    def __init__(self, principal: Principal, role: str) -> None:
        super().__init__(role)
        self.principal = principal
        self.role = role


class PageNotFound(Exception):
    """A flow or run this principal may not see (or that is not there): a 404 page."""


class UI:
    """The UI's state on the app: templates, the static files, layouts, secrets."""

    def __init__(self, secrets: Secrets) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.static = static_files.StaticFiles(HERE / "static")
        self.env.globals.update(views.GLOBALS, static=self.static.url)
        self.env.filters.update(views.FILTERS, tojson=_tojson)
        for name in self.env.list_templates():  # compiled now, not by a user's first visit
            self.env.get_template(name)
        self.secrets = secrets
        self._drawings: OrderedDict[tuple[str, frozenset[str]], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def drawing(
        self, spec: FlowSpec, graph: Graph, version_id: str, unfolded: frozenset[str]
    ) -> dict[str, Any]:
        """The DAG drawing of a flow version with the groups not in `unfolded` folded, laid
        out once (versions never change)."""
        cache_key = (version_id, unfolded)
        with self._lock:
            found = self._drawings.get(cache_key)
            if found is not None:
                self._drawings.move_to_end(cache_key)
                return found
        groups = dag.groups_of(spec)
        folded = dag.fold(
            graph.order, graph.upstream, {n: k for n, k in groups.items() if n not in unfolded}
        )
        made = dag.drawing(
            layout.layout(folded.order, folded.upstream),
            {t.key: t.type for t in spec.tasks},
            folded,
        )
        with self._lock:
            self._drawings[cache_key] = made
            while len(self._drawings) > DRAWINGS:
                self._drawings.popitem(last=False)
        return made


def ui_of(request: Request) -> UI:
    ui: UI = request.app.state.ui
    return ui


@contextmanager
def reading(request: Request) -> Iterator[Tx]:
    """Reads from a store lent by the app's pool for as long as the block runs."""
    pool: StorePool = request.app.state.stores
    with pool.store() as store:
        yield store.read()


def signed_in(request: Request) -> Principal:
    """The principal whose token the sign-in cookie holds; else off to /login."""
    text = request.cookies.get(COOKIE)
    principal = None
    if text:
        now: float = request.app.state.clock()  # the API's: expiry agrees on both
        pool: StorePool = request.app.state.stores
        with pool.store() as store:
            read = store.read()
            principal = authenticate(read, text, now)
            if principal is not None:
                if needs_touch(principal, now):
                    with store.transaction() as tx:
                        tx.touch_token(principal.token_id, now, TOUCH_EVERY)
                request.state.principal = principal
                request.state.page_role = _page_role(read, principal, request)
    if principal is None:
        raise SignInRequired
    if not access.at_least(request.state.page_role, "viewer"):
        raise PageForbidden(principal, "viewer")
    return principal


def _page_role(read: Tx, principal: Principal, request: Request) -> str | None:
    """The caller's role on what this page shows, as the API decides it (`auth.role_for`):
    a flow, a run, a list (filtered by the page), or anything else (the global role). A flow
    or run it may not see raises PageNotFound."""
    route = request.scope.get("route")
    name, path = (getattr(route, "name", ""), getattr(route, "path", ""))
    try:
        return role_for(read, principal, scope_of(name, path), request.path_params)
    except NotFoundError as exc:
        raise PageNotFound(str(exc)) from None


def at_least(role: str) -> Callable[[Request, Principal], Principal]:
    """A dependency: a signed-in principal of `role` or above on what the page shows (its
    flow's role for a flow's page, as `_page_role` decides; else a 403 page)."""

    def check(request: Request, principal: Annotated[Principal, Depends(signed_in)]) -> Principal:
        if not access.at_least(request.state.page_role, role):
            raise PageForbidden(principal, role)
        return principal

    return check


# A page needs the viewer role on what it shows (`signed_in` asks `_page_role`): a token
# without a global role, or limited to a namespace, sees the flows its grants let it see.
Viewer = Annotated[Principal, Depends(signed_in)]
Admin = Annotated[Principal, Depends(at_least("admin"))]


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page; every template gets the request, the principal and what it may do."""
    principal: Principal | None = getattr(request.state, "principal", None)
    html = (
        ui_of(request)
        .env.get_template(template)
        .render(
            request=request,
            principal=principal,
            # What the page's buttons may do (on its flow or run), and the menu (global).
            may={r: access.at_least(getattr(request.state, "page_role", None), r) for r in ROLES},
            may_global={r: bool(principal and principal.may(r)) for r in ROLES},
            **{"nav": "", **context},
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=_HEADERS)


_HEADERS = {
    # Pages hold live state: a browser must not show a stale copy on Back.
    "Cache-Control": "no-store",
    # Only this server's own script and styles run (the page data is JSON, not script).
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def forbidden_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    return page(
        request,
        "error.html",
        status_code=403,
        title="Not allowed",
        message=f"This page needs the {exc.role} role; your token has "
        + (f"the {exc.principal.role} role." if exc.principal.role else "no global role."),
    )


def same_origin(request: Request) -> bool:
    """Whether a form post comes from this server's own pages (a browser names the page's
    origin; a post from another site's page must not sign anyone in or out)."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def not_found_page(request: Request, exc: Exception) -> Response:
    return not_found(request, str(exc))


def not_found(request: Request, message: str) -> HTMLResponse:
    return page(request, "error.html", status_code=404, title="Not found", message=message)


def _tojson(value: Any) -> Markup:
    """JSON safe inside a <script> element (no `</script>` or `<!--` can end it)."""
    text = msgspec.json.encode(value).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)
