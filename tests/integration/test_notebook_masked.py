"""The executed notebook saved next to a notebook task's log holds no secret value: its
injected parameters and outputs are masked as the log is, also when a cell fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

TOKEN = "tok-5e4d3c2b1a09"  # from the secrets file
QUOTED = 'pa"ss\\word-77'  # escaped in the notebook's JSON: masked as text, not bytes

FLOW = """
name: nb_secret
tasks:
  - key: report
    type: notebook
    path: report.ipynb
    parameters: {token: "${secret:API_TOKEN}", other: "${secret:QUOTED}"}
"""


def test_the_saved_notebook_is_masked(baton: Any, write: Any, workdir: Path, h: Any) -> None:
    home = workdir / ".baton"
    home.mkdir()
    (home / "secrets.yaml").write_text(
        f"API_TOKEN: {json.dumps(TOKEN)}\nQUOTED: {json.dumps(QUOTED)}\n"
    )
    cells = [
        new_code_cell("token = 'x'\nother = 'y'", metadata={"tags": ["parameters"]}),
        new_code_cell("print('token is', token)\nother"),
        new_code_cell("from IPython.display import JSON\nJSON({'t': token})"),
        new_code_cell("raise ValueError('bad ' + token)"),
    ]
    nbformat.write(new_notebook(cells=cells), workdir / "report.ipynb")
    write("nb_secret.yaml", FLOW)
    run = baton.run("nb_secret.yaml", check=1)
    assert h.states(run) == {"report": "failed"}
    saved = home / "logs" / run["id"] / "report" / "1.ipynb"
    text = saved.read_text()
    nb = nbformat.reads(text, as_version=4)  # still a notebook
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
    sources = [c.source for c in nb.cells]
    for value in (TOKEN, QUOTED):
        assert value not in text and json.dumps(value)[1:-1] not in text
        assert value not in outputs and all(value not in s for s in sources)
    assert "token is ***" in outputs and "***" in nb.cells[1].source  # the injected cell
    assert "ValueError" in outputs
