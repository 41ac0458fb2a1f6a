"""Task result caching through the real `baton` command on SQLite: hits and misses as the
code, the inputs and the definition change, refreshes, the `baton cache` commands and their
bad input. (PostgreSQL workers sharing entries: test_cache_cluster.py; ttl expiry with a
fake clock: tests/unit/execution/test_caching.py.)"""

from __future__ import annotations

from typing import Any

HELPERS = """
FACTOR = 2
"""

FLOW = """
from baton import flow, task
from helpers import FACTOR


def _mark(name):
    with open("computed.log", "a") as f:
        f.write(name + "\\n")


@task(cache=True)
def extract(day: str) -> list[int]:
    _mark("extract")
    return [1, 2, 3]


@task(cache=True)
def scale(rows: list[int]) -> list[int]:
    _mark("scale")
    return [r * FACTOR for r in rows]


@task
def report(rows: list[int]) -> None:
    with open("report.txt", "w") as f:
        f.write(f"total={sum(rows)}")


@flow(name="cached")
def cached(day: str = "2024-05-01", unused: int = 0) -> None:
    report(scale(extract(day)))
"""


def computed(workdir: Any) -> list[str]:
    path = workdir / "computed.log"
    found = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return found


def test_hits_misses_and_what_downstream_receives(baton, write, h, workdir):
    write("helpers.py", HELPERS)
    write("flow.py", FLOW)
    first = baton.run("flow.py")
    assert computed(workdir) == ["extract", "scale"]
    assert not any(t["cached"] for t in first["tasks"])

    second = baton.run("flow.py")
    assert computed(workdir) == []  # nothing ran but report
    tasks = h.tasks(second)
    for key in ("extract", "scale"):
        t = tasks[key]
        assert (t["state"], t["attempts"], t["attempt_list"], t["cached"]) == (
            "succeeded",
            0,
            [],
            True,
        )
        assert t["cached_from"] == {"run_id": first["id"], "attempt": 1}
    assert tasks["report"]["cached"] is False and tasks["report"]["attempts"] == 1
    assert (workdir / "report.txt").read_text() == "total=12"  # from the cached results
    assert baton.json("runs", "show", second["id"]) == second  # one view, both commands
    shown = baton("runs", "show", second["id"]).stdout
    assert f"run {first['id']} attempt 1" in shown and "cached from" in shown

    # An input changes: extract computes again; its result is the same, so scale hits.
    baton.run("flow.py", "-p", "day=2024-05-02")
    assert computed(workdir) == ["extract"]
    # A param the task does not read is no input of it.
    unused = h.tasks(baton.run("flow.py", "-p", "unused=7"))
    assert unused["extract"]["cached"] and unused["scale"]["cached"]
    # scale's code changes: it computes again, extract (same file) still hits.
    write("flow.py", FLOW.replace("r * FACTOR", "FACTOR * r"))
    third = baton.run("flow.py")
    assert computed(workdir) == ["scale"]
    assert h.tasks(third)["extract"]["cached"] is True
    assert h.tasks(baton.run("flow.py"))["scale"]["cached_from"]["run_id"] == third["id"]
    # A local module the flow's module imports is code of each of its tasks.
    write("helpers.py", "FACTOR = 3\n")
    baton.run("flow.py")
    assert computed(workdir) == ["extract", "scale"]
    assert (workdir / "report.txt").read_text() == "total=18"


def test_refresh_recomputes_and_replaces(baton, write, h, workdir):
    write("helpers.py", HELPERS)
    write("flow.py", FLOW)
    baton.run("flow.py")
    refreshed = baton.run("flow.py", "--refresh-cache")
    assert computed(workdir) == ["extract", "scale", "extract", "scale"]
    assert not any(t["cached"] for t in refreshed["tasks"])
    after = h.tasks(baton.run("flow.py"))
    assert after["extract"]["cached_from"]["run_id"] == refreshed["id"]  # it replaced it
    entries = baton.json("cache", "list")
    assert sorted(e["task"] for e in entries) == ["extract", "scale"]
    assert {e["run_id"] for e in entries} == {refreshed["id"]}


def test_a_task_that_refreshes_always_computes(baton, write, h, workdir):
    write(
        "flow.py",
        """
        from baton import flow, task

        @task(cache=True, refresh_cache=True)
        def always() -> int:
            return 1

        @flow
        def refreshing():
            always()
        """,
    )
    runs = [baton.run("flow.py") for _ in range(2)]
    assert [r["tasks"][0]["cached"] for r in runs] == [False, False]
    assert baton.json("cache", "list")[0]["run_id"] == runs[1]["id"]


