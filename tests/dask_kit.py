"""A real local Dask cluster for tests: `dask scheduler` and two `dask worker` processes on
127.0.0.1, a free port, the tasks' module importable on the workers (PYTHONPATH).

`kill()` ends every process of the cluster at once (SIGKILL: a cluster that dies), `start()`
brings it back on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from waiting import wait_until

DASK = shutil.which("dask") or str(Path(sys.executable).parent / "dask")

TASKS = '''
"""Functions the tests run on Dask: importable on its workers and in baton's."""
import logging
import os
import time

log = logging.getLogger("dask_tasks")


def square(x):
    print(f"squaring {x}")
    log.info("logged %s", x)
    return x * x


def total(values):
    return sum(values)


def numbers(n):
    return list(range(n))


def double(x):
    return 2 * x


def fail(message):
    print("about to fail")
    raise ValueError(message)


def sleep_then(seconds, marker=None):
    time.sleep(seconds)
    if marker:
        open(marker, "w").close()
    return seconds


def where():
    return os.getpid()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaskCluster:
    def __init__(self, folder: Path, workers: int = 2) -> None:
        self.folder = folder
        self.workers = workers
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        (folder / "dask_tasks.py").write_text(TASKS)
        self.env = {**os.environ, "PYTHONPATH": str(folder)}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        common = ["--host", "127.0.0.1", "--no-dashboard"]
        self._spawn(
            [DASK, "scheduler", "--port", str(self.port), *common],
            logs / "scheduler.log",
        )
        for i in range(self.workers):
            self._spawn(
                [DASK, "worker", self.address, "--nthreads", "2", "--resources", "CPU=2", *common],
                logs / f"worker{i}.log",
            )
        wait_until(self._ready, timeout=60, what="the Dask cluster to have its workers")

    def _spawn(self, args: list[str], log: Path) -> None:
        with open(log, "ab") as out:
            self.procs.append(
                subprocess.Popen(
                    args,
                    cwd=self.folder,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its group is killed with it
                )
            )

    def _ready(self) -> bool:
        logs = self.folder / "logs"
        registered = sum(
            "Registered to" in (logs / f"worker{i}.log").read_text(errors="replace")
            for i in range(self.workers)
        )
        return registered >= self.workers * self._starts()

    def _starts(self) -> int:
        text = (self.folder / "logs" / "scheduler.log").read_text(errors="replace")
        return max(text.count("Scheduler at:"), 1)

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in self.procs:
            p.wait(timeout=30)
        self.procs = []

    def scheduler_has(self, key: str) -> bool:
        """Whether the scheduler still holds the task `key` (asked through a client)."""
        import distributed

        with distributed.Client(self.address, timeout=10, set_as_default=False) as client:
            # A lambda travels by value: the scheduler cannot import this module.
            return bool(client.run_on_scheduler(lambda dask_scheduler: key in dask_scheduler.tasks))
