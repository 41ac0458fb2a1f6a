"""Repairing a run whose mapped task failed for some items re-runs those items only: the
items that succeeded keep their results, and what follows the mapped task gets them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAPPED = """
import json, os
from baton import flow, task

@task
def numbers() -> list:
    with open("numbers.txt", "a") as f:
        f.write("ran\\n")
    return [1, 2, 3, 4, 5]

@task
def square(x: int) -> dict:
    with open(f"square-{x}.txt", "a") as f:
        f.write("ran\\n")
    if x % 2 == 0 and not os.path.exists(f"fixed-{x}"):
        raise ValueError(f"item {x} fails until fixed")
    return {"x": x, "square": x * x}

@task
def total(values: list) -> None:
    with open("total.json", "w") as f:
        json.dump(values, f)

@flow
def squares():
    total(square.map(numbers()))
"""


def test_repair_reruns_only_the_failed_items(baton: Any, write: Any, h: Any, workdir: Path) -> None:
    path = write("squares.py", MAPPED)
    first = baton.run(path, check=1)
    assert h.states(first) == {
        "numbers": "succeeded",
        "square[0]": "succeeded",
        "square[1]": "failed",
        "square[2]": "succeeded",
        "square[3]": "failed",
        "square[4]": "succeeded",
        "total": "upstream_failed",
    }
    for x in (2, 4):
        (workdir / f"fixed-{x}").touch()
    repair = baton.json("runs", "repair", first["id"])
    assert repair["state"] == "succeeded"
    tasks = h.tasks(repair)
    assert set(h.states(repair).values()) == {"succeeded"}
    assert [tasks[f"square[{i}]"]["attempts"] for i in range(5)] == [0, 1, 0, 1, 0]
    for x, runs in ((1, 1), (2, 2), (3, 1), (4, 2), (5, 1)):
        assert len(h.lines(workdir / f"square-{x}.txt")) == runs, f"item {x}"
    assert h.lines(workdir / "numbers.txt") == ["ran"]
    assert json.loads((workdir / "total.json").read_text()) == [
        {"x": x, "square": x * x} for x in range(1, 6)
    ]
    # Repaired again (nothing failed now): refused, the run is whole.
    err = baton("runs", "repair", repair["id"], check=2).stderr
    assert "nothing to repair" in err
