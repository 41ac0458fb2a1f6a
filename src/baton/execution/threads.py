"""The threads that run a worker's attempts."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class TaskThreads:
    """Daemon threads running attempts, started on demand and reused when idle.

    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so one task stuck
    in C past its timeout (abandoned, see Worker._interrupt) would hold the process open.
    """

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        if start:
            threading.Thread(target=self._serve, name="baton-task", daemon=True).start()
        self._work.put(fn)

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._work.put(None)

    def _serve(self) -> None:
        while True:
            fn = self._work.get()
            if fn is None:
                return
            fn()
            with self._lock:
                self._idle += 1
