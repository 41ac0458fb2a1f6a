"""`flow` tasks: a sub-flow run with params, waited for in state `waiting` without a slot."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

CHILD = """
name: child
params:
  n: {type: integer, default: 0}
tasks:
  - key: work
    type: shell
    command: "echo child got n={{ params.n }}; echo {{ params.n }} >> child_ran.txt"
"""

LIB = """
import json

def record(sub):
    with open("got.json", "w") as f:
        json.dump(sub, f)
"""


# Each test's store is created by its first command. Tests that poll while `baton run` works
# create it first, as two processes opening a new store at once may both try to create it.


def kill_all(pids: list[str]) -> None:
    """Kill what a failed test left behind (best effort)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def child_runs(baton) -> list[dict]:
    return [r for r in baton.json("runs", "list") if r["trigger"] == "flow"]


def test_yaml_flow_task_runs_child_with_params(baton, write, h, workdir: Path):
    write("lib.py", LIB)
    (workdir / "sub").mkdir()
    # The child waits for a file the test creates, so the parent can be seen waiting.
    write(
        "sub/child.yaml",
        """
        name: child
        params:
          n: {type: integer, default: 0}
        tasks:
          - key: work
            type: shell
            command: >-
              for i in $(seq 100); do test -e go && break; sleep 0.05; done;
              echo child got n={{ params.n }}; echo {{ params.n }} > child_ran.txt
        """,
    )
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - key: sub
            type: flow
            path: sub/child.yaml
            params: {n: 7}
          - key: record
            type: python
            function: "lib:record"
            depends_on: [sub]
        """,
    )
    baton("runs", "list")  # creates the store first (see above)
    proc = baton.start("run", path, "--json")
    kids = h.wait_until(lambda: child_runs(baton) or proc.poll() is not None, what="child run")
    assert proc.poll() is None, proc.communicate()
    (child,) = kids
    parent = next(r for r in baton.json("runs", "list") if r["flow"] == "parent")
    assert child["flow"] == "child"
    assert child["params"] == {"n": 7}
    h.wait_until(
        lambda: h.states(baton.json("runs", "show", parent["id"]))["sub"] == "waiting",
        what="the parent task to be waiting",
    )
    (workdir / "go").touch()
    # poll_interval is 30 s by default: the child's end wakes the parent, not a poll.
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, (out, err)
    run = json.loads(out)
    assert run["id"] == parent["id"]
    assert h.states(run) == {"sub": "succeeded", "record": "succeeded"}
    assert h.tasks(run)["sub"]["attempts"] == 1

    done = baton.json("runs", "show", child["id"])
    assert done["state"] == "succeeded"
    assert done["trigger"] == "flow"
    assert done["params"] == {"n": 7}
    assert (workdir / "child_ran.txt").read_text().strip() == "7"
    assert "child got n=7" in baton("logs", child["id"], "work").stdout
    assert child["id"] in baton("logs", parent["id"], "sub").stdout
    got = json.loads((workdir / "got.json").read_text())
    assert got["run_id"] == child["id"]
    assert got["state"] == "succeeded"


def test_python_flow_task_with_flow_param(baton, write, h, workdir: Path):
    write("child.yaml", CHILD)
    path = write(
        "parent.py",
        """
        import json
        from baton import flow, task
        from baton.tasks.flow import flow_task

        @task
        def record(sub) -> None:
            with open("got.json", "w") as f:
                json.dump(sub, f)

        @flow
        def parent(n: int = 1):
            record(flow_task("child.yaml", key="sub", params={"n": n}, poll_interval=0.2))
        """,
    )
    run = baton.run(path, "-p", "n=41")
    assert run["state"] == "succeeded"
    assert h.states(run) == {"sub": "succeeded", "record": "succeeded"}
    (child,) = child_runs(baton)
    assert child["params"] == {"n": 41}
    assert child["state"] == "succeeded"
    assert h.lines(workdir / "child_ran.txt") == ["41"]
    assert json.loads((workdir / "got.json").read_text())["run_id"] == child["id"]


def test_waiting_parents_hold_no_worker_slot(baton, write, h, workdir: Path):
    """60 parents, 4 slots: if a waiting parent held a slot the pool would deadlock."""
    write(
        "child.yaml",
        """
        name: child
        params:
          i: {type: integer}
        tasks:
          - key: work
            type: shell
            command: "sleep 0.1; echo {{ params.i }} >> done.txt"
        """,
    )
    n = 60
    body = "\n".join(
        f"  - {{key: sub{i}, type: flow, path: child.yaml, params: {{i: {i}}}}}" for i in range(n)
    )
    path = write("fan.yaml", "name: fan\ntasks:\n" + body + "\n")
    baton("runs", "list")  # creates the store first (see above)
    proc = baton.start("run", path, "--concurrency", "4", "--json")
    started = time.monotonic()
    most_waiting = 0
    rid = h.wait_until(
        lambda: (
            [r["id"] for r in baton.json("runs", "list", "--flow", "fan")]
            or proc.poll() is not None
        ),
        what="the fan run",
    )[0]
    while proc.poll() is None and time.monotonic() - started < 20:
        states = h.states(baton.json("runs", "show", rid)).values()
        most_waiting = max(most_waiting, sum(s == "waiting" for s in states))
    try:
        out, err = proc.communicate(timeout=max(1, 20 - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the fan-out deadlocked: waiting parents hold worker slots") from None
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, (out[-2000:], err[-2000:])
    run = json.loads(out)
    assert set(h.states(run).values()) == {"succeeded"}
    assert len(run["tasks"]) == n
    assert sorted(map(int, h.lines(workdir / "done.txt"))) == list(range(n))
    kids = [r for r in baton.json("runs", "list", "--limit", "200") if r["trigger"] == "flow"]
    assert len(kids) == n
    assert {r["state"] for r in kids} == {"succeeded"}
    # More parents waited at once than there are slots: they held none.
    assert most_waiting > 4, most_waiting
    assert elapsed < 15, elapsed


def test_child_failure_fails_parent_and_retries(baton, write, h, workdir: Path):
    write(
        "child.yaml",
        """
        name: child
        tasks:
          - key: fine
            type: shell
            command: "true"
          - key: breaks
            type: shell
            command: "echo attempt >> child_attempts.txt; echo kaput-42 >&2; exit 3"
            depends_on: [fine]
        """,
    )
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - key: sub
            type: flow
            path: child.yaml
            poll_interval: 0.2
            retries: 1
            retry_delay: 0
          - key: after
            type: shell
            command: "touch after_ran"
            depends_on: [sub]
        """,
    )
    run = baton.run(path, check=1)
    assert run["state"] == "failed"
    tasks = h.tasks(run)
    assert tasks["sub"]["state"] == "failed"
    assert tasks["sub"]["attempts"] == 2
    assert tasks["after"]["state"] == "upstream_failed"
    assert not (workdir / "after_ran").exists()
    kids = child_runs(baton)
    assert len(kids) == 2, "each attempt starts its own child run"
    assert {r["state"] for r in kids} == {"failed"}
    assert len(h.lines(workdir / "child_attempts.txt")) == 2
    error = tasks["sub"]["error"]
    latest = kids[0]["id"]  # newest first
    assert latest in error
    assert "breaks" in error
    for kid in kids:
        assert h.states(baton.json("runs", "show", kid["id"])) == {
            "fine": "succeeded",
            "breaks": "failed",
        }