YAML = """
name: nightly
params:
  day: {type: string, default: "2024-05-01"}
  other: {type: string, default: "x"}
tasks:
  - key: build
    type: script
    path: build.py
    result_file: true
    cache: {key: "{{ params.day }}", ttl: 1h}
  - key: echo
    type: shell
    command: "echo {{ params.other }}"
    cache: true
"""


def test_yaml_cache_template_key_ttl_and_script_code(baton, write, h):
    write("build.py", "import json, os\njson.dump(1, open(os.environ['BATON_RESULT_FILE'], 'w'))\n")
    write("nightly.yaml", YAML)
    first = baton.run("nightly.yaml")
    again = h.tasks(baton.run("nightly.yaml", "-p", "other=y"))
    assert again["build"]["cached"] is True  # its key is the day only
    assert again["echo"]["cached"] is False  # its command reads `other`
    listed = {e["task"]: e for e in baton.json("cache", "list", "--flow", "nightly")}
    assert listed["build"]["expires_at"] is not None and listed["echo"]["expires_at"] is None
    assert listed["build"]["run_id"] == first["id"]
    write("build.py", "import json, os\njson.dump(2, open(os.environ['BATON_RESULT_FILE'], 'w'))\n")
    assert h.tasks(baton.run("nightly.yaml"))["build"]["cached"] is False  # the script changed


def test_cache_clear_by_flow_task_and_age(baton, write, h):
    write("helpers.py", HELPERS)
    write("flow.py", FLOW)
    baton.run("flow.py")
    assert baton("cache", "clear", "--older-than", "1d").stdout == "0 cache entries cleared\n"
    assert baton.json("cache", "clear", "--flow", "cached", "--task", "scale") == {"cleared": 1}
    assert [e["task"] for e in baton.json("cache", "list")] == ["extract"]
    assert baton("cache", "clear", "--flow", "other").stdout == "0 cache entries cleared\n"
    assert baton("cache", "clear").stdout == "1 cache entry cleared\n"
    assert baton("cache", "list").stdout.startswith("0 cache entries")
    assert not any(t["cached"] for t in baton.run("flow.py")["tasks"])


def test_bad_cache_input_is_exit_2_naming_the_thing(baton, write):
    for args, named in (
        (("cache", "clear", "--older-than", "soon"), "--older-than"),
        (("cache", "clear", "--older-than", "0"), "--older-than"),
        (("cache", "clear", "--older-than", "-5m"), "--older-than"),
        (("cache", "list", "--limit", "0"), "--limit"),
        (("cache", "frobnicate"), "frobnicate"),
    ):
        err = baton(*args, check=2).stderr
        assert named in err and "Traceback" not in err, err
    write(
        "bad.yaml",
        "name: bad\ntasks:\n  - key: a\n    type: shell\n    command: echo\n"
        "    cache: {ttl: soon}\n",
    )
    err = baton("run", "bad.yaml", check=2).stderr
    assert "cache.ttl" in err and "bad.yaml:6" in err and "Traceback" not in err
    write("badpy.py", "from baton import flow, task\n@task(cache_ttl='soon')\ndef t(): ...\n")
    err = baton("run", "badpy.py", check=2).stderr
    assert "cache_ttl" in err and "Traceback" not in err


def test_a_cache_key_function_that_fails_fails_its_task(baton, write):
    write(
        "flow.py",
        """
        from baton import flow, task

        def key(params):
            raise RuntimeError("no key today")

        @task(cache_key=key)
        def keyed() -> int:
            return 1

        @flow
        def keyed_flow():
            keyed()
        """,
    )
    run = baton.run("flow.py", check=1)
    (t,) = run["tasks"]
    assert t["state"] == "failed" and t["error_kind"] == "user"
    assert "no key today" in t["error"]


def test_cache_commands_never_print_a_password(baton):
    env = {"BATON_DATABASE_URL": "postgresql://baton:s3cret-pw@127.0.0.1:1/baton"}
    for args in (("cache", "list"), ("cache", "clear")):
        proc = baton(*args, env=env, check=None)
        assert proc.returncode in (2, 3)
        assert "s3cret-pw" not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
