"""Flows the compute backends' tests and benchmarks run, for one backend (`dask`, `ray`):
their functions are the module `<backend>_tasks` (`dask_kit.TASKS`) on its cluster."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from waiting import wait_until

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

DYING = """
name: dying
tasks:
  - {key: slow, type: python, function: "BACKEND_tasks:sleep_then", args: [3],
     compute: BACKEND, retries: 1, retry_delay: 5}
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


def start_waiting(baton: Any, path: str) -> tuple[subprocess.Popen[str], str]:
    """Start `baton run PATH --json` in the background and wait until its task `slow`
    waits for its remote work: the process and the run's id."""
    baton("runs", "list")  # the store exists before two processes use it
    proc = baton.start("run", path, "--json")
    rid: str = wait_until(lambda: baton.json("runs", "list"), what="the run")[0]["id"]
    wait_until(
        lambda: any(
            t["key"] == "slow" and t["state"] == "waiting"
            for t in baton.json("runs", "show", rid)["tasks"]
        ),
        what="slow to wait",
        timeout=60,
    )
    return proc, rid


def assert_lost_then_retried(baton: Any, write: Any, backend: str, cluster: Any) -> None:
    """A cluster killed while a task waits for it fails the attempt `lost` (naming the
    cluster's address); started again (same address) before the retry, the retry succeeds."""
    proc, rid = start_waiting(baton, write("dying.yaml", flow(DYING, backend)))
    cluster.kill()
    wait_until(
        lambda: baton.json("runs", "show", rid)["tasks"][0]["state"] == "retry_wait",
        what="the lost attempt to fail",
        timeout=60,
    )
    cluster.start()
    out, err = proc.communicate(timeout=120)
    run = json.loads(out)
    assert run["state"] == "succeeded", (out, err)
    attempts = run["tasks"][0]["attempt_list"]
    assert attempts[0]["error_kind"] == "lost", attempts
    assert cluster.address in attempts[0]["error"]
    assert attempts[-1]["state"] == "succeeded"
