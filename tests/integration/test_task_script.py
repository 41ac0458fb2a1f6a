"""`script` tasks: a Python file run in a child process, its JSON result passed downstream."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from baton.tasks import script
from baton.tasks.base import TaskFailed

GREET = """
import json, os, sys

print("args:", sys.argv[1:])
print("greeting:", os.environ.get("GREETING"))
print("via wrapper:", os.environ.get("VIA_WRAPPER"))
path = os.environ.get("BATON_RESULT_FILE")
if path:
    with open(path, "w") as f:
        json.dump({"args": sys.argv[1:], "greeting": os.environ.get("GREETING")}, f)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""

SAVE = """
import json

def save(value):
    with open("received.json", "w") as f:
        json.dump(value, f)
"""


def test_args_env_and_result_file_reach_downstream(baton, write, h, workdir: Path):
    # The script is found next to the flow file, though baton runs from the parent folder.
    (workdir / "flows").mkdir()
    write("flows/greet.py", GREET)
    write("flows/lib.py", SAVE)
    path = write(
        "flows/greet.yaml",
        """
        name: greet
        tasks:
          - key: greet
            type: script
            path: greet.py
            args: [--name, world, 3]
            env: {GREETING: hello}
            result_file: true
          - key: save
            type: python
            function: "lib:save"
            args: [{__baton_ref__: greet}]
            depends_on: [greet]
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"greet": "succeeded", "save": "succeeded"}
    received = json.loads((workdir / "received.json").read_text())
    assert received == {"args": ["--name", "world", "3"], "greeting": "hello"}
    log = baton("logs", run["id"], "greet").stdout
    assert "args: ['--name', 'world', '3']" in log
    assert "greeting: hello" in log
    # The result file in the work dir is gone once read.
    assert not list((workdir / ".baton").rglob("*.result.json"))


def test_python_flow_passes_results_and_params_as_args(baton, write, workdir: Path):
    write("greet.py", GREET)
    path = write(
        "pyflow.py",
        """
        import json
        from baton import flow, task
        from baton.tasks.script import script_task

        @task
        def name() -> str:
            return "from-upstream"

        @task
        def save(value) -> None:
            with open("received.json", "w") as f:
                json.dump(value, f)

        @flow
        def pyflow(times: int = 2):
            n = name()
            out = script_task(
                "greet.py", key="greet", args=[n, times], env={"GREETING": n},
                result_file="out/result.json",
            )
            save(out)
        """,
    )
    (workdir / "out").mkdir()
    (workdir / "out" / "result.json").write_text('"stale"')
    run = baton.run(path, "-p", "times=5")
    assert run["state"] == "succeeded"
    expected = {"args": ["from-upstream", "5"], "greeting": "from-upstream"}
    assert json.loads((workdir / "received.json").read_text()) == expected
    # A result file at a path the user chose stays for them to read.
    assert json.loads((workdir / "out" / "result.json").read_text()) == expected


def test_without_result_file_the_result_is_the_exit_code(baton, write, workdir: Path):
    write("greet.py", GREET)
    write("lib.py", SAVE)
    path = write(
        "plain.yaml",
        """
        name: plain
        tasks:
          - {key: greet, type: script, path: greet.py}
          - {key: save, type: python, function: "lib:save", args: [{__baton_ref__: greet}],
             depends_on: [greet]}
        """,
    )
    baton.run(path)
    assert json.loads((workdir / "received.json").read_text()) == {"exit_code": 0}


def test_configured_interpreter(baton, write, workdir: Path):
    write("greet.py", GREET)
    wrapper = workdir / "mypython"
    wrapper.write_text(f'#!/bin/sh\nexport VIA_WRAPPER=yes\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    path = write(
        "wrapped.yaml",
        """
        name: wrapped
        tasks:
          - {key: greet, type: script, path: greet.py, python: ./mypython}
        """,
    )
    run = baton.run(path)
    assert "via wrapper: yes" in baton("logs", run["id"], "greet").stdout


def test_exit_code_fails_and_is_retried(baton, write, h):
    write("greet.py", GREET)
    path = write(
        "failing.yaml",
        """
        name: failing
        tasks:
          - key: greet
            type: script
            path: greet.py
            env: {EXIT_CODE: "3"}
            retries: 1
            retry_delay: 0
          - {key: after, type: shell, command: "true", depends_on: [greet]}
        """,
    )
    run = baton.run(path, check=1)
    tasks = h.tasks(run)
    assert tasks["greet"]["state"] == "failed"
    assert tasks["greet"]["attempts"] == 2
    assert "greet.py exited with code 3" in tasks["greet"]["error"]
    assert tasks["after"]["state"] == "upstream_failed"


def test_skip_exit_code_skips(baton, write, h):
    write("greet.py", GREET)
    path = write(
        "skipping.yaml",
        """
        name: skipping
        tasks:
          - {key: greet, type: script, path: greet.py, env: {EXIT_CODE: "99"}}
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"greet": "skipped"}


def test_missing_script_fails_at_once(baton, write, h, workdir: Path):
    path = write(
        "missing.yaml",
        """
        name: missing
        tasks:
          - {key: greet, type: script, path: nowhere/greet.py, retries: 3, retry_delay: 0}
        """,
    )
    run = baton.run(path, check=1)
    greet = h.tasks(run)["greet"]
    assert greet["state"] == "failed"
    assert greet["attempts"] == 1
    assert str(workdir / "nowhere" / "greet.py") in greet["error"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("{args: [a]}", "path"),
        ("{path: greet.py, args: not-a-list}", "args"),
        ("{path: greet.py, result_file: 3}", "result_file"),
        ("{path: greet.py, colour: blue}", "colour"),
    ],
)
def test_bad_fields_are_definition_errors(write, definition_error, fields: str, named: str):
    write("greet.py", GREET)
    stderr = definition_error("script", fields[1:-1], key="greet")
    assert named in stderr, stderr


SPAWNER = """
import os, subprocess, sys, time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
with open("pids", "a") as f:
    f.write(f"{os.getpid()}\\n{child.pid}\\n")
print("spawned", child.pid, flush=True)
time.sleep(30)
"""


def test_timeout_kills_the_script_and_its_child(baton, write, h, workdir: Path):
    write("spawner.py", SPAWNER)
    path = write(
        "slow.yaml",
        """
        name: slow
        tasks:
          - {key: spawner, type: script, path: spawner.py, timeout: 1}
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    assert time.monotonic() - started < 6
    spawner = h.tasks(run)["spawner"]
    assert spawner["state"] == "failed"
    assert "timed out" in spawner["error"].lower()
    pids = [int(p) for p in h.lines(workdir / "pids")]
    assert len(pids) == 2
    h.wait_until(lambda: not any(h.pid_alive(p) for p in pids), timeout=3, what="no orphan")
    assert "spawned" in baton("logs", run["id"], "spawner").stdout


def test_paths_resolve_from_the_flow_folder(tmp_path: Path, task_context):
    ctx = task_context(flow_dir=str(tmp_path / "flows"), item="x")
    assert script.resolve_path(ctx, "a/b.py") == str(tmp_path / "flows" / "a" / "b.py")
    assert script.resolve_path(ctx, "/abs/b.py") == "/abs/b.py"
    assert script.interpreter(ctx, None) == sys.executable
    assert os.path.isabs(script.interpreter(ctx, "sh"))
    with pytest.raises(TaskFailed, match="no-such-python"):
        script.interpreter(ctx, "./no-such-python")
    assert script.item_env(ctx) == {"BATON_MAP_ITEM": "x"}
