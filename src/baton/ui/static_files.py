"""The UI's static files, served from memory under names that carry their content hash.

`baton.css` is linked as `/static/baton.<hash>.css`: a name that changes whenever the file
does, so browsers may keep it for a year without asking again (`immutable`), and a new
release is never shown with an old stylesheet. The plain name still answers (a bookmark,
an old page), but must be revalidated. Each file is gzip-compressed once, at start-up, at
the highest level; the gzip middleware passes a response that already has an encoding.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

FOREVER = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = ("text/", "image/svg+xml", "application/javascript", "application/json")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class File:
    body: bytes
    gzipped: bytes | None  # None when compressing would not pay (already small or packed)
    media_type: str
    etag: str


class StaticFiles:
    """An ASGI app serving one folder's files (not its sub-folders), read once."""

    def __init__(self, folder: Path) -> None:
        self.urls: dict[str, str] = {}  # file name -> its hashed URL
        self._files: dict[str, tuple[File, bool]] = {}  # served name -> (file, immutable)
        for path in sorted(folder.iterdir()):
            if not path.is_file():
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            media_type = (
                _TYPES.get(path.suffix)
                or mimetypes.guess_type(path.name)[0]
                or "application/octet-stream"
            )
            packed = None
            if media_type.startswith(COMPRESSIBLE) and len(body) > 500:
                packed = gzip.compress(body, compresslevel=9, mtime=0)
            file = File(body, packed, media_type, f'"{digest}"')
            hashed = f"{path.stem}.{digest}{path.suffix}"
            self._files[hashed] = (file, True)
            self._files[path.name] = (file, False)
            self.urls[path.name] = f"/static/{hashed}"

    def url(self, name: str) -> str:
        """The hashed URL of a file of the folder (KeyError for a file it does not hold)."""
        return self.urls[name]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = self.response(request)
        await response(scope, receive, send)

    def response(self, request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[-1]
        found = self._files.get(name) if request.method in ("GET", "HEAD") else None
        if found is None:
            status = 404 if request.method in ("GET", "HEAD") else 405
            return Response("Not Found" if status == 404 else "Method Not Allowed", status)
        file, immutable = found
        headers = {
            "Cache-Control": FOREVER if immutable else REVALIDATE,
            "ETag": file.etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if file.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = file.body
        if file.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = file.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=file.media_type, headers=headers)
