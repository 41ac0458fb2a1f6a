"""Attempts' logs: captured to a file per attempt, shipped to the store, read back.

sys.stdout, sys.stderr and the root logger are routed, per thread, to the log of the attempt
that thread is running; output from any other thread goes where it went before. Child
processes write to it through a pipe that masks secret values and records when each line
was written (AttemptLog, log_times): the file never holds a secret value.

In cluster mode a worker copies each log file, as it grows, into the store (Shipper), where
a server or CLI on another machine reads it (read_attempt_log). Offsets are bytes of the
file; text is decoded so that it keeps them (decode).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, cast

from baton.execution import log_times
from baton.execution.log_times import StampedFile, open_log_file
from baton.execution.secrets import Secrets
from baton.model.states import AttemptState
from baton.settings import Settings
from baton.store.logs import LogChunk
from baton.store.records import AttemptRow
from baton.store.store import Store

_local = threading.local()
_install_lock = threading.Lock()
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
PIPE_GRACE = 2.0  # how long closing a masked log waits for its pipe to drain
SHIP_MAX = 4 << 20  # bytes of one log a ship while the attempt runs takes at most
CHUNK_BYTES = 256 << 10  # bytes of log per stored piece, at most
_ONGOING = (AttemptState.RUNNING.value, AttemptState.WAITING.value)
# What `decode` reads as `?`: NUL (PostgreSQL's text cannot hold it), and each byte that is
# not part of a UTF-8 character (the surrogate that `surrogateescape` decodes it to).
_UNREADABLE = {0: "?"} | {0xDC80 + b: "?" for b in range(128)}


def log_path(settings: Settings, run_id: str, name: str, attempt: int) -> str:
    """The log file of attempt `attempt` of task run `name` (its key, or `key.N`)."""
    return os.path.join(settings.logs_dir, run_id, name, f"{attempt}.log")


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


def open_attempt_log(secrets: Secrets, path: str) -> IO[bytes]:
    """The attempt's log at `path`: every secret value written as `***`, each line's time
    recorded (see AttemptLog)."""
    return cast(IO[bytes], AttemptLog(StampedFile(path), secrets))  # as much of IO as tasks use


class AttemptLog:
    """An attempt's log, written by the task and its child processes: it masks secret
    values, even one split across two writes, and records when each line was written
    (`log_times`).

    Each write goes out masked at once, but for what may be the start of a value (the end
    of the last line, shorter than the longest value), kept until more comes or the log is
    closed. A child process gets a pipe (`fileno()`), read, masked and stamped by a thread;
    from then on the task's own writes go through the pipe too, so the log keeps their order.
    """

    def __init__(self, file: StampedFile, secrets: Secrets) -> None:
        self._file = file
        self._secrets = secrets
        self._lock = threading.Lock()
        self._kept = b""
        self._pipe: int | None = None  # the pipe's write end
        self._pump: threading.Thread | None = None
        self._closed = False
        self._error: OSError | None = None  # the pipe's output could not be written

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
                if self._error is not None:
                    continue  # read to the end, so that no writer blocks on a full pipe
                ready, kept = self._secrets.mask_prefix(kept + chunk)
                try:
                    if ready:
                        self._file.write(ready)
                except OSError as exc:  # a full disk: `close` reports it
                    self._error = exc
            if self._error is None:
                self._file.write(self._secrets.mask_bytes(kept))
        except OSError as exc:
            self._error = exc
        finally:
            os.close(read)
            self._file.close()

    def close(self) -> None:
        """Write what was kept back and close; a pipe is read to its end first. Raises the
        OSError that kept the log from being written whole (a full disk).

        A process that escaped the task's process group may hold the pipe open: after
        PIPE_GRACE the log is left to the thread, which closes it when that process ends.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pipe, kept = self._pipe, self._kept
        if pipe is None:
            try:
                self._file.write(self._secrets.mask_bytes(kept))
            finally:
                self._file.close()
            return
        os.close(pipe)
        assert self._pump is not None
        self._pump.join(PIPE_GRACE)
        if self._error is not None:
            raise self._error  # the attempt's log is incomplete: it fails (runner.internal)


# -- reading and shipping -----------------------------------------------------------------


