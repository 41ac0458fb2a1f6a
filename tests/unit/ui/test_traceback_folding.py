"""A failed task's traceback shows the user's frames and folds baton's own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.settings import Settings
from baton.store.store import Store
from baton.ui import tracebacks

BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
FLOW = """
from baton import flow, task

def helper(x):
    return 1 / x

@task
def divide():
    return helper(0)

@flow
def boom():
    divide()
"""


def test_parts_fold_runs_of_baton_frames() -> None:
    here = tracebacks.BATON_DIR
    text = "\n".join(
        [
            "Traceback (most recent call last):",
            f'  File "{here}/execution/runner.py", line 109, in _run',
            "    value = task_type.execute(ctx)",
            "            ^^^^^^^^^^^^^^^^^^^^^^",
            f'  File "{here}/tasks/python.py", line 57, in execute',
            "    result = fn(*args, **kwargs)",
            '  File "/home/me/flows/boom.py", line 8, in divide',
            "    return helper(0)",
            '  File "/venv/lib/python3.12/site-packages/baton/tasks/python.py", line 9, in w',
            "    x()",
            '  File "/home/me/flows/boom.py", line 4, in helper',
            "    return 1 / x",
            "ZeroDivisionError: division by zero",
        ]
    )
    got = [
        (p.frames, p.internal, p.text.splitlines()[0].strip()[:20]) for p in tracebacks.parts(text)
    ]
    assert got == [
        (0, False, "Traceback (most rece"),
        (2, True, f'File "{here}'[:20]),
        (1, False, 'File "/home/me/flows'),
        (1, True, 'File "/venv/lib/pyth'),
        (1, False, 'File "/home/me/flows'),
        (0, False, "ZeroDivisionError: d"),
    ]
    assert "\n".join(p.text for p in tracebacks.parts(text)) == text  # nothing lost
    assert tracebacks.parts("") == []
    assert tracebacks.parts("not a traceback") == [tracebacks.Part("not a traceback")]


def test_a_real_failure_shows_the_users_frames_and_folds_batons(
    client: TestClient, store: Store, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "boom.py").write_text(FLOW)
    env = {**os.environ, "BATON_HOME": str(settings.home)}
    out = subprocess.run(
        [BATON, "run", "boom.py"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 1, out
    with store.transaction() as tx:
        token = create_token(tx, "vic", "viewer")[1]
    client.post("/login", data={"token": token, "next": "/flows"}, follow_redirects=False)
    run_id = store.read().runs(limit=1)[0].id
    html = client.get(f"/runs/{run_id}/tasks/divide").text
    start = html.index("data-traceback>")
    shown = unescape(html[start : html.index("</section>", start)])
    folded = re.findall(
        r'<details class="internal" data-internal><summary>(\d+) frames? '
        r"of baton's own code</summary><div>(.*?)</div></details>",
        shown,
        re.S,
    )
    assert folded and sum(int(n) for n, _ in folded) >= 2, shown
    assert all("boom.py" not in body for _, body in folded)
    user = re.findall(r'<div class="user">(.*?)</div>', shown, re.S)
    assert "in divide" in user[0] and "in helper" in user[0], user
    assert "ZeroDivisionError: division by zero" in shown
