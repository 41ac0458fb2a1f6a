"""The REST API: `create_app(settings, store)` builds it; `baton server` serves it.

Everything under /api/v1 needs `Authorization: Bearer <token>` (see `auth`); /healthz does
not. Mutating calls are audited, refused ones too, by the route class all routes use
(`deps.AuditedRoute`): one place, so no route can forget it. Errors are JSON:
{"detail": "what is wrong"} for baton's own errors, and FastAPI's
{"detail": [{"loc": [...], "msg": ...}]} for a malformed request (422), which names the
field. No route answers 500 for bad input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from baton import errors
from baton.api import limits, routes
from baton.api.deps import API, status_of
from baton.api.stores import StorePool
from baton.settings import Settings
from baton.store.store import Store


def create_app(
    settings: Settings, store: Store | None = None, clock: Callable[[], float] = time.time
) -> FastAPI:
    """The API over the store at `settings.database_url` (or over `store`, one connection
    that requests then take turns on). `clock` tells the time tokens expire by and audit
    entries are stamped with (tests pass their own)."""
    app = FastAPI(
        title="baton",
        version="1",
        description="The REST API of baton, a workflow orchestrator.",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.stores = StorePool.of(store) if store else StorePool(settings.database_url)

    async def baton_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))

    app.add_exception_handler(errors.BatonError, baton_error)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        # FastAPI's own answer, but in ASCII JSON: the `input` it echoes may hold a lone
        # surrogate (a valid JSON escape, no UTF-8), which its handler fails to encode (500).
        assert isinstance(exc, RequestValidationError)
        body = json.dumps({"detail": jsonable_encoder(exc.errors())})
        return Response(body, status_code=422, media_type="application/json")

    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Whether the server is up; needs no token. (A coroutine: it needs no thread, so it
        answers even when every thread is busy.)"""
        return {"status": "ok"}

    for module in routes.MODULES:
        app.include_router(module.router)
    app.router.add_event_handler("shutdown", app.state.stores.close)
    app.add_middleware(limits.BodyLimit, limit=settings.api_max_body)
    return app
