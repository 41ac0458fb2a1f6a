"""Flows the compute backends' tests and benchmarks run, for one backend (`dask`, `ray`):
their functions are the module `<backend>_tasks` (`dask_kit.TASKS`) on its cluster."""

from __future__ import annotations

from typing import Any

SQUARES = """
import json
from baton import flow, task
import BACKEND_tasks

# Its resources become the backend's: Dask worker resources {"CPU": 1}, Ray's num_cpus=1.
square = task(compute="BACKEND", resources={"cpu": 1})(BACKEND_tasks.square)
numbers = task(BACKEND_tasks.numbers)

@task
def record(values, one):
    with open("got.json", "w") as f:
        json.dump({"values": values, "one": one}, f)

@flow
def squares(n: int = 4):
    record(square.map(numbers(n)), square(7))
"""

FAILING = """
name: failing
compute: COMPUTE
tasks:
  - {key: broken, type: python, function: "BACKEND_tasks:fail", args: ["no good"], retries: 1,
     retry_on: [KeyError]}
  - {key: here, type: python, function: "BACKEND_tasks:where", compute: local}
"""

MANY = """
from baton import flow, task
import BACKEND_tasks

double = task(compute="BACKEND")(BACKEND_tasks.double)
numbers = task(BACKEND_tasks.numbers)
total = task(BACKEND_tasks.total)

@flow
def BACKEND_map(n: int = 1000):
    total(double.map(numbers(n)))
"""


def flow(text: str, backend: str, compute: str = "") -> str:
    """One of the flows above for `backend`; `compute` is FAILING's flow-level value."""
    return text.replace("COMPUTE", compute or f"{{backend: {backend}}}").replace("BACKEND", backend)


def assert_refused(baton: Any, write: Any, backend: str, cases: dict[str, str]) -> None:
    """Each `compute:` value of `cases` makes `baton run` exit 2 with its message and no
    traceback."""
    for compute, message in cases.items():
        path = write(
            "bad.yaml",
            f"""
            name: bad
            tasks:
              - {{key: t, type: python, function: "{backend}_tasks:where", compute: {compute}}}
            """,
        )
        err = baton("run", path, check=2).stderr
        assert message in err, (compute, err)
        assert "Traceback" not in err
