"""Editing YAML flows in the browser: an editor with line numbers, the server's own checks
as you type (an error shown at its line), a preview of the DAG, and saving as a new version
through the API (PUT or POST /api/v1/flows: checked and audited as any deploy). A Python
flow stays read-only: its source file is where it changes."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from baton.api.auth import Principal
from baton.api.routes.flows import MAX_YAML_BYTES, checked_yaml
from baton.errors import DefinitionError, InputError
from baton.model.graph import validate
from baton.model.spec import FlowSpec
from baton.model.yaml_dump import to_yaml
from baton.ui import dag, layout, web

router = APIRouter(include_in_schema=False)
Editor = Annotated[Principal, Depends(web.at_least("editor"))]
YAML_FILES = (".yaml", ".yml")

NEW_FLOW = """\
name: my_flow
description: What this flow does.
params:
  day: {type: string, default: "2024-06-01"}
tasks:
  - key: extract
    type: shell
    command: echo extracting {{ params.day }}
  - key: load
    type: shell
    command: echo loading
    depends_on: [extract]
"""


@router.get("/flows/new", response_class=HTMLResponse, name="flow_new")
def new_flow(request: Request, principal: Editor) -> HTMLResponse:
    return _page(request, None, NEW_FLOW, "new")


@router.get("/flows/{name:path}/edit", response_class=HTMLResponse, name="flow_edit")
def edit_flow(request: Request, name: str, principal: Editor) -> HTMLResponse:
    with web.reading(request) as read:
        found = read.flow_rows(name=name, limit=1)
    if not found:
        return web.not_found(request, f"There is no flow named “{name}”.")
    spec = FlowSpec.from_json(found[0].spec)
    source = spec.source.path if spec.source else None
    if source is not None and not source.endswith(YAML_FILES):
        return web.page(
            request, "editor.html", title=f"{name} · edit", nav="flows", flow=name, python=source
        )
    text, origin = _yaml_of(spec)
    return _page(request, name, text, origin)


@router.post("/editor/check", name="editor_check")
async def check(request: Request, principal: Editor) -> JSONResponse:
    """The editor's text checked as a deploy would (no change made): the error and its
    line, or the flow's name and a drawing of its DAG."""
    if not web.same_origin(request):
        return JSONResponse({"ok": False, "line": None, "error": "from another site"}, 403)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_YAML_BYTES:
            return JSONResponse(
                {"ok": False, "line": None, "error": f"at most {MAX_YAML_BYTES} bytes"}, 413
            )
    text = body.decode("utf-8", "replace")
    try:
        flow = checked_yaml(text, None, principal)
    except DefinitionError as exc:
        line = exc.line or (_task_line(text, exc.task, exc.message) if exc.task else None)
        return JSONResponse({"ok": False, "line": line, "error": exc.message})
    except InputError as exc:
        return JSONResponse({"ok": False, "line": None, "error": str(exc)})
    except HTTPException as exc:  # no editor role on the flow it names
        return JSONResponse({"ok": False, "line": None, "error": str(exc.detail)})
    spec = flow.spec
    graph = validate(spec, {t.type for t in spec.tasks})
    folded = dag.fold(graph.order, graph.upstream, {})
    drawn = dag.drawing(
        layout.layout(folded.order, folded.upstream), {t.key: t.type for t in spec.tasks}, folded
    )
    return JSONResponse({"ok": True, "name": spec.name, "dag": dag.data(drawn, {}, None)})


def _task_line(text: str, task: str, message: str) -> int | None:
    """Where a task is in the text, for an error found after parsing (the type's checks, the
    graph's): the line of its `key`, or of its `type` when the type is what is wrong."""
    lines = text.splitlines()
    key = re.compile(rf"""^\s*(-\s*)?\{{?\s*key:\s*['"]?{re.escape(task)}['"]?\s*[,}}]?""")
    for i, line in enumerate(lines):
        if key.match(line):
            if "task type" in message and "type:" not in line:
                for j in range(i + 1, min(len(lines), i + 50)):
                    if re.match(r"^\s*-\s", lines[j]):
                        break
                    if re.match(r"^\s*type:", lines[j]):
                        return j + 1
            return i + 1
    return None


def _yaml_of(spec: FlowSpec) -> tuple[str, str]:
    """The YAML to edit, and where it came from: the file it was deployed from when this
    server can read it and it is unchanged, else written back from the stored definition."""
    source = spec.source
    if source is not None and source.path:
        path = os.path.abspath(source.path)  # `baton deploy` records it from the project
        try:
            with open(path, "rb") as f:
                content = f.read(MAX_YAML_BYTES + 1)
        except OSError:
            content = b""
        if content and hashlib.sha256(content).hexdigest()[:16] == source.code_hash:
            return content.decode("utf-8", "replace"), "file"
    return to_yaml(spec), "stored"


def _page(request: Request, name: str | None, text: str, origin: str) -> HTMLResponse:
    return web.page(
        request,
        "editor.html",
        title=f"{name} · edit" if name else "New flow",
        nav="flows",
        flow=name,
        python=None,
        text=text,
        origin=origin,
        data={"flow": name},
    )
