"""Python tasks on a real local Dask cluster (`compute: dask`): results, forwarded logs, a
thousand mapped items with two worker slots, cancel, timeout, a cluster that dies mid-task,
an unreachable address at load, and `baton worker` on PostgreSQL.

One cluster (a scheduler and two workers, 127.0.0.1) serves the whole session; the test that
kills it starts it again on the same port.
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
from dask_kit import DaskCluster


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.kill()


@pytest.fixture
def on_dask(baton: Any, dask_cluster: DaskCluster) -> Any:
    """`baton` whose flows import the cluster's task module, with its address by default."""
    baton.env["PYTHONPATH"] = str(dask_cluster.folder)
    baton.env["BATON_DASK_ADDRESS"] = dask_cluster.address
    return baton


SQUARES = flow(SQUARES, "dask")


def test_a_task_and_mapped_items_run_on_dask_and_their_output_is_in_the_log(
    on_dask, write, h, workdir: Path
):
    path = write("squares.py", SQUARES)
    run = on_dask.run(path)
    assert run["state"] == "succeeded", run
    got = json.loads((workdir / "got.json").read_text())
    assert got == {"values": [0, 1, 4, 9], "one": 49}
    log = on_dask("logs", run["id"], "square.2").stdout
    assert "squaring 2" in log  # printed on the Dask worker
    assert "INFO dask_tasks: logged 2" in log  # logged there
    assert "as key baton-" in log and "succeeded" in log  # the Dask key
    assert h.tasks(run)["square[2]"]["attempts"] == 1, "waiting is no new attempt"


YAML_FAILING = flow(FAILING, "dask")


def test_a_failure_on_dask_is_a_user_error_with_its_traceback(on_dask, write, h):
    path = write("failing.yaml", YAML_FAILING)
    run = on_dask.run(path, check=1)
    broken = h.tasks(run)["broken"]
    assert broken["error_kind"] == "user"
    assert broken["error"].startswith("ValueError: no good (on Dask, key baton-")
    assert broken["attempts"] == 1, "retry_on matches the remote exception's class names"
    log = on_dask("logs", run["id"], "broken").stdout
    assert "about to fail" in log and "raise ValueError(message)" in log
    assert h.tasks(run)["here"]["state"] == "succeeded"  # compute: local opts out


MANY = flow(MANY, "dask")


def test_a_thousand_items_finish_with_two_slots(on_dask, write, h):
    path = write("many.py", MANY)
    started = time.monotonic()
    run = on_dask.run(path, "--concurrency", "2", timeout=120)
    took = time.monotonic() - started
    assert run["state"] == "succeeded"
    assert sum(1 for t in run["tasks"] if t["key"] == "double") == 1000
    print(f"1,000 items on Dask through 2 worker slots: {took:.1f}s")


LONG = """
name: long
tasks:
  - {key: slow, type: python, function: "dask_tasks:sleep_then", args: [30, "late"],
     compute: dask, timeout: TIMEOUT}
"""


def _slow_key(baton, rid) -> str:
    log = baton("logs", rid, "slow").stdout
    return log.split("as key ", 1)[1].split()[0]


def test_cancel_ends_the_attempt_at_once_and_cancels_the_future(on_dask, write, h, dask_cluster):
    path = write("long.yaml", LONG.replace("TIMEOUT", "60"))
    proc, rid = start_waiting(on_dask, path)
    key = _slow_key(on_dask, rid)
    assert dask_cluster.scheduler_has(key)
    started = time.monotonic()
    on_dask("runs", "cancel", rid)
    out, _ = proc.communicate(timeout=20)
    assert time.monotonic() - started < 10, "the attempt ends without waiting for the function"
    run = json.loads(out)
    assert run["state"] == "cancelled"
    assert h.tasks(run)["slow"]["attempt_list"][0]["state"] == "cancelled"
    h.wait_until(lambda: not dask_cluster.scheduler_has(key), what="the future to be cancelled")


