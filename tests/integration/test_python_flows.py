"""Flows defined with @flow/@task, run with `baton run FILE --json`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

RUN_KEYS = {"id", "flow", "state", "params", "tasks"}
TASK_KEYS = {"key", "map_index", "state", "attempts", "started_at", "ended_at", "error"}


def utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.utcoffset() is not None, f"{text} has no timezone"
    assert value.utcoffset().total_seconds() == 0, f"{text} is not UTC"
    return value


def test_json_output_shape(baton, write, h):
    path = write(
        "shape.py",
        """
        from baton import flow, task

        @task
        def first(n: int) -> int:
            return n + 1

        @task
        def second(x: int) -> int:
            return x * 10

        @flow
        def shape(n: int = 1):
            second(first(n))
        """,
    )
    before = datetime.now(UTC)
    run = baton.run(path)
    after = datetime.now(UTC)
    assert set(run) >= RUN_KEYS
    assert run["flow"] == "shape"
    assert run["state"] == "succeeded"
    assert run["params"] == {"n": 1}
    assert isinstance(run["id"], str) and run["id"]
    assert sorted(t["key"] for t in run["tasks"]) == ["first", "second"]
    for t in run["tasks"]:
        assert set(t) >= TASK_KEYS, t
        assert t["map_index"] is None
        assert t["state"] == "succeeded"
        assert t["attempts"] == 1
        assert t["error"] is None
        started, ended = utc(t["started_at"]), utc(t["ended_at"])
        assert before.replace(microsecond=0) <= started <= ended <= after
    tasks = h.tasks(run)
    assert utc(tasks["first"]["ended_at"]) <= utc(tasks["second"]["started_at"])


def test_flaky_task_succeeds_on_third_attempt(baton, write, h, workdir: Path):
    path = write(
        "flaky.py",
        """
        from baton import flow, task

        @task(retries=2, retry_delay=0)
        def flaky() -> str:
            with open("attempts.txt", "a") as f:
                f.write("x\\n")
            with open("attempts.txt") as f:
                n = len(f.read().splitlines())
            if n < 3:
                raise RuntimeError(f"flaky failure {n}")
            return "ok"

        @task
        def after(value: str) -> None:
            with open("after.txt", "w") as f:
                f.write(value)

        @flow
        def flaky_flow():
            after(flaky())
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    tasks = h.tasks(run)
    assert tasks["flaky"]["state"] == "succeeded"
    assert tasks["flaky"]["attempts"] == 3
    assert tasks["after"]["state"] == "succeeded"
    assert len(h.lines(workdir / "attempts.txt")) == 3
    assert (workdir / "after.txt").read_text() == "ok"


def test_retries_exhausted_fail_the_run(baton, write, h, workdir: Path):
    path = write(
        "always.py",
        """
        from baton import flow, task

        @task(retries=2, retry_delay=0)
        def always_fails() -> None:
            with open("attempts.txt", "a") as f:
                f.write("x\\n")
            raise ValueError("broken beyond repair 42")

        @task
        def downstream(x) -> None:
            open("downstream_ran", "w").close()

        @flow
        def always():
            downstream(always_fails())
        """,
    )
    run = baton.run(path, check=1)
    assert run["state"] == "failed"
    tasks = h.tasks(run)
    assert tasks["always_fails"]["state"] == "failed"
    assert tasks["always_fails"]["attempts"] == 3
    assert "broken beyond repair 42" in tasks["always_fails"]["error"]
    assert tasks["downstream"]["state"] == "upstream_failed"
    assert tasks["downstream"]["attempts"] == 0
    assert len(h.lines(workdir / "attempts.txt")) == 3
    assert not (workdir / "downstream_ran").exists()


