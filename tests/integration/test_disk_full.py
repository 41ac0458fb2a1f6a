"""A full disk under BATON_HOME: attempts fail `internal` naming it, nothing hangs.

BATON_HOME is an 8 MB tmpfs of the test's own (mounted as root, unmounted at its end), and
tasks print more than it holds.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Prints `mb` MB (of a line per 100 bytes), on the first attempt only.
PRINT = '[ "$BATON_ATTEMPT" != 1 ] || head -c {mb}000000 /dev/zero | tr "\\0" x | fold -w 99'


@pytest.fixture
def small_home(baton: Any, workdir: Path) -> Iterator[Path]:
    """BATON_HOME on an 8 MB tmpfs."""
    home = workdir / "home"
    home.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(home)], check=True)
    baton.env["BATON_HOME"] = str(home)
    try:
        yield home
    finally:
        baton.close()  # nothing may hold a file there any more
        if subprocess.run(["umount", str(home)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(home)], check=True)


def free_space(home: Path) -> None:
    shutil.rmtree(home / "logs")


def test_a_full_disk_stops_baton_run_and_resume_finishes_the_run(baton, small_home: Path, write, h):
    write(
        "big.yaml",
        f"""
        name: big
        tasks:
          - {{key: a, type: shell, retries: 1, command: '{PRINT.format(mb=4)}'}}
          - {{key: b, type: shell, retries: 1, command: '{PRINT.format(mb=4)}'}}
          - {{key: c, type: shell, retries: 1, command: '{PRINT.format(mb=4)}'}}
          - {{key: after, type: shell, command: "echo done", depends_on: [a, b, c]}}
        """,
    )
    proc = baton("run", "big.yaml", "--json", check=None)  # a hang fails after TIMEOUT
    assert "Traceback" not in proc.stderr, proc.stderr
    db = small_home / "baton.db"
    if proc.returncode == 3:  # nothing more could be recorded: the usual case
        message = proc.stderr.strip().splitlines()
        assert len(message) == 1, proc.stderr
        assert "disk is full" in message[0] and "baton runs resume" in message[0]
    else:  # the failures were recorded: they name the full disk
        assert proc.returncode in (0, 1), proc.stderr
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    (run_id,) = [r["id"] for r in baton.json("runs", "list")]
    attempts = baton.json("runs", "show", run_id)["tasks"]
    internal = [
        a for t in attempts for a in t.get("attempt_list") or () if a["error_kind"] == "internal"
    ]
    for a in internal:
        assert "No space left on device" in a["error"], a
    assert proc.returncode == 3 or internal

    free_space(small_home)
    if proc.returncode == 3:
        baton("runs", "resume", run_id)
    run = baton.json("runs", "show", run_id)
    assert run["state"] == "succeeded", run
    assert h.states(run) == {
        "a": "succeeded",
        "b": "succeeded",
        "c": "succeeded",
        "after": "succeeded",
    }


def test_a_full_home_fails_attempts_internal_on_a_postgresql_store(
    baton, small_home: Path, write, h, pg_url: str
):
    baton.env["BATON_DATABASE_URL"] = pg_url
    write(
        "big.yaml",
        f"""
        name: big
        tasks:
          - {{key: shell, type: shell, command: '{PRINT.format(mb=9)}'}}
          - key: python
            type: python
            function: big:shout
            depends_on: [shell]
            trigger_rule: all_done
          - {{key: after, type: shell, command: "echo done", depends_on: [python],
              trigger_rule: all_done}}
        """,
    )
    write(
        "big.py",
        """
        def shout():
            for _ in range(90000):
                print("y" * 99)
        """,
    )
    baton("deploy", ".")
    worker = baton.start("worker")
    run = baton.run("big.yaml")
    done = h.wait_until(
        lambda: (
            (r := baton.json("runs", "show", run["id"]))["state"] != "running"
            and r["state"] != "queued"
            and r
        ),
        what="the run to end",
    )
    assert done["state"] == "failed"
    tasks = h.tasks(done)
    for key in ("shell", "python"):
        (attempt,) = tasks[key]["attempt_list"]
        assert attempt["error_kind"] == "internal", attempt
        assert "No space left on device" in attempt["error"], attempt
        assert "\n" not in attempt["error"]
    assert tasks["after"]["state"] in ("succeeded", "failed")  # it ran: nothing hung
    assert worker.poll() is None  # the worker goes on
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    assert "Traceback" not in worker.stderr.read()  # type: ignore[union-attr]
