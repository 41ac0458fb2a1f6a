"""Python tasks on a real local Ray cluster (`compute: ray`): results, forwarded logs, a
thousand mapped items with two worker slots, cancel, timeout, a cluster that dies mid-task,
an unreachable address at load.

One cluster (`ray start --head`, in a network namespace with only loopback: `ray_kit`)
serves the module; every `baton` runs in that namespace. The test that kills the cluster
starts it again, on the same ports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compute_flows import (
    FAILING,
    MANY,
    SQUARES,
    assert_lost_then_retried,
    assert_refused,
    flow,
    start_waiting,
)
from ray_kit import ENV, RayCluster


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    cluster = RayCluster(tmp_path_factory.mktemp("ray"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def on_ray(baton: Any, ray_cluster: RayCluster) -> Any:
    """`baton` in the cluster's namespace, its flows importing the cluster's task module,
    with its address by default."""
    baton.prefix = ray_cluster.prefix
    baton.env |= ENV
    baton.env["PYTHONPATH"] = str(ray_cluster.folder)
    baton.env["BATON_RAY_ADDRESS"] = ray_cluster.address
    return baton


SQUARES = flow(SQUARES, "ray")


def test_a_task_and_mapped_items_run_on_ray_and_their_output_is_in_the_log(
    on_ray, write, h, workdir: Path
):
    path = write("squares.py", SQUARES)
    run = on_ray.run(path, timeout=90)
    assert run["state"] == "succeeded", run
    got = json.loads((workdir / "got.json").read_text())
    assert got == {"values": [0, 1, 4, 9], "one": 49}
    log = on_ray("logs", run["id"], "square.2").stdout
    assert "squaring 2" in log  # printed in Ray's worker process
    assert "INFO ray_tasks: logged 2" in log  # logged there
    assert "as task baton-" in log and "(task id " in log and "succeeded" in log
    assert h.tasks(run)["square[2]"]["attempts"] == 1, "waiting is no new attempt"


def test_a_failure_on_ray_is_a_user_error_with_its_traceback(on_ray, write, h, ray_cluster):
    # The address written in the flow, checked when it is loaded.
    literal = f"{{backend: ray, address: '{ray_cluster.address}'}}"
    path = write("failing.yaml", flow(FAILING, "ray", literal))
    run = on_ray.run(path, check=1, timeout=90)
    broken = h.tasks(run)["broken"]
    assert broken["error_kind"] == "user"
    assert broken["error"].startswith("ValueError: no good (on Ray, key baton-")
    assert broken["attempts"] == 1, "retry_on matches the remote exception's class names"
    log = on_ray("logs", run["id"], "broken").stdout
    assert "about to fail" in log and "raise ValueError(message)" in log
    assert h.tasks(run)["here"]["state"] == "succeeded"  # compute: local opts out


@pytest.mark.parametrize("ray_address", ["ray://127.0.0.1:10001", "127.0.0.1:6379"])
def test_address_auto_follows_ray_address_as_ray_does(on_ray, write, h, ray_address):
    """`auto` with RAY_ADDRESS: a Ray client (`ray://`), or a driver of the cluster (its
    GCS address)."""
    path = write(
        "auto.yaml",
        """
        name: auto
        tasks:
          - {key: sq, type: python, function: "ray_tasks:square", args: [5],
             compute: {backend: ray, address: auto}}
        """,
    )
    on_ray.env["RAY_ADDRESS"] = ray_address
    del on_ray.env["BATON_RAY_ADDRESS"]
    run = on_ray.run(path, timeout=90)
    assert run["state"] == "succeeded", run
    assert "squaring 5" in on_ray("logs", run["id"], "sq").stdout


MANY = flow(MANY, "ray")


def test_a_thousand_items_finish_with_two_slots(on_ray, write):
    path = write("many.py", MANY)
    started = time.monotonic()
    run = on_ray.run(path, "--concurrency", "2", timeout=240)
    took = time.monotonic() - started
    assert run["state"] == "succeeded"
    assert sum(1 for t in run["tasks"] if t["key"] == "double") == 1000
    print(f"1,000 items on Ray through 2 worker slots: {took:.1f}s")


LONG = """
name: long
tasks:
  - {key: slow, type: python, function: "ray_tasks:sleep_noting_pid", args: [60, PIDFILE],
     compute: ray, timeout: TIMEOUT}
"""


def _running_pid(h: Any, workdir: Path) -> int:
    """The pid (in the cluster's PID namespace) of the Ray worker process running `slow`."""
    pidfile = workdir / "pid"
    return int(h.wait_until(lambda: pidfile.exists() and pidfile.read_text(), what="the pid"))


def _long(write: Any, workdir: Path, timeout: int) -> str:
    return write(
        "long.yaml",
        LONG.replace("TIMEOUT", str(timeout)).replace("PIDFILE", json.dumps(str(workdir / "pid"))),
    )


def test_cancel_ends_the_attempt_at_once_and_kills_the_ray_task(
    on_ray, write, h, workdir: Path, ray_cluster
):
    path = _long(write, workdir, 120)
    proc, rid = start_waiting(on_ray, path)
    pid = _running_pid(h, workdir)
    assert ray_cluster.alive(pid)
    started = time.monotonic()
    on_ray("runs", "cancel", rid)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15, "the attempt ends without waiting for the function"
    run = json.loads(out)
    assert run["state"] == "cancelled", err
    assert h.tasks(run)["slow"]["attempt_list"][0]["state"] == "cancelled"
    h.wait_until(lambda: not ray_cluster.alive(pid), what="Ray to kill the function's process")


def test_a_timeout_kills_the_ray_task_and_fails_the_attempt(
    on_ray, write, h, workdir: Path, ray_cluster
):
    path = _long(write, workdir, 15)  # a Ray client connects in several seconds
    run = on_ray.run(path, check=1, timeout=90)
    slow = h.tasks(run)["slow"]
    assert (slow["state"], slow["error_kind"]) == ("failed", "timeout"), slow
    h.wait_until(
        lambda: not ray_cluster.alive(_running_pid(h, workdir)),
        what="Ray to kill the function's process",
    )


def test_a_cluster_that_dies_mid_task_fails_the_attempt_lost_and_the_retry_runs(
    on_ray, write, ray_cluster
):
    assert_lost_then_retried(on_ray, write, "ray", ray_cluster)


def test_bad_compute_definitions_exit_2_naming_the_field(on_ray, write):
    closed = "ray://127.0.0.1:10009"  # nothing listens there in the namespace
    cases = {
        f"{{backend: ray, address: '{closed}'}}": f"'compute.address' {closed}: cannot connect",
        "{backend: ray, address: 'tcp://127.0.0.1:1'}": "must be a ray address such as ray://",
        "{backend: rya}": "did you mean 'ray'?",
        "{backend: ray, adress: x}": "unknown field(s) adress",
    }
    assert_refused(on_ray, write, "ray", cases)
