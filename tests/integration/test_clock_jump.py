"""One clock for leases and timers: a `baton server` whose clock jumps must not change what
the cluster decides (issue #11, defect 9).

Real `baton server` and `baton worker` processes on PostgreSQL. Only the server's clock is
shifted: a `sitecustomize` module on the server's PYTHONPATH (nobody else's) offsets
`time.time` by the number of seconds in a file the test rewrites while the server runs, and
acknowledges each new offset in a second file. (Debian's libfaketime breaks Python 3.11's
`sleep`, hence this.) Leases, locks and schedules follow the database's clock, so the jump
changes nothing: the heartbeating worker's attempt is never failed as lost, and the schedule
neither fires for logical dates still to come nor fires one twice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

LEASE = 2.0
JUMP = 2 * 3600.0
BATON = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
EVERY = 2  # seconds between the scheduled flow's logical dates

SITECUSTOMIZE = """
import os, time

_path = os.environ["BATON_TEST_CLOCK_OFFSET_FILE"]
_real, _mono = time.time, time.monotonic
_state = {"offset": 0.0, "read_at": -1.0}

def _offset():
    m = _mono()
    if m - _state["read_at"] >= 0.02:  # re-read the file at most 50 times a second
        _state["read_at"] = m
        try:
            with open(_path) as f:
                text = f.read().strip()
        except OSError:
            text = ""
        if text:
            offset = float(text)
            if offset != _state["offset"] or not os.path.exists(_path + ".seen"):
                _state["offset"] = offset
                with open(_path + ".seen.tmp", "w") as f:
                    f.write(text)
                os.replace(_path + ".seen.tmp", _path + ".seen")
    return _state["offset"]

def _shifted():
    return _real() + _offset()

time.time = _shifted
"""

LONG = """
import time
from pathlib import Path
from baton import flow, task

@task
def long() -> str:
    # Runs until the test says so (bounded), heartbeating all along through its worker.
    release = Path({release!r})
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "done" if release.exists() else "gave up"

@flow
def held():
    long()
"""

TICK = f"""
name: tick
schedule: every {EVERY}s
tasks: [{{key: a, type: shell, command: 'true'}}]
"""


@pytest.fixture
def cluster(baton: Any, pg_url: str) -> Any:
    baton.env["BATON_DATABASE_URL"] = pg_url
    baton.env["BATON_LEASE_SECONDS"] = str(LEASE)
    baton.env["BATON_HEARTBEAT_SECONDS"] = "0.3"
    return baton


def test_a_server_clock_jump_fails_no_attempt_and_fires_no_date_twice(
    cluster: Any, write: Any, h: Any, workdir: Path, sql: Any
) -> None:
    url = cluster.env["BATON_DATABASE_URL"]
    release = workdir / "release"
    write("held.py", LONG.format(release=str(release)))
    write("tick.yaml", TICK)
    cluster("deploy", ".")

    shim = workdir / "clockshift"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    offset = workdir / "offset"
    offset.write_text("0")
    server = subprocess.Popen(
        [BATON, "server", "--no-worker"],
        cwd=workdir,
        env={
            **cluster.env,
            "PYTHONPATH": str(shim),
            "BATON_TEST_CLOCK_OFFSET_FILE": str(offset),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cluster.procs.append(server)
    cluster.start("worker", "--name", "w1", "--concurrency", "4")
    created = cluster.run("held.py")

    def attempts() -> list[Any]:
        return sql(
            url,
            (
                "SELECT state, error_kind, error FROM attempts WHERE run_id = ?",
                (created["id"],),
            ),
        )

    def tick_runs() -> list[float]:
        rows = sql(url, "SELECT logical_date FROM runs WHERE flow_name = 'tick'")
        return [float(r["logical_date"]) for r in rows]

    def jump(seconds: float) -> None:
        """Shift the server's clock and wait until it has both seen the shift and created
        two more scheduled runs since: many timer rounds, each of which checks leases."""
        offset.write_text(str(seconds))
        h.wait_until(
            lambda: (
                (workdir / "offset.seen").exists()
                and float((workdir / "offset.seen").read_text()) == seconds
            ),
            what=f"the server to see its clock shifted by {seconds:.0f}s",
        )
        before = len(tick_runs())
        h.wait_until(
            lambda: len(tick_runs()) >= before + 2,
            timeout=60,
            what=f"two scheduled runs after the server's clock moved by {seconds:.0f}s",
        )

    def check_schedule() -> None:
        dates = tick_runs()
        assert len(dates) == len(set(dates)), f"a logical date fired twice: {sorted(dates)}"
        late = [d for d in dates if d > time.time() + 1]
        assert not late, f"runs for logical dates still to come: {late} (now {time.time()})"

    h.wait_until(
        lambda: [a["state"] for a in attempts()] == ["running"], what="the long task to start"
    )
    h.wait_until(lambda: len(tick_runs()) >= 2, timeout=60, what="the schedule to fire")
    started = time.time()

    jump(JUMP)  # the server's clock is 2 h ahead of the worker's and the database's
    assert [a["state"] for a in attempts()] == ["running"], attempts()
    check_schedule()

    jump(0.0)  # and back
    assert [a["state"] for a in attempts()] == ["running"], attempts()
    check_schedule()

    release.write_text("go")
    done = h.wait_until(
        lambda: (
            (r := cluster.json("runs", "show", created["id"]))["state"] in ("succeeded", "failed")
            and r
        ),
        what="the long task to end",
    )
    assert done["state"] == "succeeded", done
    assert [(a["state"], a["error_kind"]) for a in attempts()] == [("succeeded", None)]
    check_schedule()
    # catchup false: no burst of missed dates, only about one run per interval that passed
    elapsed = time.time() - started
    fired = [d for d in tick_runs() if d >= started - EVERY]
    assert len(fired) <= elapsed / EVERY + 3, (len(fired), elapsed)
    server.terminate()
    assert server.wait(timeout=30) == 0, server.communicate()[1]
