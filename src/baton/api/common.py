"""What route modules share: error answers, opaque page cursors, ISO times, the settings,
masking secrets in answers."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import types
import typing
from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, Field, create_model

from baton.execution.secrets import Secrets
from baton.settings import Settings

PAGE_LIMIT = 50  # items in a page unless `?limit=` says otherwise (1..MAX_PAGE_LIMIT)
MAX_PAGE_LIMIT = 500
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)?")


class Problem(BaseModel):
    loc: list[str | int] = Field(description="where: body, query or path, then the field")
    msg: str
    type: str


class ErrorOut(BaseModel):
    detail: str | list[Problem] = Field(
        description="what is wrong; for a malformed request, the problem of each field"
    )


# The errors any route may answer (baton's errors map to them: see app.STATUS).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "a body that cannot be read (not UTF-8 JSON)"},
    401: {"model": ErrorOut, "description": "no valid token"},
    403: {"model": ErrorOut, "description": "the token's role may not do this"},
    404: {"model": ErrorOut, "description": "no such flow, run, task or attempt"},
    409: {"model": ErrorOut, "description": "another change came first"},
    413: {"model": ErrorOut, "description": "a body over BATON_API_MAX_BODY bytes"},
    422: {"model": ErrorOut, "description": "a malformed request, or one that cannot be done"},
    503: {
        "model": ErrorOut,
        "description": "the store cannot be used as it is, or the server is busy: try again "
        "after the seconds in `Retry-After`",
    },
}


def _iso_time(value: Any) -> Any:
    if isinstance(value, str) and _ISO_TIME.fullmatch(value):
        return value
    raise ValueError("expected an ISO-8601 time such as 2024-06-01T00:00:00Z (UTC if no zone)")


# A time in a query: ISO-8601 only (pydantic would also take a number of seconds).
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


def encode_cursor(*values: Any) -> str:
    """A page's `next_cursor`: where the next page starts, opaque to clients."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(text: str, *types: type) -> tuple[Any, ...]:
    """The values `encode_cursor` put in `text`, of these `types`; for anything else, a 422
    naming `cursor`."""
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        values = None
    if not (
        isinstance(values, list)
        and len(values) == len(types)
        and all(_is(v, t) for v, t in zip(values, types, strict=True))
    ):
        msg = "not a cursor: pass a page's next_cursor as it is"
        raise invalid((("query", "cursor"), msg, "value_error"))
    return tuple(values)


def _is(value: Any, kind: type) -> bool:
    if kind is float:  # JSON may give a whole number back as an int
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def invalid(*problems: tuple[tuple[str, ...], str, str]) -> RequestValidationError:
    """A 422 in FastAPI's own shape for checks FastAPI cannot do: (loc, msg, type) each,
    `loc` naming the field, as in `("query", "cursor")`."""
    return RequestValidationError(
        [{"type": kind, "loc": loc, "msg": msg} for loc, msg, kind in problems]
    )


def out_model(
    view: type[msgspec.Struct],
    *,
    name: str | None = None,
    drop: tuple[str, ...] = (),
    **fields: Any,
) -> type[BaseModel]:
    """The schema of an answer (OpenAPI's, and what FastAPI checks the answer against) made
    from a read-model view's fields (`execution.views`), so a field added to the view is in
    the API's documented shape without writing it again. Views inside it become models
    too, tuples lists; `drop` leaves fields out; `fields` add or replace some, pydantic's
    way (`name=(type, default or Field(...))`). Named as the view, `View` -> `Out`."""
    spec: dict[str, Any] = {}
    for f in msgspec.structs.fields(view):
        if f.name in drop:
            continue
        default = ... if f.required else _default(f)
        spec[f.name] = (_out_type(f.type), default)
    spec |= fields
    model: type[BaseModel] = create_model(
        name or view.__name__.removesuffix("View") + "Out", **spec
    )
    return model


def _default(f: msgspec.structs.FieldInfo) -> Any:
    if f.default_factory is not msgspec.NODEFAULT:
        return Field(default_factory=f.default_factory)
    return list(f.default) if isinstance(f.default, tuple) else f.default


@functools.cache
def _nested(view: type[msgspec.Struct]) -> type[BaseModel]:
    return out_model(view)


def _out_type(t: Any) -> Any:
    """A view field's type as a model's: a view is its model, a tuple a list."""
    if isinstance(t, type) and issubclass(t, msgspec.Struct):
        return _nested(t)
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin in (types.UnionType, typing.Union):
        return functools.reduce(lambda a, b: a | b, [_out_type(a) for a in args])
    if origin is tuple:
        return list[_out_type(args[0])]  # type: ignore[misc]
    if origin in (list, dict):
        return origin[tuple(_out_type(a) for a in args)]
    return t


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_secrets(request: Request) -> Secrets:
    """The secrets whose values answers must not show; read for each request, so a secret
    added to the file is masked at once."""
    return Secrets.load(get_settings(request))


SettingsDep = Annotated[Settings, Depends(get_settings)]
SecretsDep = Annotated[Secrets, Depends(get_secrets)]


# A namespace in a query or a body (`model.namespaces`).
NAMESPACE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