def test_missing_child_file_fails_the_task(baton, write, h):
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - {key: sub, type: flow, path: nowhere.yaml, retries: 2, retry_delay: 0}
        """,
    )
    run = baton.run(path, check=1)
    sub = h.tasks(run)["sub"]
    assert sub["state"] == "failed"
    assert "nowhere.yaml" in sub["error"]


def test_missing_path_field_is_a_definition_error(baton, write):
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - {key: sub, type: flow, params: {n: 1}}
        """,
    )
    proc = baton("run", path, check=2)
    assert "Traceback" not in proc.stderr
    assert "sub" in proc.stderr
    assert "path" in proc.stderr


LONG_CHILD = """
name: child
tasks:
  - key: long
    type: shell
    command: "sleep 30 & echo $! > pids; echo $$ >> pids; wait"
"""


def start_parent_with_long_child(baton, write, h, workdir: Path, *args: str):
    write("child.yaml", LONG_CHILD)
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - {key: sub, type: flow, path: child.yaml}
          - {key: after, type: shell, command: "touch after_ran", depends_on: [sub]}
        """,
    )
    baton("runs", "list")  # creates the store first (see above)
    proc = baton.start("run", path, "--json", *args)
    h.wait_until(
        lambda: len(h.lines(workdir / "pids")) == 2 or proc.poll() is not None,
        what="the child's shell task to start",
    )
    assert proc.poll() is None, proc.communicate()
    (child,) = h.wait_until(
        lambda: [r for r in child_runs(baton) if r["state"] == "running"],
        what="the child run to be running",
    )
    parent = next(r for r in baton.json("runs", "list") if r["flow"] == "parent")
    return proc, parent["id"], child["id"]


def assert_cancelled_down(baton, h, workdir: Path, proc, rid: str, child: str) -> None:
    baton("runs", "cancel", rid)
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        kill_all(h.lines(workdir / "pids"))
        raise AssertionError(
            f"baton run did not stop after cancel; child run is "
            f"{baton.json('runs', 'show', child)['state']}"
        ) from None
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err
    run = json.loads(out)
    assert run["state"] == "cancelled"
    assert h.states(run) == {"sub": "cancelled", "after": "cancelled"}
    pids = [int(p) for p in h.lines(workdir / "pids")]
    try:
        h.wait_until(
            lambda: not [p for p in pids if h.pid_alive(p)],
            timeout=5,
            what="the child's shell processes to be gone",
        )
    finally:
        kill_all(h.lines(workdir / "pids"))
    kid = baton.json("runs", "show", child)
    assert (kid["state"], h.states(kid)) == ("cancelled", {"long": "cancelled"})
    assert not (workdir / "after_ran").exists()


def test_cancel_propagates_to_the_child_run(baton, write, h, workdir: Path):
    proc, rid, child = start_parent_with_long_child(baton, write, h, workdir)
    # poll_interval is 30 s: the parent task stays `waiting` until the cancel.
    h.wait_until(
        lambda: h.states(baton.json("runs", "show", rid))["sub"] == "waiting",
        what="the parent task to be waiting",
    )
    assert_cancelled_down(baton, h, workdir, proc, rid, child)


def test_cancel_propagates_when_the_parent_task_is_queued_for_its_poll(
    baton, write, h, workdir: Path
):
    """One slot, held by the child's task: the parent's next poll stays queued."""
    write("child.yaml", LONG_CHILD)
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - {key: sub, type: flow, path: child.yaml, poll_interval: 0.1}
          - {key: after, type: shell, command: "touch after_ran", depends_on: [sub]}
        """,
    )
    baton("runs", "list")  # creates the store first (see above)
    proc = baton.start("run", path, "--json", "--concurrency", "1")
    h.wait_until(
        lambda: len(h.lines(workdir / "pids")) == 2 or proc.poll() is not None,
        what="the child's shell task to start",
    )
    assert proc.poll() is None, proc.communicate()
    (child,) = child_runs(baton)
    rid = next(r for r in baton.json("runs", "list") if r["flow"] == "parent")["id"]
    h.wait_until(
        lambda: h.states(baton.json("runs", "show", rid))["sub"] == "queued",
        what="the parent task to be queued for its next poll",
    )
    assert_cancelled_down(baton, h, workdir, proc, rid, child["id"])