def test_a_timeout_cancels_the_future_and_fails_the_attempt(on_dask, write, h, dask_cluster):
    path = write("long.yaml", LONG.replace("TIMEOUT", "2"))
    started = time.monotonic()
    run = on_dask.run(path, check=1)
    assert time.monotonic() - started < 15
    slow = h.tasks(run)["slow"]
    assert (slow["state"], slow["error_kind"]) == ("failed", "timeout")
    key = _slow_key(on_dask, run["id"])
    h.wait_until(lambda: not dask_cluster.scheduler_has(key), what="the future to be cancelled")


def test_a_cluster_that_dies_mid_task_fails_the_attempt_lost_and_the_retry_runs(
    on_dask, write, dask_cluster
):
    assert_lost_then_retried(on_dask, write, "dask", dask_cluster)


def test_bad_compute_definitions_exit_2_naming_the_field(on_dask, write, dask_cluster):
    from dask_kit import free_port

    closed = f"tcp://127.0.0.1:{free_port()}"
    cases = {
        f"{{backend: dask, address: '{closed}'}}": f"'compute.address' {closed}: cannot connect",
        "{backend: ray, address: 'tcp://127.0.0.1:1'}": "must be a ray address such as ray://",
        "{backend: dusk}": "did you mean 'dask'?",
        "{backend: dask, adress: x}": "unknown field(s) adress",
    }
    assert_refused(on_dask, write, "dask", cases)
    flow_level = write(
        "flow_level.yaml",
        """
        name: flow_level
        compute: {backend: dask, address: nowhere}
        tasks:
          - {key: t, type: python, function: "dask_tasks:where"}
        """,
    )
    err = on_dask("run", flow_level, check=2).stderr
    assert "flow_level.yaml:2" in err and "'compute.address' must be a dask address" in err


@pytest.mark.postgres
def test_baton_worker_on_postgresql_runs_dask_tasks(on_dask, write, pg_url, workdir: Path):
    on_dask.env["BATON_DATABASE_URL"] = pg_url
    path = write("squares.py", SQUARES)
    on_dask.start("worker", "--concurrency", "2")
    run = on_dask.run(path, "--wait", timeout=60)
    assert run["state"] == "succeeded", run
    assert json.loads((workdir / "got.json").read_text()) == {"values": [0, 1, 4, 9], "one": 49}
    assert "squaring 3" in on_dask("logs", run["id"], "square.3").stdout


@pytest.mark.postgres
def test_a_task_waiting_on_dask_is_resumed_by_another_worker_when_its_own_dies(
    on_dask, write, pg_url, h, dask_cluster
):
    """The future is published on the scheduler: it outlives the worker that submitted it,
    and the worker that resumes the waiting attempt takes its result from the cluster."""
    on_dask.env["BATON_DATABASE_URL"] = pg_url
    on_dask.env["BATON_DASK_RECHECK"] = "1"  # the re-check that finds it, when nobody wakes it
    path = write(
        "orphan.yaml",
        """
        name: orphan
        tasks:
          - {key: slow, type: python, function: "dask_tasks:sleep_then", args: [2],
             compute: dask}
        """,
    )
    on_dask("deploy", path)
    on_dask.start("server")  # its timers wake waiting task runs when their time comes
    first = on_dask.start("worker", "--name", "first")
    rid = on_dask.run(path)["id"]
    h.wait_until(
        lambda: h.states(on_dask.json("runs", "show", rid))["slow"] == "waiting",
        what="slow to wait",
    )
    first.kill()
    first.wait(timeout=10)
    on_dask.start("worker", "--name", "second")
    done = h.wait_until(
        lambda: (r := on_dask.json("runs", "show", rid))["state"] == "succeeded" and r,
        what="the other worker to resume it",
    )
    slow = h.tasks(done)["slow"]
    assert slow["attempts"] == 1, "the same attempt goes on: no retry"
    assert slow["attempt_list"][0]["worker"] == "second"
    log = on_dask("logs", rid, "slow").stdout
    assert "as key baton-" in log and "succeeded" in log
