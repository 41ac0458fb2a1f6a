"""Per-attempt log capture for tasks running in threads.

sys.stdout, sys.stderr and the root logger are routed, per thread, to the log of the attempt
that thread is running; output from any other thread goes where it went before. Child
processes write to the same file directly, or, when there are secret values to mask, through
a pipe that masks them (MaskedLog).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

from baton.execution.secrets import Secrets
from baton.model.context import open_log_file

_local = threading.local()
_install_lock = threading.Lock()
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
PIPE_GRACE = 2.0  # how long closing a masked log waits for its pipe to drain


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


def open_masked(secrets: Secrets, path: str) -> IO[bytes]:
    """The log file at `path`, writing every secret value as `***` (see MaskedLog)."""
    file = open_log_file(path)
    if not secrets.masking:
        return file
    return cast(IO[bytes], MaskedLog(file, secrets))  # as much of IO as tasks use of it


class MaskedLog:
    """An attempt's log that masks secret values, even one split across two writes.

    Each write goes out masked at once, but for what may be the start of a value (the end
    of the last line, shorter than the longest value), kept until more comes or the log is
    closed. A child process gets a pipe (`fileno()`), read and masked by a thread; from then
    on the task's own writes go through the pipe too, so the log keeps their order.
    """

    def __init__(self, file: IO[bytes], secrets: Secrets) -> None:
        self._file = file
        self._secrets = secrets
        self._lock = threading.Lock()
        self._kept = b""
        self._pipe: int | None = None  # the pipe's write end
        self._pump: threading.Thread | None = None
        self._closed = False

    def write(self, data: bytes) -> int:
        with self._lock:
            if self._closed:
                raise ValueError("write to a closed log")
            if self._pipe is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._pipe, view) :]
                return len(data)
            ready, self._kept = self._secrets.mask_prefix(self._kept + data)
            if ready:
                self._file.write(ready)
            return len(data)

    def flush(self) -> None:
        pass  # what is kept back may be half a secret; the rest is written unbuffered

    def fileno(self) -> int:
        """A pipe into the log, for a child process's stdout and stderr."""
        with self._lock:
            if self._closed:
                raise ValueError("the log is closed")
            if self._pipe is None:
                read, self._pipe = os.pipe()
                self._pump = threading.Thread(
                    target=self._copy, args=(read, self._kept), name="baton-log", daemon=True
                )
                self._kept = b""
                self._pump.start()
            return self._pipe

    def _copy(self, read: int, kept: bytes) -> None:
        try:
            while chunk := os.read(read, 65536):
                ready, kept = self._secrets.mask_prefix(kept + chunk)
                if ready:
                    self._file.write(ready)
            self._file.write(self._secrets.mask_bytes(kept))
        finally:
            os.close(read)
            self._file.close()

    def close(self) -> None:
        """Write what was kept back and close; a pipe is read to its end first.

        A process that escaped the task's process group may hold the pipe open: after
        PIPE_GRACE the log is left to the thread, which closes it when that process ends.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pipe, kept = self._pipe, self._kept
        if pipe is None:
            self._file.write(self._secrets.mask_bytes(kept))
            self._file.close()
            return
        os.close(pipe)
        assert self._pump is not None
        self._pump.join(PIPE_GRACE)
