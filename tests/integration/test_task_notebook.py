"""`notebook` tasks: real notebooks, built with nbformat at test time, on a real ipykernel.

A kernel takes a second or so to start: the tests launch five in all.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from baton.tasks import notebook_child


def notebook(path: Path, *cells: tuple[str, str] | str) -> None:
    """Write a notebook: a cell is its source, or (source, tag); "# md" starts markdown."""
    built = []
    for cell in cells:
        source, tag = cell if isinstance(cell, tuple) else (cell, None)
        metadata = {"tags": [tag]} if tag else {}
        if source.startswith("# md"):
            built.append(new_markdown_cell(source, metadata=metadata))
        else:
            built.append(new_code_cell(source, metadata=metadata))
    nbformat.write(new_notebook(cells=built), path)


def executed(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def texts(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


REPORT_FLOW = """
import json

from baton import flow, task
from baton.tasks.notebook import notebook_task

@task
def base() -> int:
    return 7

@task
def save(report):
    with open("received.json", "w") as f:
        json.dump(report, f)

@flow
def reporting(name: str = "world"):
    report = notebook_task("report.ipynb", key="report", parameters={"x": base(), "name": name})
    save(report)
"""


def test_parameters_are_injected_and_the_result_reaches_downstream(baton, write, h, workdir):
    notebook(
        workdir / "report.ipynb",
        "# md A report",
        ('x = 1\nname = "default"\nkept = "kept"', "parameters"),
        "import json\nprint('x is', x)\n"
        "json.dump([x, name, kept], open('seen.json', 'w'))",  # runs in the notebook's folder
        ("from IPython.display import JSON\nJSON({'double': x * 2, 'name': name})", "result"),
    )
    path = write("reporting.py", REPORT_FLOW)
    run = baton.run(path, "-p", "name=baton")
    assert h.states(run) == {"base": "succeeded", "report": "succeeded", "save": "succeeded"}
    assert json.loads((workdir / "seen.json").read_text()) == [7, "baton", "kept"]

    saved = workdir / ".baton" / "logs" / run["id"] / "report" / "1.ipynb"
    received = json.loads((workdir / "received.json").read_text())
    assert received == {"output": str(saved), "result": {"double": 14, "name": "baton"}}

    nb = executed(saved)
    assert [c.metadata.get("tags") for c in nb.cells] == [
        None,
        ["parameters"],
        ["injected-parameters"],
        None,
        ["result"],
    ]
    assert nb.cells[2].source == "# Parameters\nx = 7\nname = 'baton'\n"
    assert texts(nb.cells[3]) == "x is 7\n"

    log = baton("logs", run["id"], "report").stdout
    for line in ("executing cell 2/5", "executing cell 5/5", "x is 7", str(saved)):
        assert line in log, log


FAILING = """
name: failing
tasks:
  - key: divide
    type: notebook
    path: divide.ipynb
    parameters: {d: 0}
    retries: 1
    retry_delay: 0
  - key: after
    type: shell
    command: touch after_ran
    depends_on: [divide]
  - key: slow_cell
    type: notebook
    path: slow_cell.ipynb
    cell_timeout: 1
"""


def test_a_failing_cell_fails_the_task_naming_the_cell(baton, write, h, workdir):
    notebook(
        workdir / "divide.ipynb",
        ("d = 1", "parameters"),
        "print('before')",
        "\ny = 1 / d\nprint('never')",
    )
    notebook(workdir / "slow_cell.ipynb", "import time", "time.sleep(30)")
    path = write("failing.yaml", FAILING)
    started = time.monotonic()
    run = baton.run(path, check=1)
    assert time.monotonic() - started < 15
    tasks = h.tasks(run)
    divide = tasks["divide"]
    assert divide["state"] == "failed"
    assert divide["attempts"] == 2  # a user error, retried as the policy says
    assert divide["error"] == "cell 4 (`y = 1 / d`): ZeroDivisionError: division by zero"
    assert tasks["after"]["state"] == "upstream_failed"
    assert not (workdir / "after_ran").exists()
    assert tasks["slow_cell"]["state"] == "failed"
    assert tasks["slow_cell"]["error"] == (
        "cell 2 (`time.sleep(30)`): CellTimeoutError: timed out after 1 s (cell_timeout)"
    )

    for attempt in (1, 2):  # each attempt's notebook, saved as far as it ran
        nb = executed(workdir / ".baton" / "logs" / run["id"] / "divide" / f"{attempt}.ipynb")
        assert texts(nb.cells[2]) == "before\n"
        (error,) = nb.cells[3].outputs
        assert (error.output_type, error.ename) == ("error", "ZeroDivisionError")
    log = baton("logs", run["id"], "divide").stdout
    assert "ZeroDivisionError" in log and "executing cell 4/4" in log


SLEEPER = """
name: sleeper
tasks:
  - key: nap
    type: notebook
    path: nap.ipynb
    timeout: 3
