"""What changed between two versions of a flow: a summary by task, and the definitions'
line-by-line diff (`/flows/{name}/diff?from=A&to=B`)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from baton.model.spec import FlowSpec
from baton.store.store import Row
from baton.ui import web
from baton.ui.web import Viewer

router = APIRouter(include_in_schema=False)
CONTEXT = 3  # unchanged lines shown around each change
MAX_LINES = 5_000  # of a diff shown; a bigger one is cut, with a note


@dataclass(frozen=True, slots=True)
class Change:
    """What differs between two definitions, by the parts users think in."""

    added: list[str]  # task keys
    removed: list[str]
    changed: list[str]
    other: list[str]  # flow-level fields that differ (schedule, params, ...)


def older_definition(shown: FlowSpec, latest: FlowSpec) -> bool:
    """Whether `shown` is another definition than `latest` (not the same one stored under
    another id, as stores written before versions were hashed without file paths hold)."""
    return shown.content_hash() != latest.content_hash()


def change(old: FlowSpec, new: FlowSpec) -> Change:
    a = {t.key: t for t in old.tasks}
    b = {t.key: t for t in new.tasks}
    fields_a, fields_b = old.to_builtins(), new.to_builtins()
    return Change(
        added=[k for k in b if k not in a],
        removed=[k for k in a if k not in b],
        changed=[k for k in b if k in a and a[k] != b[k]],
        other=sorted(
            f
            for f in set(fields_a) | set(fields_b)
            if f != "tasks" and fields_a.get(f) != fields_b.get(f)
        ),
    )


def diff_lines(old: str, new: str) -> tuple[list[tuple[str, str]], bool]:
    """A unified diff as (kind, text) rows, kind one of add, del, hunk, same; and whether
    it was cut at MAX_LINES."""
    rows: list[tuple[str, str]] = []
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), n=CONTEXT, lineterm="")
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        rows.append((kind, line))
        if len(rows) >= MAX_LINES:
            return rows, True
    return rows, False


def _resolve(versions: list[Row], given: str) -> str | None:
    """A version id from the id or a prefix of it (the pages show ten characters)."""
    given = given.strip()
    if not given or len(given) > 64:
        return None
    found = [str(v["id"]) for v in versions if str(v["id"]).startswith(given)]
    if given in found:
        return given
    return found[0] if len(found) == 1 else None


@router.get("/flows/{name}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request,
    name: str,
    principal: Viewer,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> HTMLResponse:
    ui = web.ui_of(request)
    with web.reading(request) as read:
        found = read.flow_rows(name=name, limit=1)
        if not found:
            return web.not_found(request, f"There is no flow named “{name}”.")
        versions = read.flow_versions(name)  # newest first
        ids = [str(v["id"]) for v in versions]
        new_id = _resolve(versions, to) if to else found[0].latest_version
        if new_id is None:
            return _no_version(request, name, "to", str(to))
        if from_:
            old_id = _resolve(versions, from_)
            if old_id is None:
                return _no_version(request, name, "from", from_)
        else:  # the version registered just before `to`
            at = ids.index(new_id)
            old_id = ids[at + 1] if at + 1 < len(ids) else new_id
        old, new = read.load_version(old_id), read.load_version(new_id)

    def text(spec: FlowSpec) -> str:
        return json.dumps(ui.secrets.mask_json(spec.to_builtins()), indent=2, sort_keys=True)

    rows, cut = diff_lines(text(old), text(new))
    return web.page(
        request,
        "flow_diff.html",
        title=f"{name}: changes",
        nav="flows",
        name=name,
        versions=versions,
        latest=found[0].latest_version,
        old_id=old_id,
        new_id=new_id,
        change=change(old, new),
        same=not older_definition(old, new),
        rows=rows,
        cut=cut,
    )


def _no_version(request: Request, name: str, field: str, given: Any) -> HTMLResponse:
    shown = str(given)[:64]
    return web.not_found(request, f"{field}: flow “{name}” has no version “{shown}”.")
