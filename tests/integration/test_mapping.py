"""Dynamic mapping: `t.map(items)` (Python) and `map_over` (YAML), one task run per item."""

from __future__ import annotations

import json
from pathlib import Path

PY_MAPPED = """
import json
from baton import flow, task

@task
def numbers(n: int) -> list:
    return list(range(1, n + 1))

@task
def square(x: int, offset: int) -> int:
    print(f"squaring {x}")
    return x * x + offset

@task
def total(values: list, literal: list) -> None:
    with open("total.json", "w") as f:
        json.dump({"values": values, "literal": literal}, f)

@flow
def mapped(n: int = 4):
    squares = square.map(numbers(n), 0)
    from_literal = square.map([5, 6], 100)
    total(squares, from_literal)
"""


def mapped_runs(run: dict, key: str) -> list[dict]:
    return sorted((t for t in run["tasks"] if t["key"] == key), key=lambda t: t["map_index"] or -1)


def test_python_map_over_an_upstream_result(baton, write, workdir: Path):
    path = write("mapped.py", PY_MAPPED)
    run = baton.run(path)
    assert run["state"] == "succeeded"
    squares = mapped_runs(run, "square")
    assert [t["map_index"] for t in squares] == [0, 1, 2, 3]
    assert all(t["state"] == "succeeded" and t["attempts"] == 1 for t in squares)
    assert [t["map_index"] for t in mapped_runs(run, "square__1")] == [0, 1]
    unmapped = [t for t in run["tasks"] if t["key"] in ("numbers", "total")]
    assert [t["map_index"] for t in unmapped] == [None, None]
    got = json.loads((workdir / "total.json").read_text())
    assert got == {"values": [1, 4, 9, 16], "literal": [125, 136]}
    # Each mapped run has its own log, named key.index.
    assert "squaring 3" in baton("logs", run["id"], "square.2").stdout
    assert "squaring 1" not in baton("logs", run["id"], "square.2").stdout


def test_python_map_order_follows_items_not_completion(baton, write, workdir: Path):
    path = write(
        "order.py",
        """
        import json, time
        from baton import flow, task

        @task
        def delays() -> list:
            return [0.3, 0.0, 0.15, 0.05]

        @task
        def wait(d: float) -> float:
            time.sleep(d)
            return d

        @task
        def collect(values):
            with open("order.json", "w") as f:
                json.dump(values, f)

        @flow
        def order():
            collect(wait.map(delays()))
        """,
    )
    assert baton.run(path)["state"] == "succeeded"
    assert json.loads((workdir / "order.json").read_text()) == [0.3, 0.0, 0.15, 0.05]


def test_python_map_over_empty_list_is_skipped(baton, write, workdir: Path):
    path = write("mapped.py", PY_MAPPED)
    run = baton.run(path, "-p", "n=0")
    assert run["state"] == "succeeded"
    squares = mapped_runs(run, "square")
    assert squares, "the mapped task is not in the run at all"
    assert {t["state"] for t in squares} == {"skipped"}
    assert {t["state"] for t in mapped_runs(run, "total")} == {"skipped"}
    assert not (workdir / "total.json").exists()


def test_python_mapped_item_failure(baton, write, workdir: Path):
    path = write(
        "partial.py",
        """
        from baton import flow, task

        @task
        def items() -> list:
            return [1, 2, 3]

        @task
        def check(x: int) -> int:
            if x == 2:
                raise ValueError(f"bad item {x}")
            return x

        @task
        def after(values):
            open("after_ran", "w").close()

        @flow
        def partial():
            after(check.map(items()))
        """,
    )
    run = baton.run(path, check=1)
    assert run["state"] == "failed"
    checks = mapped_runs(run, "check")
    assert [t["state"] for t in checks] == ["succeeded", "failed", "succeeded"]
    assert "bad item 2" in checks[1]["error"]
    assert [t["state"] for t in mapped_runs(run, "after")] == ["upstream_failed"]
    assert not (workdir / "after_ran").exists()


