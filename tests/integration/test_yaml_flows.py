"""Flows defined in YAML: python tasks by `module:function`, shell tasks by `sh -c`."""

from __future__ import annotations

import json
import os
from pathlib import Path

LIB = """
import json

def numbers(count):
    return list(range(1, count + 1))

def scaled(numbers, factor):
    return [n * factor for n in numbers]

def report(scaled, numbers, label="none"):
    with open("report.json", "w") as f:
        json.dump({"scaled": scaled, "numbers": numbers, "label": label}, f)
"""

FLOW = """
name: yflow
params:
  count: {type: integer, default: 3}
  factor: {type: integer, default: 2}
tasks:
  - key: numbers
    type: python
    function: "lib:numbers"
  - key: scaled
    type: python
    function: "lib:scaled"
    depends_on: [numbers]
  - key: report
    type: python
    function: "lib:report"
    depends_on: [scaled, numbers]
"""


def test_python_functions_from_the_flow_files_folder(baton, write, h, workdir: Path):
    # The flow and its module live in a sub-folder; baton runs from the parent folder.
    (workdir / "flows").mkdir()
    write("flows/lib.py", LIB)
    path = write("flows/yflow.yaml", FLOW)
    run = baton.run(path)
    assert run["flow"] == "yflow"
    assert run["state"] == "succeeded"
    assert run["params"] == {"count": 3, "factor": 2}
    assert h.states(run) == {"numbers": "succeeded", "scaled": "succeeded", "report": "succeeded"}
    assert json.loads((workdir / "report.json").read_text()) == {
        "scaled": [2, 4, 6],
        "numbers": [1, 2, 3],
        "label": "none",
    }


def test_yaml_params_overridden(baton, write, workdir: Path):
    write("lib.py", LIB)
    path = write("yflow.yaml", FLOW)
    run = baton.run(path, "-p", "count=2", "-p", "factor=10")
    assert run["params"] == {"count": 2, "factor": 10}
    assert json.loads((workdir / "report.json").read_text())["scaled"] == [10, 20]


def test_flows_show_prints_the_dag(baton, write):
    write("lib.py", LIB)
    path = write("yflow.yaml", FLOW)
    out = baton("flows", "show", path).stdout
    assert "yflow" in out
    by_task = {line.split()[0]: line for line in out.splitlines()[1:] if line.startswith("  ")}
    assert set(by_task) == {"numbers", "scaled", "report"}
    assert "<-" not in by_task["numbers"]
    assert by_task["scaled"].split("<-")[1].split("[")[0].strip() == "numbers"
    ups = {u.strip() for u in by_task["report"].split("<-")[1].split("[")[0].split(",")}
    assert ups == {"scaled", "numbers"}
    assert "count" in out and "factor" in out