def test_sigkill_then_resume_finishes_parent_and_child(baton, write, h, workdir: Path):
    write(
        "child.yaml",
        """
        name: child
        tasks:
          - key: first
            type: shell
            command: "echo ran >> first.txt"
          - key: second
            type: shell
            # The first attempt hangs (baton is killed meanwhile); the next one succeeds.
            command: >-
              if [ -e second.marker ]; then echo resumed >> second.txt;
              else echo $$ > second.marker; exec sleep 30; fi
            depends_on: [first]
        """,
    )
    path = write(
        "parent.yaml",
        """
        name: parent
        tasks:
          - {key: sub, type: flow, path: child.yaml, poll_interval: 0.2}
          - {key: after, type: shell, command: "echo after >> after.txt", depends_on: [sub]}
        """,
    )
    baton("runs", "list")  # creates the store first (see above)
    proc = baton.start("run", path)
    h.wait_until(
        lambda: (workdir / "second.marker").exists() or proc.poll() is not None,
        what="the child's second task to start",
    )
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    # The hanging shell outlives the killed baton (its own process group): not under test.
    kill_all([h.wait_until(lambda: (workdir / "second.marker").read_text().strip())])

    parent = next(r for r in baton.json("runs", "list") if r["flow"] == "parent")
    assert parent["state"] == "running"
    (child,) = child_runs(baton)
    assert child["state"] == "running"

    started = time.monotonic()
    run = baton.json("runs", "resume", parent["id"])
    assert time.monotonic() - started < 10
    assert run["state"] == "succeeded"
    assert h.states(run) == {"sub": "succeeded", "after": "succeeded"}
    kid = baton.json("runs", "show", child["id"])
    assert kid["state"] == "succeeded"
    tasks = h.tasks(kid)
    assert tasks["first"]["state"] == "succeeded"
    assert tasks["first"]["attempts"] == 1
    assert tasks["second"]["state"] == "succeeded"
    assert h.lines(workdir / "first.txt") == ["ran"], "a finished child task ran again"
    assert h.lines(workdir / "second.txt") == ["resumed"]
    assert h.lines(workdir / "after.txt") == ["after"]
    assert len(child_runs(baton)) == 1, "resume started a second child run"


def test_a_flow_task_times_out_at_its_timeout_and_cancels_its_sub_flow(baton, write, h):
    write(
        "slow_child.yaml",
        """
        name: slow_child
        tasks:
          - key: long
            type: shell
            command: "sleep 60"
        """,
    )
    path = write(
        "timed_parent.yaml",
        """
        name: timed_parent
        tasks:
          - key: child
            type: flow
            path: slow_child.yaml
            timeout: 2
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    assert time.monotonic() - started < 8
    child = h.tasks(run)["child"]
    assert child["state"] == "failed"
    assert "timed out" in child["error"]
    runs = {r["flow"]: r["state"] for r in baton.json("runs", "list")}
    assert runs == {"timed_parent": "failed", "slow_child": "cancelled"}
