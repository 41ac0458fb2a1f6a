"""Trigger rules, skip propagation, branching and the run's final state, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

OUTCOME = {"ok": "true", "fail": "exit 1", "skip": "exit 99"}

# (rule, outcomes of its upstream tasks, the state the rule's task must end in)
CASES = [
    ("all_success", ["ok", "ok"], "succeeded"),
    ("all_success", ["ok", "fail"], "upstream_failed"),
    ("all_success", ["ok", "skip"], "skipped"),
    ("all_done", ["ok", "fail", "skip"], "succeeded"),
    ("all_failed", ["fail", "fail"], "succeeded"),
    ("all_failed", ["fail", "ok"], "skipped"),
    ("all_skipped", ["skip", "skip"], "succeeded"),
    ("all_skipped", ["skip", "ok"], "skipped"),
    ("one_success", ["fail", "ok"], "succeeded"),
    ("one_success", ["fail", "fail"], "upstream_failed"),
    ("one_failed", ["ok", "fail"], "succeeded"),
    ("one_failed", ["ok", "ok"], "skipped"),
    ("one_done", ["skip", "fail"], "succeeded"),
    ("one_done", ["skip", "skip"], "skipped"),
    ("none_failed", ["ok", "skip"], "succeeded"),
    ("none_failed", ["ok", "fail"], "upstream_failed"),
    ("none_failed_min_one_success", ["ok", "skip"], "succeeded"),
    ("none_failed_min_one_success", ["skip", "skip"], "skipped"),
    ("none_failed_min_one_success", ["ok", "fail"], "upstream_failed"),
    ("none_skipped", ["ok", "fail"], "succeeded"),
    ("none_skipped", ["ok", "skip"], "skipped"),
    ("always", ["fail", "skip"], "succeeded"),
]


def test_trigger_rules_table(baton, write, h, workdir: Path):
    """All cases in one flow (one process): each rule task touches a file when it runs."""
    tasks = []
    for i, (rule, outcomes, _) in enumerate(CASES):
        ups = [f"u{i}_{j}" for j in range(len(outcomes))]
        for up, outcome in zip(ups, outcomes, strict=True):
            tasks.append(f"  - {{key: {up}, type: shell, command: '{OUTCOME[outcome]}'}}")
        tasks.append(
            f"  - {{key: r{i}, type: shell, command: 'touch ran_{i}', "
            f"trigger_rule: {rule}, depends_on: [{', '.join(ups)}]}}"
        )
    path = write("rules.yaml", "name: rules\ntasks:\n" + "\n".join(tasks) + "\n")
    run = baton.run(path, check=None)
    states = h.states(run)
    got = {
        f"{rule} {outcomes}": (states[f"r{i}"], (workdir / f"ran_{i}").exists())
        for i, (rule, outcomes, _) in enumerate(CASES)
    }
    want = {
        f"{rule} {outcomes}": (expected, expected == "succeeded")
        for rule, outcomes, expected in CASES
    }
    assert got == want


def test_all_done_leaf_absorbs_a_failure(baton, write, h, workdir: Path):
    path = write(
        "absorb.yaml",
        """
        name: absorb
        tasks:
          - {key: boom, type: shell, command: "exit 1"}
          - {key: cleanup, type: shell, command: "touch cleaned", trigger_rule: all_done,
             depends_on: [boom]}
        """,
    )
    run = baton.run(path, check=0)
    assert run["state"] == "succeeded"
    assert h.states(run) == {"boom": "failed", "cleanup": "succeeded"}
    assert (workdir / "cleaned").exists()


def test_upstream_failed_leaf_fails_the_run(baton, write, h, workdir: Path):
    path = write(
        "leaf.yaml",
        """
        name: leaf
        tasks:
          - {key: boom, type: shell, command: "exit 1"}
          - {key: cleanup, type: shell, command: "touch cleaned", trigger_rule: all_done,
             depends_on: [boom]}
          - {key: report, type: shell, command: "touch reported", depends_on: [boom]}
        """,
    )
    run = baton.run(path, check=1)
    assert run["state"] == "failed"
    assert h.states(run) == {
        "boom": "failed",
        "cleanup": "succeeded",
        "report": "upstream_failed",
    }
    assert (workdir / "cleaned").exists()
    assert not (workdir / "reported").exists()


def test_one_failed_handler_runs_and_absorbs(baton, write, h, workdir: Path):
    path = write(
        "alert.py",
        """
        from baton import flow, task

        @task
        def fine() -> int:
            return 1

        @task
        def broken() -> int:
            raise RuntimeError("broken")

        @task(trigger_rule="one_failed")
        def alert(a, b) -> None:
            # A failed upstream's result is None.
            with open("alerted.txt", "w") as f:
                f.write(f"{a} {b}")

        @flow
        def alerting():
            # one_failed fires as soon as one upstream fails, without waiting for the others:
            # broken runs after fine so that fine's result is there.
            f = fine()
            alert(f, broken(wait_for=[f]))
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    assert h.states(run) == {"fine": "succeeded", "broken": "failed", "alert": "succeeded"}
    assert (workdir / "alerted.txt").read_text() == "1 None"