YAML_LIB = """
import json

def numbers(count):
    return [f"n{i}" for i in range(count)]

def shout(item, suffix):
    return item.upper() + suffix

def sink(shout, echo):
    with open("sink.json", "w") as f:
        json.dump({"shout": shout, "echo": echo}, f)
"""

YAML_MAPPED = """
name: ymapped
params:
  count: {type: integer, default: 3}
  suffix: {type: string, default: "!"}
tasks:
  - key: numbers
    type: python
    function: "lib:numbers"
  - key: shout
    type: python
    function: "lib:shout"
    map_over: numbers
  - key: echo
    type: shell
    command: "echo item-{{ item }}"
    map_over: numbers
  - key: sink
    type: python
    function: "lib:sink"
    depends_on: [shout, echo]
"""


def test_yaml_map_over(baton, write, workdir: Path):
    write("lib.py", YAML_LIB)
    path = write("ymapped.yaml", YAML_MAPPED)
    run = baton.run(path)
    assert run["state"] == "succeeded"
    assert [t["map_index"] for t in mapped_runs(run, "shout")] == [0, 1, 2]
    assert [t["map_index"] for t in mapped_runs(run, "echo")] == [0, 1, 2]
    assert json.loads((workdir / "sink.json").read_text()) == {
        "shout": ["N0!", "N1!", "N2!"],
        "echo": ["item-n0", "item-n1", "item-n2"],
    }


def test_yaml_map_over_empty_list_is_skipped(baton, write, workdir: Path):
    write("lib.py", YAML_LIB)
    path = write("ymapped.yaml", YAML_MAPPED)
    run = baton.run(path, "-p", "count=0")
    assert run["state"] == "succeeded"
    for key in ("shout", "echo", "sink"):
        runs = mapped_runs(run, key)
        assert runs and {t["state"] for t in runs} == {"skipped"}, (key, runs)
    assert not (workdir / "sink.json").exists()


def test_mapped_items_retry_independently(baton, write, workdir: Path):
    path = write(
        "retry_map.py",
        """
        import os
        from baton import flow, task

        @task
        def items() -> list:
            return ["a", "b", "c"]

        @task(retries=1, retry_delay=0)
        def fragile(x: str) -> str:
            with open(f"ran_{x}", "a") as f:
                f.write("x\\n")
            if x == "b" and not os.path.exists("b.marker"):
                open("b.marker", "w").close()
                raise RuntimeError("b fails once")
            return x * 2

        @task
        def collect(values) -> None:
            with open("collected.txt", "w") as f:
                f.write(",".join(values))

        @flow
        def retry_map():
            collect(fragile.map(items()))
        """,
    )
    run = baton.run(path)
    fragile = mapped_runs(run, "fragile")
    assert [t["attempts"] for t in fragile] == [1, 2, 1]
    assert [t["state"] for t in fragile] == ["succeeded"] * 3
    assert (workdir / "collected.txt").read_text() == "aa,bb,cc"
    assert [len((workdir / f"ran_{x}").read_text().split()) for x in "abc"] == [1, 2, 1]


def test_map_over_a_mapped_result(baton, write, workdir: Path):
    path = write(
        "chain_map.py",
        """
        from baton import flow, task

        @task
        def numbers() -> list:
            return [1, 2, 3]

        @task
        def square(x: int) -> int:
            return x * x

        @task
        def plus_one(x: int) -> int:
            return x + 1

        @task
        def collect(values) -> None:
            with open("chained.txt", "w") as f:
                f.write(repr(values))

        @flow
        def chain_map():
            collect(plus_one.map(square.map(numbers())))
        """,
    )
    run = baton.run(path)
    assert [t["map_index"] for t in mapped_runs(run, "plus_one")] == [0, 1, 2]
    assert (workdir / "chained.txt").read_text() == "[2, 5, 10]"
