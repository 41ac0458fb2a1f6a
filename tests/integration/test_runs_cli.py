"""`baton runs list/show` and `baton flows show`, across separate processes."""

from __future__ import annotations

import json
from pathlib import Path

FLOWS = """
from baton import flow, task

@task
def extract(fail: bool) -> int:
    if fail:
        raise RuntimeError("asked to fail")
    return 1

@task
def load(x: int) -> int:
    return x

@task(retries=2, timeout=30, trigger_rule="all_done")
def cleanup(x) -> None:
    pass

@flow
def etl(fail: bool = False):
    loaded = load(extract(fail))
    cleanup(loaded)

@flow
def other():
    extract(False)
"""


def test_runs_list_filters_and_show(baton, write, h, workdir: Path):
    path = write("etl.py", FLOWS)
    ok = baton.run(path, "--flow", "etl")
    bad = baton.run(path, "--flow", "etl", "-p", "fail=true", check=None)
    assert bad["state"] == "succeeded"  # the all_done leaf absorbs extract's failure
    assert h.states(bad) == {
        "extract": "failed",
        "load": "upstream_failed",
        "cleanup": "succeeded",
    }
    write("fails.yaml", "name: fails\ntasks:\n  - {key: no, type: shell, command: 'exit 1'}\n")
    failed = baton.run("fails.yaml", check=1)
    third = baton.run(path, "--flow", "other")

    # A new process sees every run made by earlier ones, newest first.
    runs = baton.json("runs", "list")
    assert [r["id"] for r in runs] == [third["id"], failed["id"], bad["id"], ok["id"]]
    assert [r["flow"] for r in runs] == ["other", "fails", "etl", "etl"]
    assert {r["trigger"] for r in runs} == {"manual"}
    by_id = {r["id"]: r for r in runs}
    assert by_id[bad["id"]]["params"] == {"fail": True}
    assert by_id[ok["id"]]["params"] == {"fail": False}
    for r in runs:
        assert r["created_at"] and r["started_at"] and r["ended_at"]

    assert [r["id"] for r in baton.json("runs", "list", "--flow", "etl")] == [bad["id"], ok["id"]]
    assert [r["id"] for r in baton.json("runs", "list", "--state", "failed")] == [failed["id"]]
    assert baton.json("runs", "list", "--flow", "other", "--state", "failed") == []
    assert baton.json("runs", "list", "--flow", "nope") == []

    plain = baton("runs", "list").stdout
    for r in runs:
        assert r["id"] in plain
    assert "failed" in plain and "succeeded" in plain

    shown = baton.json("runs", "show", failed["id"])
    assert shown["id"] == failed["id"]
    assert shown["flow"] == "fails"
    assert shown["state"] == "failed"
    assert shown["tasks"] == failed["tasks"]

    text = baton("runs", "show", bad["id"]).stdout
    assert bad["id"] in text
    for key, state in h.states(bad).items():
        line = next(line for line in text.splitlines() if line.split()[:1] == [key])
        assert state in line, line
    assert "asked to fail" in text


def test_history_lives_in_baton_home(baton, write, workdir: Path):
    write("one.yaml", "name: one\ntasks:\n  - {key: t, type: shell, command: 'true'}\n")
    rid = baton.run("one.yaml")["id"]
    assert (workdir / ".baton" / "baton.db").exists()
    # Another BATON_HOME is another store: it has no runs.
    other = baton("runs", "list", "--json", env={"BATON_HOME": str(workdir / "elsewhere")})
    assert other.stdout.strip() == "[]"
    # BATON_HOME defaults to .baton in the working directory: the same store.
    default = baton("runs", "list", "--json", env={"BATON_HOME": ""})
    assert [r["id"] for r in json.loads(default.stdout)] == [rid]


def test_runs_list_bad_state_is_rejected(baton):
    proc = baton("runs", "list", "--state", "bogus", check=2)
    assert "Traceback" not in proc.stderr
    assert "bogus" in proc.stderr


def test_flows_show_prints_the_dag(baton, write):
    path = write("etl.py", FLOWS)
    out = baton("flows", "show", path, "--flow", "etl").stdout
    assert "etl" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert set(rows) == {"extract", "load", "cleanup"}
    assert "<-" not in rows["extract"]
    assert rows["load"].split("<-")[1].split()[0] == "extract"
    assert rows["cleanup"].split("<-")[1].split()[0] == "load"
    assert "all_done" in rows["cleanup"]
    assert "fail" in out  # the param


def test_flows_show_prints_every_flow_of_a_file(baton, write):
    path = write("etl.py", FLOWS)
    # README: "`baton flows show FILE`: print the flows a file defines: params and tasks".
    several = baton("flows", "show", path).stdout
    assert "flow etl" in several and "flow other" in several


def test_run_without_json_prints_a_summary(baton, write):
    write(
        "summary.yaml",
        """
name: summary
tasks:
  - {key: good, type: shell, command: "true"}
  - {key: broken, type: shell, command: "exit 5"}
""",
    )
    proc = baton("run", "summary.yaml", check=1)
    rid = baton.json("runs", "list")[0]["id"]
    assert rid in proc.stdout
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "succeeded" in rows["good"]
    assert "failed" in rows["broken"]
    assert "Traceback" not in proc.stdout + proc.stderr