def test_shell_runs_sh_c_in_the_working_directory(baton, write, workdir: Path):
    path = write(
        "sh.yaml",
        """
        name: sh
        params:
          greeting: {type: string, default: hello}
        tasks:
          - key: where
            type: shell
            command: "pwd > where.txt && echo {{ params.greeting }} | tr a-z A-Z > shout.txt"
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    assert os.path.realpath((workdir / "where.txt").read_text().strip()) == os.path.realpath(
        workdir
    )
    assert (workdir / "shout.txt").read_text().strip() == "HELLO"


def test_shell_last_stdout_line_is_the_result(baton, write, workdir: Path):
    write(
        "sink.py",
        """
        import json

        def sink(producer, number):
            with open("received.json", "w") as f:
                json.dump({"producer": producer, "number": number}, f)
        """,
    )
    path = write(
        "result.yaml",
        """
        name: result
        tasks:
          - key: producer
            type: shell
            command: "echo first; echo noise >&2; printf 'second\\nthe last line\\n'"
          - key: number
            type: shell
            command: "echo 42"
          - key: sink
            type: python
            function: "sink:sink"
            depends_on: [producer, number]
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    received = json.loads((workdir / "received.json").read_text())
    assert received["producer"] == "the last line"
    assert str(received["number"]) == "42"


def test_shell_exit_99_is_skipped(baton, write, h):
    path = write(
        "skip99.yaml",
        """
        name: skip99
        tasks:
          - {key: skipper, type: shell, command: "exit 99"}
          - {key: after, type: shell, command: "touch after_ran", depends_on: [skipper]}
          - {key: alone, type: shell, command: "true"}
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    assert h.states(run) == {"skipper": "skipped", "after": "skipped", "alone": "succeeded"}
    assert not Path("after_ran").exists()


def test_shell_skip_exit_code_is_configurable(baton, write, h):
    path = write(
        "skip3.yaml",
        """
        name: skip3
        tasks:
          - {key: three, type: shell, command: "exit 3", skip_exit_code: 3}
          - {key: ninety_nine, type: shell, command: "exit 99", skip_exit_code: 3}
        """,
    )
    run = baton.run(path, check=1)
    assert run["state"] == "failed"
    tasks = h.tasks(run)
    assert tasks["three"]["state"] == "skipped"
    assert tasks["ninety_nine"]["state"] == "failed"
    assert "99" in tasks["ninety_nine"]["error"]


def test_shell_failure_fails_the_run(baton, write, h):
    path = write(
        "fail.yaml",
        """
        name: fail
        tasks:
          - {key: bad, type: shell, command: "echo oops >&2; exit 7", retries: 1}
          - {key: after, type: shell, command: "touch after_ran", depends_on: [bad]}
        """,
    )
    run = baton.run(path, check=1)
    tasks = h.tasks(run)
    assert tasks["bad"]["state"] == "failed"
    assert tasks["bad"]["attempts"] == 2
    assert "7" in tasks["bad"]["error"]
    assert tasks["after"]["state"] == "upstream_failed"
    assert not Path("after_ran").exists()


def test_python_and_yaml_forms_compile_to_the_same_dag(baton, write):
    write(
        "pyform.py",
        """
        from baton import flow, task

        @task
        def extract():
            return 1

        @task
        def load(extract):
            return extract

        @flow(name="same")
        def same():
            load(extract())
        """,
    )
    write(
        "yform.yaml",
        """
        name: same
        tasks:
          - {key: extract, type: python, function: "pyform:extract"}
          - {key: load, type: python, function: "pyform:load", depends_on: [extract]}
        """,
    )
    py = baton.json("flows", "show", "pyform.py")
    ya = baton.json("flows", "show", "yform.yaml")
    assert py["name"] == ya["name"] == "same"
    assert [(t["key"], list(t.get("depends_on", []))) for t in py["tasks"]] == [
        (t["key"], list(t.get("depends_on", []))) for t in ya["tasks"]
    ]
    assert baton.run("yform.yaml")["state"] == "succeeded"


TEMPLATED = """
name: templated
params:
  n: 3
  word: hello
tasks:
  - key: first
    type: shell
    command: "echo {{ params.word }}-{{ params.n }}"
  - key: count
    type: sql
    url: "sqlite:///{{ run_id }}.db"
    sql: "SELECT :n * 2 AS doubled, :w AS word"
    params: {n: "{{ params.n }}", w: "{{ upstream.first }}"}
    depends_on: [first]
  - key: keep
    type: python
    function: keep:keep
    depends_on: [count]
"""


def test_every_task_field_can_be_a_template_of_params_and_upstream_results(baton, write):
    write(
        "keep.py",
        "import json\n\ndef keep(count):\n    open('kept.json', 'w').write(json.dumps(count))\n",
    )
    path = write("templated.yaml", TEMPLATED)
    run = baton.run(path, "-p", "n=4")
    assert run["state"] == "succeeded"
    # A field that is one expression keeps its type: 4 * 2, not "4" * 2.
    assert json.loads((Path(path).parent / "kept.json").read_text()) == [
        {"doubled": 8, "word": "hello-4"}
    ]


def test_a_templated_task_still_gets_its_field_names_checked(baton, write):
    path = write(
        "typo.yaml",
        """
        name: typo
        tasks:
          - key: bad
            type: shell
            comand: "echo {{ params.n }}"
        """,
    )
    out = baton("run", path, check=2)
    assert "task 'bad'" in out.stderr
    assert "unknown field 'comand'" in out.stderr
    assert "missing required field 'command'" in out.stderr
