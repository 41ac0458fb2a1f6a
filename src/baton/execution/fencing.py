"""Fencing: an attempt's processes never outlive its worker's claim on it.

A claim ends without the worker saying so in two ways, and another worker then retries the
task: its side effects must not happen twice at once.

- The worker dies (SIGKILL, out of memory). Its task processes run in process groups of
  their own (tasks/process.py), so nothing takes them down with it. A `Watchdog` process,
  started with the worker, reads a pipe whose write end only the worker holds: when the
  worker dies, however it dies, the pipe closes and the watchdog kills the process groups
  of the attempts the worker still had (their group files, as `process.kill_groups` reads
  them, and, on Linux, every process whose environment names one of them: the worker may
  die between starting a process and listing its group). It does not depend on which
  thread started a process, as PR_SET_PDEATHSIG would, and takes the whole group.
- The worker lives but cannot renew its leases (its store is out of reach): once a lease
  expires, the attempt is lost and retried elsewhere. The worker counts each lease from
  the moment it asked for it (before the store set it: its count ends first) and, a margin
  before the end, kills the attempt's processes and ends it `lost` itself (`Fence`). A
  thread of its own does it: the worker loop may be stuck in a call to that store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from baton.tasks import process

MARGIN = 2.0  # seconds before a lease ends that its attempt is fenced, at most
MARGIN_SHARE = 0.25  # ... and at most this share of the lease
WATCHDOG_EXIT = 2.0  # how long a worker at its end waits for its watchdog to be done


def now() -> float:
    """The fence's clock: monotonic, and on Linux counting a suspended machine's sleep too
    (leases expire meanwhile, by the store's clock)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


class Guard:
    """Both fences of one worker (see above): `start` it as the worker starts, tell it of
    each claim, lease renewal and end of an attempt, and `close` it as the worker ends
    (what it still runs is then stopped). `stop(attempt_id)`, called from the fence's own
    thread, must kill the attempt's processes at once."""

    def __init__(
        self, work_dir: str, lease: float, heartbeat: float, stop: Callable[[str], None]
    ) -> None:
        self._work_dir = work_dir
        self._lease = lease
        # Fenced no earlier than halfway from the next renewal due to the lease's end.
        self._margin = max(min(MARGIN, lease * MARGIN_SHARE, (lease - heartbeat) / 2), 0.0)
        self._stop = stop
        self._watchdog: Watchdog | None = None
        self._fence: Fence | None = None

    def start(self) -> None:
        self._watchdog = Watchdog(self._work_dir)
        self._fence = Fence(self._lease, self._margin, self._stop)

    def claimed(self, attempt_ids: Sequence[str], asked_at: float) -> None:
        """These attempts' leases were set by a request sent at `asked_at` (`now()`)."""
        if self._watchdog is not None and self._fence is not None:
            for a in attempt_ids:
                self._watchdog.track(a)  # before its processes start
            self._fence.renewed(attempt_ids, asked_at)

    def renewed(self, attempt_ids: Sequence[str], asked_at: float) -> None:
        if self._fence is not None:
            self._fence.renewed(attempt_ids, asked_at, known=True)

    def ended(self, attempt_id: str) -> None:
        if self._watchdog is not None and self._fence is not None:
            self._fence.ended(attempt_id)
            self._watchdog.untrack(attempt_id)

    def holds(self, attempt_id: str) -> bool:
        """Whether this worker still holds the attempt's lease, so it may start it (a claim
        left unstarted through a store outage may have outlived it)."""
        return self._fence is None or self._fence.holds(attempt_id)

    def spawning(self) -> None:
        """An attempt is about to start a child process: the watchdog must run from now on
        (started on first need: a worker of thread tasks only never pays for it)."""
        if self._watchdog is not None:
            self._watchdog.start()

    def close(self) -> None:
        if self._watchdog is not None and self._fence is not None:
            self._fence.close()
            self._watchdog.close()


class Fence:
    """Stops attempts whose lease this worker did not renew in time (self-fencing).

    The worker reports when it asked for each lease (`renewed`) and when an attempt ended
    (`ended`); `stop(attempt_id)` is called, from the fence's thread, for each attempt whose
    lease will end within the margin.
    """

    def __init__(self, lease: float, margin: float, stop: Callable[[str], None]) -> None:
        self._lease = lease
        self._margin = margin
        self._stop = stop
        self._until: dict[str, float] = {}  # attempt id -> when to fence it (`now()`)
        self._cond = threading.Condition()
        self._closed = False
        # When the thread wakes next: a renewal later than that need not wake it (a wake-up
        # per claim costs a chain of quick tasks a GIL hand-over each).
        self._wake_at = float("inf")
        self._thread = threading.Thread(target=self._serve, name="baton-fence", daemon=True)
        self._thread.start()

    def renewed(self, attempt_ids: Iterable[str], asked_at: float, *, known: bool = False) -> None:
        """These leases were renewed by a request sent at `asked_at` (`now()`);
        `known`: only those already followed (an attempt that ended stays ended)."""
        until = asked_at + self._lease - self._margin
        with self._cond:
            for a in attempt_ids:
                if not known or a in self._until:
                    self._until[a] = max(until, self._until.get(a, until))
            if until < self._wake_at:
                self._cond.notify()

    def ended(self, attempt_id: str) -> None:
        with self._cond:
            self._until.pop(attempt_id, None)

    def holds(self, attempt_id: str) -> bool:
        """Whether the attempt is followed and its fence time not reached."""
        with self._cond:
            until = self._until.get(attempt_id)
        return until is not None and now() < until

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _serve(self) -> None:
        with self._cond:
            while not self._closed:
                t = now()
                due = [a for a, until in self._until.items() if until <= t]
                for a in due:
                    del self._until[a]
                    self._stop(a)
                wait = max(min(self._until.values(), default=t + 60.0) - t, 0.0)
                self._wake_at = t + wait
                self._cond.wait(wait)


# Run by the watchdog's interpreter: only what killing needs (tasks.process) is imported.
_WATCHDOG = "from baton.execution import fencing; fencing.watch()"


class Watchdog:
    """A process that kills the process groups of this worker's attempts if it dies.

    It is started (`start`) only once an attempt is about to start a child process: its own
    interpreter costs a one-task `baton run` about a tenth of its time, and attempts that run
    in threads leave no process behind. It is then told of every attempt still live."""

    def __init__(self, work_dir: str) -> None:
        self._work_dir = work_dir
        self._lock = threading.Lock()
        self._live: set[str] = set()
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._lock:
            if self._proc is not None:
                return
            # The package the worker runs from, even when it was put on sys.path by hand.
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, self._work_dir],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
                start_new_session=True,  # Ctrl-C or a kill of the worker's group leaves it be
            )
            self._write("".join(f"+{a}\n" for a in sorted(self._live)))

    def track(self, attempt_id: str) -> None:
        with self._lock:
            self._live.add(attempt_id)
            self._write(f"+{attempt_id}\n")

    def untrack(self, attempt_id: str) -> None:
        with self._lock:
            self._live.discard(attempt_id)
            self._write(f"-{attempt_id}\n")

    def close(self) -> None:
        """The worker ends: the attempts it still has are stopped (their groups killed)."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
            live = bool(self._live)
        if not live:  # nothing for it to kill: it is reaped when it is done
            threading.Thread(target=proc.wait, name="baton-watchdog", daemon=True).start()
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(WATCHDOG_EXIT)

    def _write(self, text: str) -> None:
        """Under the lock: tell a started watchdog `text` (lines of `+ID` / `-ID`)."""
        if self._proc is None or not text:
            return
        with contextlib.suppress(OSError, ValueError):  # it died: nothing to do
            assert self._proc.stdin is not None
            self._proc.stdin.write(text.encode())
            self._proc.stdin.flush()


def watch() -> None:
    """The watchdog's main: follows the attempts named on stdin (`+ID`, `-ID`, a line
    each) and, at its end (the worker closed it, or died), kills their process groups."""
    work_dir = sys.argv[1]
    live: set[str] = set()
    for line in sys.stdin.buffer:
        text = line.decode().strip()
        if text.startswith("+"):
            live.add(text[1:])
        elif text.startswith("-"):
            live.discard(text[1:])
    for attempt_id in live:
        process.kill_groups(work_dir, attempt_id)
    for pid in _started_by(live):
        with contextlib.suppress(OSError):  # it ended meanwhile
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)  # the group of its own a task process leads
            else:
                os.kill(pid, signal.SIGKILL)


def _started_by(attempt_ids: set[str]) -> list[int]:
    """Processes whose environment names one of these attempts (Linux): also those a worker
    died too soon after starting to list their group in its file."""
    wanted = {f"BATON_ATTEMPT_ID={a}".encode() for a in attempt_ids}
    pids = []
    for name in os.listdir("/proc") if wanted and os.path.isdir("/proc") else ():
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read()
        except OSError:  # not a process, or gone
            continue
        if not wanted.isdisjoint(environ.split(b"\0")):
            pids.append(int(name))
    return pids
