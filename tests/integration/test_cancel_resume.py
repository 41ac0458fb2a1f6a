"""Cancel (`baton runs cancel`, SIGINT) and crash safety (SIGKILL, then `baton runs resume`)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

LONG_FLOW = """
name: long
tasks:
  - key: long
    type: shell
    command: "sleep 30 & echo $! > pids; echo $$ >> pids; wait"
  - key: after
    type: shell
    command: "touch after_ran"
    depends_on: [long]
"""


def start_long_run(baton, write, h, workdir: Path):
    """Start `baton run` on LONG_FLOW; return (process, run id) once `long` is running."""
    path = write("long.yaml", LONG_FLOW)
    proc = baton.start("run", path, "--json")
    h.wait_until(
        lambda: len(h.lines(workdir / "pids")) == 2 or proc.poll() is not None,
        what="the long task to start",
    )
    assert proc.poll() is None, proc.communicate()
    runs = baton.json("runs", "list")
    assert len(runs) == 1
    assert runs[0]["state"] == "running"
    rid = runs[0]["id"]
    h.wait_until(
        lambda: h.states(baton.json("runs", "show", rid))["long"] == "running",
        what="long to be running",
    )
    return proc, rid


def assert_cancelled(baton, h, workdir: Path, proc, rid: str) -> None:
    started = time.monotonic()
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - started < 5, "baton run took too long to stop"
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err
    printed = json.loads(out)
    assert printed["id"] == rid
    assert printed["state"] == "cancelled"
    run = baton.json("runs", "show", rid)
    assert run["state"] == "cancelled"
    assert h.states(run) == {"long": "cancelled", "after": "cancelled"}
    assert not (workdir / "after_ran").exists()
    pids = [int(p) for p in h.lines(workdir / "pids")]
    h.wait_until(
        lambda: not [p for p in pids if h.pid_alive(p)],
        timeout=3,
        what="the cancelled task's processes to be gone",
    )
    assert baton.json("runs", "list", "--state", "cancelled")[0]["id"] == rid


def test_cancel_from_another_process(baton, write, h, workdir: Path):
    proc, rid = start_long_run(baton, write, h, workdir)
    out = baton("runs", "cancel", rid).stdout
    assert rid in out
    assert_cancelled(baton, h, workdir, proc, rid)
    # Cancelling a finished run again does nothing, and is no error.
    again = baton("runs", "cancel", rid)
    assert again.stdout == f"run {rid} is cancelled\n"


def test_sigint_cancels_the_run(baton, write, h, workdir: Path):
    proc, rid = start_long_run(baton, write, h, workdir)
    proc.send_signal(signal.SIGINT)
    assert_cancelled(baton, h, workdir, proc, rid)


CRASHY = """
import os, time
from baton import flow, task

@task
def fast() -> str:
    with open("fast.txt", "a") as f:
        f.write("ran\\n")
    return "fast-value"

@task
def slow(x: str) -> str:
    if not os.path.exists("slow.marker"):
        open("slow.marker", "w").close()
        time.sleep(30)  # the first attempt never ends: baton is killed meanwhile
    return x + "+slow"

@task
def after(y: str) -> None:
    with open("after.txt", "a") as f:
        f.write(y + "\\n")

@flow
def crashy():
    after(slow(fast()))
"""


def test_sigkill_then_resume_finishes_the_run(baton, write, h, workdir: Path):
    path = write("crashy.py", CRASHY)
    proc = baton.start("run", path)
    h.wait_until(
        lambda: (workdir / "slow.marker").exists() or proc.poll() is not None,
        what="slow to start",
    )
    assert proc.poll() is None, proc.communicate()
    rid = baton.json("runs", "list")[0]["id"]
    h.wait_until(
        lambda: h.states(baton.json("runs", "show", rid))["slow"] == "running",
        what="slow to be running",
    )
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)

    interrupted = baton.json("runs", "show", rid)
    assert interrupted["state"] == "running"
    assert h.states(interrupted)["fast"] == "succeeded"

    run = baton.json("runs", "resume", rid, check=0)
    assert run["id"] == rid
    assert run["state"] == "succeeded"
    tasks = h.tasks(run)
    assert {k: t["state"] for k, t in tasks.items()} == {
        "fast": "succeeded",
        "slow": "succeeded",
        "after": "succeeded",
    }
    assert tasks["fast"]["attempts"] == 1
    assert tasks["slow"]["attempts"] == 2
    assert tasks["after"]["attempts"] == 1
    assert h.lines(workdir / "fast.txt") == ["ran"], "fast ran again"
    assert h.lines(workdir / "after.txt") == ["fast-value+slow"]
    # The run's history survives: another process sees it finished.
    assert baton.json("runs", "show", rid[:8])["state"] == "succeeded"


def test_resume_plain_output_exit_code(baton, write, h, workdir: Path):
    """Resume without --json: exit 0 and a summary naming the tasks."""
    path = write("crashy.py", CRASHY)
    proc = baton.start("run", path)
    h.wait_until(
        lambda: (workdir / "slow.marker").exists() or proc.poll() is not None,
        what="slow to start",
    )
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    rid = baton.json("runs", "list")[0]["id"]
    out = baton("runs", "resume", rid[:6]).stdout
    assert "succeeded" in out and "slow" in out
    assert h.lines(workdir / "fast.txt") == ["ran"]


def test_resume_a_finished_run_is_bad_input(baton, write):
    path = write(
        "done.yaml",
        """
        name: done
        tasks:
          - {key: quick, type: shell, command: "true"}
        """,
    )
    rid = baton.run(path)["id"]
    proc = baton("runs", "resume", rid, check=2)
    assert "Traceback" not in proc.stderr
    assert rid in proc.stderr
    assert "succeeded" in proc.stderr
    assert baton.json("runs", "show", rid)["state"] == "succeeded"


PY_LONG = """
import os, time
from baton import flow, task