def test_retry_on_limits_retries_to_given_exceptions(baton, write, h, workdir: Path):
    path = write(
        "retry_on.py",
        """
        from baton import flow, task

        def count(name: str) -> int:
            with open(name, "a") as f:
                f.write("x\\n")
            with open(name) as f:
                return len(f.read().splitlines())

        @task(retries=3, retry_delay=0, retry_on=[ValueError])
        def not_retried() -> None:
            count("not_retried.txt")
            raise KeyError("not a ValueError")

        @task(retries=3, retry_delay=0, retry_on=[ValueError])
        def retried() -> int:
            n = count("retried.txt")
            if n == 1:
                raise ValueError("first time")
            return n

        @task(retries=3, retry_delay=0, retry_on=[LookupError])
        def subclass_retried() -> int:
            n = count("subclass.txt")
            if n == 1:
                raise IndexError("an IndexError is a LookupError")
            return n

        @flow
        def retry_on_flow():
            not_retried()
            retried()
            subclass_retried()
        """,
    )
    run = baton.run(path, check=1)
    tasks = h.tasks(run)
    assert tasks["not_retried"]["state"] == "failed"
    assert tasks["not_retried"]["attempts"] == 1
    assert len(h.lines(workdir / "not_retried.txt")) == 1
    assert tasks["retried"]["state"] == "succeeded"
    assert tasks["retried"]["attempts"] == 2
    assert tasks["subclass_retried"]["state"] == "succeeded"
    assert tasks["subclass_retried"]["attempts"] == 2


def test_same_task_twice_gets_distinct_keys(baton, write, h, workdir: Path):
    path = write(
        "twice.py",
        """
        import json
        from baton import flow, task

        @task
        def add(a: int, b: int) -> int:
            print(f"adding {a} and {b}")
            return a + b

        @task
        def collect(x: int, y: int, z: int) -> None:
            with open("got.json", "w") as f:
                json.dump([x, y, z], f)

        @flow
        def twice():
            collect(add(1, 2), add(10, 20), add(100, 200))
        """,
    )
    run = baton.run(path)
    assert sorted(t["key"] for t in run["tasks"]) == ["add", "add__1", "add__2", "collect"]
    assert run["state"] == "succeeded"
    # Keys follow the order of the calls.
    for key, (a, b) in {"add": (1, 2), "add__1": (10, 20), "add__2": (100, 200)}.items():
        assert f"adding {a} and {b}" in baton("logs", run["id"], key).stdout
    assert json.loads((workdir / "got.json").read_text()) == [3, 30, 300]
    show = baton("flows", "show", path).stdout
    assert "add__1" in show and "add__2" in show


PARAMS_FLOW = """
import json
from baton import flow, task

@task
def record(n, ratio, word, flag, items) -> None:
    with open("params.json", "w") as f:
        json.dump({"n": [n, type(n).__name__], "ratio": [ratio, type(ratio).__name__],
                   "word": [word, type(word).__name__], "flag": [flag, type(flag).__name__],
                   "items": [items, type(items).__name__]}, f)

@flow
def typed(n: int = 2, ratio: float = 0.5, word: str = "hi", flag: bool = False,
          items: list = [1]):
    record(n, ratio, word, flag, items)
"""


def test_params_defaults(baton, write, workdir: Path):
    path = write("typed.py", PARAMS_FLOW)
    run = baton.run(path)
    assert run["params"] == {"n": 2, "ratio": 0.5, "word": "hi", "flag": False, "items": [1]}
    got = json.loads((workdir / "params.json").read_text())
    assert got == {
        "n": [2, "int"],
        "ratio": [0.5, "float"],
        "word": ["hi", "str"],
        "flag": [False, "bool"],
        "items": [[1], "list"],
    }


def test_params_overridden_and_coerced(baton, write, workdir: Path):
    path = write("typed.py", PARAMS_FLOW)
    run = baton.run(
        path,
        "-p",
        "n=5",
        "-p",
        "ratio=2.5",
        "-p",
        "word=42",
        "-p",
        "flag=true",
        "-p",
        "items=[3, 4]",
    )
    assert run["params"] == {"n": 5, "ratio": 2.5, "word": "42", "flag": True, "items": [3, 4]}
    got = json.loads((workdir / "params.json").read_text())
    assert got == {
        "n": [5, "int"],
        "ratio": [2.5, "float"],
        "word": ["42", "str"],
        "flag": [True, "bool"],
        "items": [[3, 4], "list"],
    }


