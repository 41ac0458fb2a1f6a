"""Timeouts: a task over its timeout is stopped, failed and retried; no process survives it."""

from __future__ import annotations

import time
from pathlib import Path

from baton.execution import worker


def test_python_thread_task_busy_loop_times_out(baton, write, h):
    path = write(
        "spin.py",
        """
        from baton import flow, task

        @task(timeout=1)
        def spin() -> int:
            n = 0
            while True:
                n = (n + 1) % 1000

        @task
        def after(x):
            open("after_ran", "w").close()

        @task
        def neighbour() -> int:
            return 1

        @flow
        def spinning():
            after(spin())
            neighbour()
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    elapsed = time.monotonic() - started
    assert elapsed < 6, f"the run took {elapsed:.1f}s"
    tasks = h.tasks(run)
    assert tasks["spin"]["state"] == "failed"
    assert "timed out" in tasks["spin"]["error"].lower()
    assert tasks["after"]["state"] == "upstream_failed"
    assert tasks["neighbour"]["state"] == "succeeded"
    assert run["state"] == "failed"


SHELL_TIMEOUT = """
name: shell_timeout
tasks:
  - key: sleepy
    type: shell
    timeout: 1
    retries: {retries}
    command: >-
      echo $$ >> pids;
      sleep 30 & echo $! >> pids;
      (sleep 30 & echo $! >> pids; wait) &
      sleep 30
  - key: after
    type: shell
    command: "touch after_ran"
    depends_on: [sleepy]
"""


def assert_all_gone(h, pid_file: Path, expected: int) -> None:
    pids = [int(p) for p in h.lines(pid_file)]
    assert len(pids) == expected, pids
    h.wait_until(
        lambda: not [p for p in pids if h.pid_alive(p)],
        timeout=3,
        what=f"processes {[p for p in pids if h.pid_alive(p)]} to be gone",
    )


def test_shell_timeout_kills_the_whole_process_group(baton, write, h, workdir: Path):
    path = write("shell_timeout.yaml", SHELL_TIMEOUT.format(retries=0))
    started = time.monotonic()
    run = baton.run(path, check=1)
    elapsed = time.monotonic() - started
    assert elapsed < 6, f"the run took {elapsed:.1f}s"
    tasks = h.tasks(run)
    assert tasks["sleepy"]["state"] == "failed"
    assert tasks["sleepy"]["attempts"] == 1
    assert "timed out" in tasks["sleepy"]["error"].lower()
    assert tasks["after"]["state"] == "upstream_failed"
    assert not (workdir / "after_ran").exists()
    # sh itself, the background sleep, and the sleep inside the background subshell.
    assert_all_gone(h, workdir / "pids", 3)


def test_shell_timeout_is_retried(baton, write, h, workdir: Path):
    path = write("shell_timeout.yaml", SHELL_TIMEOUT.format(retries=1))
    run = baton.run(path, check=1)
    sleepy = h.tasks(run)["sleepy"]
    assert sleepy["state"] == "failed"
    assert sleepy["attempts"] == 2
    assert_all_gone(h, workdir / "pids", 6)


def test_process_isolated_task_times_out_and_is_retried(baton, write, h, workdir: Path):
    path = write(
        "isolated.py",
        """
        import os, time
        from baton import flow, task

        @task(timeout=1, isolation="process", retries=1, retry_delay=0)
        def sleeper() -> None:
            with open("pids", "a") as f:
                f.write(f"{os.getpid()}\\n")
            time.sleep(30)

        @flow
        def isolated():
            sleeper()
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    elapsed = time.monotonic() - started
    assert elapsed < 8, f"the run took {elapsed:.1f}s"
    sleeper = h.tasks(run)["sleeper"]
    assert sleeper["state"] == "failed"
    assert sleeper["attempts"] == 2
    assert "timed out" in sleeper["error"].lower()
    pids = [int(p) for p in h.lines(workdir / "pids")]
    assert len(pids) == 2
    assert pids[0] != pids[1], "both attempts ran in the same process"
    assert_all_gone(h, workdir / "pids", 2)


def test_process_isolated_task_returns_its_result(baton, write, h, workdir: Path):
    path = write(
        "isolated_ok.py",
        """
        import os
        from baton import flow, task

        @task(isolation="process")
        def child_pid() -> dict:
            return {"pid": os.getpid(), "items": {1, 2}}

        @task
        def parent_pid(child) -> None:
            with open("pids.txt", "w") as f:
                f.write(f"{child['pid']} {os.getpid()} {sorted(child['items'])}")

        @flow
        def isolated_ok():
            parent_pid(child_pid())
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    child, parent, items = (workdir / "pids.txt").read_text().split(" ", 2)
    assert child != parent
    assert items == "[1, 2]"


def test_a_thread_task_blocked_in_c_is_failed_at_its_timeout_and_abandoned(baton, write, h):
    # time.sleep does not see the injected exception until it returns: the attempt must end
    # at the timeout anyway, and the abandoned thread must not keep the process alive.
    path = write(
        "nap.py",
        """
        import time
        from baton import flow, task

        @task(timeout=1)
        def nap() -> int:
            time.sleep(20)
            return 1

        @task(trigger_rule="all_done")
        def after(x):
            return x

        @flow
        def napping():
            after(nap())
        """,
    )
    started = time.monotonic()
    run = baton.run(path)
    elapsed = time.monotonic() - started
    # The timeout, the thread's grace to report, the grace at exit for native code to let
    # go, and a process start on a loaded machine: far from the 20 s the thread sleeps.
    bound = 1 + worker.THREAD_GRACE + worker.EXIT_GRACE + 3
    assert elapsed < bound, f"the run took {elapsed:.1f}s"
    tasks = h.tasks(run)
    assert tasks["nap"]["state"] == "failed"
    assert "timed out" in tasks["nap"]["error"]
    assert tasks["after"]["state"] == "succeeded"
