"""Task-type plugins: a real package (tests/plugins/baton-example) pip-installed, its entry
points (`baton.task_types`) found by the real `baton` command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PACKAGE = Path(__file__).parent.parent / "plugins" / "baton-example"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the plugin package is pip-installed into (one per test process), put on
    the PYTHONPATH of the baton commands that should see it."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    # Built from a copy: pip builds in the source folder, which parallel tests share.
    shutil.copytree(PACKAGE, source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(root / "site"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root / "site"


@pytest.fixture
def installed(baton: Any, plugin_site: Path) -> Any:
    """`baton` with the plugin installed."""
    baton.env["PYTHONPATH"] = str(plugin_site)
    return baton


GREET = """
name: greetings
tasks:
  - key: hello
    type: greet
    name: ann
    times: 2
  - key: after
    type: shell
    command: echo '{{ upstream.hello | tojson }}' > greeting.json
    depends_on: [hello]
"""


def test_plugins_list_shows_built_ins_and_the_installed_plugins(installed: Any) -> None:
    listed = {(p["name"], p["builtin"]): p for p in installed.json("plugins", "list")}
    assert listed[("shell", True)] == {
        "name": "shell",
        "module": "baton.tasks.shell",
        "version": listed[("python", True)]["version"],
        "builtin": True,
        "error": None,
    }
    assert {n for n, builtin in listed if builtin} >= {"python", "shell", "sql", "notebook"}
    assert listed[("greet", False)] == {
        "name": "greet",
        "module": "baton_example",
        "version": "1.2.3",
        "builtin": False,
        "error": None,
    }
    # Whatever is wrong with a plugin is said by its name, and breaks nothing else.
    assert "could not be imported: ImportError" in listed[("broken", False)]["error"]
    assert "could not be imported: SystemExit" in listed[("exits", False)]["error"]
    assert "is not a task type" in listed[("notatype", False)]["error"]
    assert "built-in type 'shell'" in listed[("shell", False)]["error"]
    assert "pip install 'baton-example[warp]'" in listed[("warp", False)]["error"]
    text = installed("plugins", "list").stdout
    assert "greet" in text and "baton_example" in text and "1.2.3" in text


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_plugin_task_runs_like_a_built_in_one(
    request: pytest.FixtureRequest, installed: Any, write: Any, workdir: Path, store: str
) -> None:
    path = write("greet.yaml", GREET)
    if store == "postgres":  # a cluster store: `baton run` creates the run, a worker runs it
        installed.env["BATON_DATABASE_URL"] = request.getfixturevalue("pg_url")
        installed("deploy", path)
        installed.start("worker", "--concurrency", "2")
    run = installed.run(path, "--wait")
    assert run["state"] == "succeeded", run
    # Its result is handed downstream like any task's.
    assert json.loads((workdir / "greeting.json").read_text()) == {
        "greeting": "hello ann hello ann"
    }
    log = installed("logs", run["id"], "hello").stdout
    assert f"greeting ann from hello (run {run['id']})" in log


@pytest.mark.parametrize(
    ("fields", "state", "error"),
    [
        ("fail: true", "failed", "could not greet ann"),
        ("skip: true", "skipped", None),
        ("wait: 30\n    timeout: 0.5", "failed", "timed out"),
    ],
)
def test_a_plugin_task_fails_skips_and_times_out(
    installed: Any, write: Any, h: Any, fields: str, state: str, error: str | None
) -> None:
    flow = f"name: g\ntasks:\n  - key: hello\n    type: greet\n    name: ann\n    {fields}\n"
    run = installed.run(write("g.yaml", flow), check=None)
    task = h.tasks(run)["hello"]
    assert task["state"] == state, run
    if error is not None:
        assert error in json.dumps(task), task


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (
            "type: gret\n    name: ann",
            "unknown task type 'gret'; did you mean 'greet'? installed types: python, shell",
        ),
        ("type: greet\n    name: ann\n    times: lots", "times"),
        ("type: greet", "name"),
        (
            "type: warp",
            "warp tasks need baton_no_such_module, which is not installed: "
            "pip install 'baton-example[warp]'",
        ),
        ("type: broken", "plugin 'broken' (baton_example.broken:TYPE"),
        ("type: notatype", "plugin 'notatype' (baton_example:not_a_type"),
    ],
)
def test_a_task_whose_type_cannot_run_is_refused_when_the_flow_is_loaded(
    installed: Any, write: Any, task: str, expected: str
) -> None:
    path = write("bad.yaml", f"name: bad\ntasks:\n  - key: t\n    {task}\n")
    for command in (["run", path], ["deploy", path]):
        proc = installed(*command, check=2)
        assert expected in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert installed.json("flows", "list") == []  # nothing half-written


def test_the_ui_draws_a_plugin_type_with_the_plugin_icon(installed: Any) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from baton import tasks; print(tasks.icon('greet'), tasks.icon('broken'), "
            "tasks.icon('shell'), tasks.runs_user_code.__name__)",
        ],
        env=installed.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.split()[:3] == ["plugin", "plugin", "shell"]


def test_without_the_plugin_its_type_is_unknown(baton: Any, write: Any) -> None:
    proc = baton("run", write("greet.yaml", GREET), check=2)
    assert "unknown task type 'greet'" in proc.stderr
    assert all(p["builtin"] for p in baton.json("plugins", "list"))