def test_required_param_missing_is_bad_input(baton, write):
    path = write(
        "required.py",
        """
        from baton import flow, task

        @task
        def show(n: int) -> int:
            return n

        @flow
        def needs(n: int):
            show(n)
        """,
    )
    proc = baton("run", path, check=2)
    assert "Traceback" not in proc.stderr
    assert "n" in proc.stderr
    assert baton.run(path, "-p", "n=3")["params"] == {"n": 3}


def test_upstream_results_alone_and_inside_lists(baton, write, workdir: Path):
    path = write(
        "lists.py",
        """
        import json
        from baton import flow, task

        @task
        def one() -> int:
            return 1

        @task
        def two() -> dict:
            return {"two": 2}

        @task
        def combine(items: list, single: int, mapping: dict, n: int) -> None:
            with open("combined.json", "w") as f:
                json.dump({"items": items, "single": single, "mapping": mapping, "n": n}, f)

        @flow
        def lists(n: int = 7):
            a = one()
            b = two()
            combine([a, b, 3, [a]], a, {"k": b, "lit": "x"}, n)
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    got = json.loads((workdir / "combined.json").read_text())
    assert got == {
        "items": [1, {"two": 2}, 3, [1]],
        "single": 1,
        "mapping": {"k": {"two": 2}, "lit": "x"},
        "n": 7,
    }
    show = baton("flows", "show", path).stdout
    combine_line = next(line for line in show.splitlines() if "combine" in line)
    assert "one" in combine_line and "two" in combine_line


def test_non_json_results_are_pickled(baton, write, workdir: Path):
    path = write(
        "pickled.py",
        """
        from dataclasses import dataclass
        from baton import flow, task

        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y

        @task
        def make_set() -> set:
            return {3, 1, 2}

        @task
        def make_point() -> Point:
            return Point(4, 5)

        @task
        def make_bytes() -> bytes:
            return b"\\x00\\xffraw"

        @task
        def check(s, p, b) -> None:
            assert type(s) is set, type(s)
            assert type(p).__name__ == "Point", type(p)
            with open("check.txt", "w") as f:
                f.write(f"{sorted(s)} {p.x},{p.y} {b!r}")

        @flow
        def pickled():
            check(make_set(), make_point(), make_bytes())
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded", run
    assert (workdir / "check.txt").read_text() == r"[1, 2, 3] 4,5 b'\x00\xffraw'"
    assert list((workdir / ".baton").rglob("*.pkl")), "no pickle result stored under BATON_HOME"


def test_retry_delay_and_exponential_backoff(baton, write, h, workdir: Path):
    path = write(
        "backoff.py",
        """
        import time
        from baton import flow, task

        @task(retries=2, retry_delay=0.3, retry_backoff=2)
        def flaky() -> None:
            with open("times.txt", "a") as f:
                f.write(f"{time.time()}\\n")
            raise RuntimeError("always")

        @flow
        def backoff():
            flaky()
        """,
    )
    run = baton.run(path, check=1)
    assert h.tasks(run)["flaky"]["attempts"] == 3
    t1, t2, t3 = (float(x) for x in h.lines(workdir / "times.txt"))
    assert 0.3 <= t2 - t1 < 2.0, t2 - t1
    assert 0.6 <= t3 - t2 < 2.5, t3 - t2


CONCURRENT = """
import threading, time
from baton import flow, task

lock = threading.Lock()
active = 0
peak = 0

def hold() -> None:
    global active, peak
    with lock:
        active += 1
        peak = max(peak, active)
    time.sleep(0.1)
    with lock:
        active -= 1

@task
def work() -> int:
    hold()
    return 0

@task
def report(values) -> None:
    with open("peak.txt", "w") as f:
        f.write(str(peak))

@flow
def capped():
    report([work(), work(), work(), work(), work(), work()])
"""


def test_concurrency_caps_parallel_tasks(baton, write, workdir: Path):
    path = write("capped.py", CONCURRENT)
    assert baton.run(path, "--concurrency", "1")["state"] == "succeeded"
    assert (workdir / "peak.txt").read_text() == "1"
    assert baton.run(path, "--concurrency", "3")["state"] == "succeeded"
    assert (workdir / "peak.txt").read_text() == "3"