@task
def spin() -> None:
    open("spin.started", "w").close()
    n = 0
    while True:  # pure Python: a thread can be stopped between bytecodes
        n = (n + 1) % 1000

@task(isolation="process")
def sleeper() -> None:
    with open("pids", "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(30)

@task
def after(a, b) -> None:
    open("after_ran", "w").close()

@flow
def py_long():
    after(spin(), sleeper())
"""


def test_cancel_stops_python_tasks(baton, write, h, workdir: Path):
    path = write("py_long.py", PY_LONG)
    proc = baton.start("run", path, "--json")
    h.wait_until(
        lambda: (
            ((workdir / "spin.started").exists() and h.lines(workdir / "pids"))
            or proc.poll() is not None
        ),
        what="both tasks to start",
    )
    assert proc.poll() is None, proc.communicate()
    rid = baton.json("runs", "list")[0]["id"]
    h.wait_until(
        lambda: (
            {"spin": "running", "sleeper": "running"}.items()
            <= h.states(baton.json("runs", "show", rid)).items()
        ),
        what="both tasks to be running",
    )
    baton("runs", "cancel", rid)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 1, (out, err)
    run = baton.json("runs", "show", rid)
    assert run["state"] == "cancelled"
    assert h.states(run) == {"spin": "cancelled", "sleeper": "cancelled", "after": "cancelled"}
    pid = int(h.lines(workdir / "pids")[0])
    h.wait_until(lambda: not h.pid_alive(pid), timeout=3, what="the isolated task to be killed")
    assert not (workdir / "after_ran").exists()


def test_cancel_a_run_whose_process_was_killed(baton, write, h, workdir: Path):
    path = write("crashy.py", CRASHY)
    proc = baton.start("run", path)
    h.wait_until(
        lambda: (workdir / "slow.marker").exists() or proc.poll() is not None,
        what="slow to start",
    )
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    rid = baton.json("runs", "list")[0]["id"]
    baton("runs", "cancel", rid)
    run = baton.json("runs", "show", rid)
    assert run["state"] == "cancelled"
    assert h.states(run) == {"fast": "succeeded", "slow": "cancelled", "after": "cancelled"}
    assert not (workdir / "after.txt").exists()


SLEEPY = """
import time
from baton import flow, task

@task
def sleepy() -> None:
    open("sleepy.started", "w").close()
    time.sleep(30)

@flow
def sleeping():
    sleepy()
"""


def test_cancel_ends_a_thread_task_blocked_in_c_and_a_second_cancel_is_harmless(
    baton, write, h, workdir: Path
):
    path = write("sleepy.py", SLEEPY)
    proc = baton.start("run", path, "--json")
    h.wait_until(
        lambda: (workdir / "sleepy.started").exists() or proc.poll() is not None,
        what="sleepy to start",
    )
    rid = baton.json("runs", "list")[0]["id"]
    baton("runs", "cancel", rid)
    again = baton("runs", "cancel", rid, check=None)
    assert again.returncode in (0, 2) and "Traceback" not in again.stderr
    assert "not allowed" not in again.stderr
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 1, (out, err)
    run = baton.json("runs", "show", rid)
    assert run["state"] == "cancelled"
    assert h.states(run) == {"sleepy": "cancelled"}


def test_cancelling_a_killed_run_kills_the_processes_its_tasks_left(baton, write, h, workdir: Path):
    # SIGKILL takes `baton run` down without its children, and here its watchdog too
    # (fencing.Watchdog), as when both die at once: the shell task's process group lives
    # on. Whoever finds the attempt lost (here a cancel) kills that group.
    proc, rid = start_long_run(baton, write, h, workdir)
    pids = [int(p) for p in h.lines(workdir / "pids")]
    threads = Path(f"/proc/{proc.pid}/task").iterdir()
    for child in [c for t in threads for c in (t / "children").read_text().split()]:
        if "fencing" in Path(f"/proc/{child}/cmdline").read_text():
            os.kill(int(child), signal.SIGKILL)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    assert all(h.pid_alive(p) for p in pids), "the task's processes outlived baton, as expected"
    baton("runs", "cancel", rid)
    h.wait_until(
        lambda: not any(h.pid_alive(p) for p in pids), timeout=3, what="the orphans to be killed"
    )
    assert baton.json("runs", "show", rid)["state"] == "cancelled"