def decode(data: bytes) -> str:
    """Log bytes as text of the same length in UTF-8, so byte offsets stay true: a byte that
    is not part of a UTF-8 character (a child process printing Latin-1), or NUL, reads `?`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape").translate(_UNREADABLE)
    return text.replace("\x00", "?")


def whole_chars(data: bytes) -> int:
    """How many bytes of `data` make whole UTF-8 characters (a last one may be cut short)."""
    start = len(data) - 1
    while start >= 0 and len(data) - start < 4 and data[start] & 0xC0 == 0x80:
        start -= 1  # back over continuation bytes to the character's first byte
    if start < 0:
        return len(data)
    lead = data[start]
    needed = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return start if len(data) - start < needed else len(data)


class LogRead(NamedTuple):
    """What `read_attempt_log` read."""

    text: str
    next_offset: int
    complete: bool  # the attempt has ended and the text reaches the end of its log
    # When asked: when each line the text starts was written, in ms since the epoch (see
    # `log_times.line_starts`); None for a line whose time is not known (written before
    # times were recorded).
    times: list[int | None] | None = None


def read_attempt_log(
    store: Store,
    settings: Settings,
    attempt: AttemptRow,
    name: str,
    offset: int,
    limit: int,
    *,
    times: bool = False,
) -> LogRead:
    """Up to `limit` bytes of an attempt's log (a row of `Tx.attempt`; `name`: its task
    run's key, or `key.N`) from byte `offset`, and with `times` when its lines were written.

    The log file, when this machine ran the attempt: the freshest. In cluster mode, what the
    attempt's worker shipped to the store when that is more (another machine ran it, or ran
    the part after it waited): both hold the same bytes at the same offsets. Unless the text
    reaches the end of an ended attempt's log, a character cut short is left for the next
    read.
    """
    ended = attempt.state not in _ONGOING
    path = log_path(settings, attempt.run_id, name, attempt.number)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(offset)
            data = f.read(limit)
    except FileNotFoundError:  # it printed nothing (yet), or not on this machine
        size, data = 0, b""
    if settings.cluster:
        read = store.read()
        shipped = read.log_size(attempt.id)
        if shipped > size:
            text, next_offset = read.log_text(attempt.id, offset, limit)
            complete = ended and next_offset >= shipped
            if not times:
                return LogRead(text, next_offset, complete)
            starts = log_times.line_starts(offset, text.encode("utf-8"))
            records = read.log_times(attempt.id, offset, starts[-1]) if starts else []
            return LogRead(text, next_offset, complete, log_times.at_offsets(records, starts))
    to_end = ended and offset + len(data) >= size
    if not to_end:
        data = data[: whole_chars(data)]
    if not times:
        return LogRead(decode(data), offset + len(data), to_end)
    line_times = log_times.line_times(path, log_times.line_starts(offset, data))
    return LogRead(decode(data), offset + len(data), to_end, line_times)


@dataclass
class _Shipping:
    path: str
    shipped: int  # bytes of the file turned into rows so far
    pending: list[LogChunk] = field(default_factory=list)  # not yet committed
    times: log_times.Shipping = field(init=False)

    def __post_init__(self) -> None:
        self.times = log_times.Shipping(self.path, self.shipped)


class Shipper:
    """Copies the logs of a worker's attempts into the store as they grow (cluster mode).

    `collect` turns what is new in each log file into rows for `Tx.append_log_chunks`. Rows
    stay pending until `confirm` (their transaction committed) and go out again, the same,
    with the next batch otherwise: a transaction that failed, or whose commit is in doubt,
    is simply repeated, and the pieces already stored are left as they are.
    """

    def __init__(self) -> None:
        self._logs: dict[str, _Shipping] = {}

    def add(self, attempt_id: str, path: str) -> None:
        self._logs[attempt_id] = _Shipping(path, 0)

    def ship(self, store: Store) -> None:
        """Store what running attempts' logs gained since the last time."""
        attempt_ids = self.attempts()
        rows = self.collect(attempt_ids, final=False)
        if rows:
            with store.transaction() as tx:
                tx.append_log_chunks(rows)
            self.confirm(attempt_ids)

    def resume(self, store: Store, attempt_id: str, path: str) -> None:
        """Follow an attempt that goes on after waiting, maybe begun on another machine: the
        file first gets what the store has beyond the file's end, so both hold the same
        bytes at the same offsets."""
        read = store.read()
        size = read.log_size(attempt_id)
        try:
            have = os.stat(path).st_size
        except FileNotFoundError:
            have = 0
        if have < size:
            with open_log_file(path) as f:
                while have < size:
                    text, after = read.log_text(attempt_id, have, CHUNK_BYTES)
                    if after == have:
                        break  # a hole in what was shipped: nothing more to copy
                    records = read.log_times(attempt_id, have, after - 1)
                    log_times.write_records(path, [r for r in records if have <= r[0] < after])
                    f.write(text.encode("utf-8"))
                    have = after
        self._logs[attempt_id] = _Shipping(path, size)

    def collect(self, attempt_ids: Iterable[str], *, final: bool) -> list[LogChunk]:
        """The rows to store for these attempts: pending ones and what their files gained.
        `final`: the attempt ended, its log is closed: all of it, to its last byte."""
        rows: list[LogChunk] = []
        for attempt_id in attempt_ids:
            s = self._logs.get(attempt_id)
            if s is None:
                continue
            try:
                grown = os.stat(s.path).st_size > s.shipped
            except FileNotFoundError:  # it printed nothing: the usual no-op task
                grown = False
            if grown:
                self._read(attempt_id, s, final)
            rows += s.pending
        return rows

    def _read(self, attempt_id: str, s: _Shipping, final: bool) -> None:
        with open(s.path, "rb") as f:
            f.seek(s.shipped)
            data = f.read() if final else f.read(SHIP_MAX)
        if not final:
            data = data[: whole_chars(data)]  # the rest of a character comes next time
        s.times.catch_up()
        i = 0
        while i < len(data):
            piece = data[i : i + CHUNK_BYTES]
            if i + len(piece) < len(data):
                piece = piece[: whole_chars(piece)] or piece
            times = s.times.piece(s.shipped, s.shipped + len(piece))
            s.pending.append((attempt_id, s.shipped, decode(piece), times))
            s.shipped += len(piece)
            i += len(piece)

    def confirm(self, attempt_ids: Iterable[str], *, ended: bool = False) -> None:
        """The rows `collect` gave for these attempts are stored; `ended`: forget them."""
        for attempt_id in attempt_ids:
            if ended:
                self._logs.pop(attempt_id, None)
            elif (s := self._logs.get(attempt_id)) is not None:
                s.pending.clear()

    def attempts(self) -> list[str]:
        return list(self._logs)