BRANCH_FLOW = """
from baton import flow, task

def touch(name):
    open(name, "w").close()

@task(branch=True)
def choose(which: str):
    return which.split(",") if "," in which else which

@task
def left(c):
    touch("left")
    return "L"

@task
def right(c):
    touch("right")
    return "R"

@task
def after_left(x):
    touch("after_left")
    return x

@task
def after_right(x):
    touch("after_right")
    return x

@task(trigger_rule="none_failed_min_one_success")
def join(a, b):
    with open("joined", "w") as f:
        f.write(f"{a} {b}")

@task
def strict_join(a, b):
    touch("strict_join")

@flow
def branchy(which: str = "left"):
    c = choose(which)
    al = after_left(left(c))
    ar = after_right(right(c))
    join(al, ar)
    strict_join(al, ar)
"""


@pytest.mark.parametrize(("which", "taken", "not_taken"), [("left", "L", "R"), ("right", "R", "L")])
def test_branch_skips_the_other_path(baton, write, h, workdir: Path, which, taken, not_taken):
    path = write("branchy.py", BRANCH_FLOW)
    run = baton.run(path, "-p", f"which={which}")
    assert run["state"] == "succeeded"
    other = "right" if which == "left" else "left"
    assert h.states(run) == {
        "choose": "succeeded",
        which: "succeeded",
        f"after_{which}": "succeeded",
        other: "skipped",
        f"after_{other}": "skipped",
        "join": "succeeded",
        "strict_join": "skipped",
    }
    assert not (workdir / other).exists()
    assert not (workdir / f"after_{other}").exists()
    assert not (workdir / "strict_join").exists()
    joined = (workdir / "joined").read_text()
    assert joined == ("L None" if which == "left" else "None R")


def test_branch_to_several_keys(baton, write, h, workdir: Path):
    path = write("branchy.py", BRANCH_FLOW)
    run = baton.run(path, "-p", "which=left,right")
    assert run["state"] == "succeeded"
    assert set(h.states(run).values()) == {"succeeded"}
    assert (workdir / "joined").read_text() == "L R"


def test_skip_exception_and_propagation(baton, write, h, workdir: Path):
    path = write(
        "skipping.py",
        """
        from baton import flow, task, Skip

        @task
        def maybe():
            raise Skip("nothing to do today")

        @task
        def child(x):
            open("child_ran", "w").close()

        @task
        def grandchild(x):
            open("grandchild_ran", "w").close()

        @task(trigger_rule="none_failed")
        def tolerant(x):
            open("tolerant_ran", "w").close()

        @task(trigger_rule="all_done")
        def finally_(x):
            open("finally_ran", "w").close()

        @flow
        def skipping():
            m = maybe()
            g = grandchild(child(m))
            tolerant(m)
            finally_(g)
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    assert h.states(run) == {
        "maybe": "skipped",
        "child": "skipped",
        "grandchild": "skipped",
        "tolerant": "succeeded",
        "finally_": "succeeded",
    }
    assert h.tasks(run)["maybe"]["attempts"] == 1
    assert not (workdir / "child_ran").exists()
    assert not (workdir / "grandchild_ran").exists()
    assert (workdir / "tolerant_ran").exists()
    assert (workdir / "finally_ran").exists()
