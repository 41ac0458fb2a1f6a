"""`baton runs repair RUN`: a new run that re-runs only what did not succeed."""

from __future__ import annotations

from pathlib import Path

REPAIRABLE = """
import os
from baton import flow, task

def count(name: str) -> None:
    with open(name, "a") as f:
        f.write("ran\\n")

@task
def a() -> set:
    count("a.txt")
    return {10}  # not JSON: stored by pickle, read back by the repair run's process

@task
def b(x: set) -> int:
    count("b.txt")
    assert type(x) is set, type(x)
    if not os.path.exists("b.marker"):
        open("b.marker", "w").close()
        raise RuntimeError("b fails the first time")
    return sum(x) + 1

@task
def c(y: int) -> None:
    count("c.txt")
    with open("c_value.txt", "w") as f:
        f.write(str(y))

@task
def d() -> str:
    count("d.txt")
    return "d"

@flow
def repairable():
    c(b(a()))
    d()
"""


def test_repair_reruns_only_what_failed(baton, write, h, workdir: Path):
    path = write("repairable.py", REPAIRABLE)
    first = baton.run(path, check=1)
    assert first["state"] == "failed"
    assert h.states(first) == {
        "a": "succeeded",
        "b": "failed",
        "c": "upstream_failed",
        "d": "succeeded",
    }

    repair = baton.json("runs", "repair", first["id"], check=0)
    assert repair["id"] != first["id"]
    assert repair["flow"] == "repairable"
    assert repair["state"] == "succeeded"
    assert set(h.states(repair).values()) == {"succeeded"}
    repaired = h.tasks(repair)
    assert repaired["b"]["attempts"] == 1
    assert repaired["c"]["attempts"] == 1

    assert h.lines(workdir / "a.txt") == ["ran"], "a ran again"
    assert h.lines(workdir / "d.txt") == ["ran"], "d ran again"
    assert len(h.lines(workdir / "b.txt")) == 2
    assert len(h.lines(workdir / "c.txt")) == 1
    assert (workdir / "c_value.txt").read_text() == "11"

    runs = {r["id"]: r for r in baton.json("runs", "list")}
    assert set(runs) == {first["id"], repair["id"]}
    assert runs[repair["id"]]["trigger"] == "repair"
    assert runs[repair["id"]]["parent_run_id"] == first["id"]
    assert runs[first["id"]]["trigger"] == "manual"
    # Terminal runs are never reopened.
    assert runs[first["id"]]["state"] == "failed"
    assert baton.json("runs", "show", first["id"])["state"] == "failed"


def test_repair_plain_output_and_failed_again(baton, write, h, workdir: Path):
    path = write(
        "stubborn.yaml",
        """
        name: stubborn
        tasks:
          - {key: ok, type: shell, command: "echo ok >> ok.txt"}
          - {key: bad, type: shell, command: "echo bad >> bad.txt; exit 1", depends_on: [ok]}
        """,
    )
    first = baton.run(path, check=1)
    proc = baton("runs", "repair", first["id"][:8], check=1)
    assert "repair run" in proc.stdout
    runs = baton.json("runs", "list", "--flow", "stubborn")
    assert [r["state"] for r in runs] == ["failed", "failed"]
    assert runs[0]["trigger"] == "repair" and runs[0]["parent_run_id"] == first["id"]
    assert h.lines(workdir / "ok.txt") == ["ok"]
    assert h.lines(workdir / "bad.txt") == ["bad", "bad"]
