"""Per-attempt log capture for tasks running in threads.

sys.stdout, sys.stderr and the root logger are routed, per thread, to the log of the attempt
that thread is running; output from any other thread goes where it went before. Child
processes write to the same file directly.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

_local = threading.local()
_install_lock = threading.Lock()
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


class _Router(io.TextIOBase):
    def __init__(self, fallback: Any, stream: str) -> None:
        self._fallback = fallback
        self._stream = stream

    def write(self, s: str) -> int:
        target: IO[bytes] | None = getattr(_local, "log", None)
        if target is None:
            return int(self._fallback.write(s))
        target.write(s.encode("utf-8", "replace"))
        return len(s)

    def flush(self) -> None:
        if getattr(_local, "log", None) is None:
            self._fallback.flush()

    def isatty(self) -> bool:
        return bool(getattr(_local, "log", None) is None and self._fallback.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        target: IO[bytes] | None = getattr(_local, "log", None)
        if target is not None:
            target.write((_FORMAT.format(record) + "\n").encode("utf-8", "replace"))


def install() -> None:
    """Route stdout, stderr and logging per thread (idempotent)."""
    with _install_lock:
        if isinstance(sys.stdout, _Router):
            return
        sys.stdout = _Router(sys.stdout, "stdout")
        sys.stderr = _Router(sys.stderr, "stderr")
        root = logging.getLogger()
        root.addHandler(_Handler(logging.INFO))
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)


@contextmanager
def capture(open_log: Any) -> Iterator[None]:
    """Send this thread's output to the file `open_log()` returns, opened on first write."""
    _local.log = _Lazy(open_log)
    try:
        yield
    finally:
        _local.log = None


class _Lazy:
    """Opens the log only when something is written: most no-op tasks print nothing."""

    def __init__(self, open_log: Any) -> None:
        self._open = open_log
        self._file: IO[bytes] | None = None

    def write(self, data: bytes) -> int:
        if self._file is None:
            self._file = self._open()
        assert self._file is not None
        return self._file.write(data)