"""


def processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line holds `marker` (the kernel's connection file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def test_timeout_kills_the_kernel_and_what_it_started(baton, write, h, workdir):
    notebook(
        workdir / "nap.ipynb",
        "import json, os, subprocess, time\n"
        "sleeper = subprocess.Popen(['sleep', '60'])\n"
        "same_group = os.getpgid(0) == os.getpgid(os.getppid())\n"
        "json.dump([os.getpid(), sleeper.pid, same_group], open('pids.json', 'w'))",
        "time.sleep(60)",
    )
    path = write("sleeper.yaml", SLEEPER)
    started = time.monotonic()
    run = baton.run(path, check=1)
    elapsed = time.monotonic() - started
    assert elapsed < 9, f"the run took {elapsed:.1f}s"
    nap = h.tasks(run)["nap"]
    assert nap["state"] == "failed" and "timed out" in nap["error"]

    kernel, grandchild, same_group = json.loads((workdir / "pids.json").read_text())
    assert same_group, "the kernel should share its notebook process's group"
    h.wait_until(
        lambda: not h.pid_alive(kernel) and not h.pid_alive(grandchild),
        timeout=3,
        what="the kernel and its child to be gone",
    )
    # The kernel's connection file lives in baton's work folder under this test's directory.
    assert processes_mentioning(str(workdir / ".baton")) == []
    nb = executed(workdir / ".baton" / "logs" / run["id"] / "nap" / "1.ipynb")
    assert nb.cells[0].execution_count == 1


def test_a_missing_notebook_fails_at_once(baton, write, h, workdir):
    path = write(
        "missing.yaml",
        """
        name: missing
        tasks:
          - {key: nb, type: notebook, path: nowhere/report.ipynb, retries: 2}
        """,
    )
    run = baton.run(path, check=1)
    nb = h.tasks(run)["nb"]
    assert nb["state"] == "failed" and nb["attempts"] == 1
    assert nb["error"] == f"notebook not found: {workdir / 'nowhere' / 'report.ipynb'}"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("{parameters: {x: 1}}", "path"),
        ("{path: r.ipynb, parameters: [1, 2]}", "parameters"),
        ("{path: r.ipynb, parameters: {'not a name': 1}}", "parameters"),
        ("{path: r.ipynb, cell_timeout: 0}", "cell_timeout"),
        ("{path: r.ipynb, kernel: ''}", "kernel"),
        ("{path: r.ipynb, colour: blue}", "colour"),
    ],
)
def test_bad_fields_are_definition_errors(definition_error, fields: str, named: str):
    stderr = definition_error("notebook", fields[1:-1], key="report")
    assert named in stderr, stderr


def cells(*specs: tuple[str, str | None]) -> Any:
    return new_notebook(
        cells=[new_code_cell(s, metadata={"tags": [t]} if t else {}) for s, t in specs]
    )


def test_parameters_go_after_the_parameters_cell_or_on_top():
    nb = cells(("import os", None), ("a = 1", "parameters"), ("a = 0", "injected-parameters"))
    notebook_child.inject(nb, {"a": 2, "b": [1, None, "x"]})
    assert [c.source for c in nb.cells] == [
        "import os",
        "a = 1",
        "# Parameters\na = 2\nb = [1, None, 'x']\n",
    ]
    assert nb.cells[2].metadata.tags == ["injected-parameters"]

    plain = cells(("print(a)", None))
    notebook_child.inject(plain, {"a": True})
    assert [c.source for c in plain.cells] == ["# Parameters\na = True\n", "print(a)"]


def output(data: dict[str, Any], kind: str = "execute_result") -> Any:
    return nbformat.from_dict({"output_type": kind, "data": data, "metadata": {}})


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ([output({"application/json": {"a": 1}, "text/plain": "<JSON>"})], {"a": 1}),
        ([output({"text/plain": "{'n': 3, 'ok': True}"})], {"n": 3, "ok": True}),
        ([output({"text/plain": "<object at 0x1>"})], "<object at 0x1>"),
        ([output({"text/plain": "1"}), output({"text/plain": "2"}, "display_data")], 2),
        ([], None),
    ],
)
def test_the_result_is_the_last_output_of_the_last_result_cell(outputs, expected):
    nb = cells(("1", "result"), ("2", "result"), ("3", None))
    nb.cells[0].outputs = [output({"text/plain": "'first'"})]
    nb.cells[1].outputs = outputs
    assert notebook_child.glued_result(nb) == expected
    assert notebook_child.glued_result(cells(("1", None))) is None
