"""The request-body limit: every route, any body, answered 413 before it is read whole; and
no NUL character in a path or query (PostgreSQL text cannot hold one: it would be a 503).

`BodyLimit` is ASGI middleware. A request whose `Content-Length` is over the limit is answered
at once, without reading its body. A body sent without a length (chunked) is counted as it
arrives: the first chunk past the limit ends it with a 413, so a server never holds more than
the limit of anyone's body, whatever the client says or does not say.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL = "a NUL character (\\0, %00) is not allowed in a name, key or filter"


def _nul(scope: Scope) -> str | None:
    """Where a request holds a NUL character: "path", "query", or None."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        return "query"
    return None


def too_large(limit: int) -> str:
    return f"the request body is over {limit} bytes, the server's limit (BATON_API_MAX_BODY)"


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _nul(scope)
        if where is not None:
            problem = {"type": "value_error", "loc": [where], "msg": NUL}
            await JSONResponse({"detail": [problem]}, status_code=422)(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            answer = JSONResponse({"detail": too_large(self.limit)}, status_code=413)
            await answer(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised to whoever reads the body; the app answers it like its own.
                    raise HTTPException(413, too_large(self.limit))
            return message

        await self.app(scope, counted, send)
