"""When each line of an attempt's log was written: a file beside the log (`N.times`).

Each write to the log that starts a line first adds a record to the times file: the byte
offset in the log of the first line the write starts, and the time, in milliseconds since
the epoch (a line ends with LF, CRLF or CR). The other lines that write starts share its
record, so a line that starts at byte `b` was written at the time of the last record at or
before `b`. Records are fixed-size and in the order of their offsets: a page of a long log
finds its records by binary search, without reading the rest. The record goes out before the
bytes it stamps, so whoever reads a line finds its time.

The log's own bytes are unchanged (no prefix on lines): what a task prints is what `baton
logs` shows and what a download gives.
"""

from __future__ import annotations

import collections
import json
import os
import re
import struct
import time
from collections.abc import Callable
from typing import IO

RECORD = struct.Struct("<qq")  # (offset in the log, ms since the epoch)
LINE_BREAK = r"\r\n|\r|\n"  # how lines end, as the SSE stream, the UI and `baton logs` split them
_BREAK = re.compile(rb"[\r\n]")  # a write that has one may start a line
_BREAKS = re.compile(LINE_BREAK.encode())


def open_log_file(path: str) -> IO[bytes]:
    """An attempt's log file, opened to append, unbuffered (child processes write to it)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return open(path, "ab", buffering=0)


def times_path(log_path: str) -> str:
    """The times file of the log at `log_path` (`N.log` -> `N.times`)."""
    return log_path.removesuffix(".log") + ".times"


class StampedFile:
    """An attempt's log file, opened to append, that records when each line starts (see the
    module). Writes come from one thread at a time: the attempt's log is written under a
    lock, or by the one thread that reads its child processes' pipe."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self._file = open_log_file(path)
        self._times_path = times_path(path)
        self._times: IO[bytes] | None = None
        self._clock = clock
        self._offset = os.fstat(self._file.fileno()).st_size
        self._at_line_start = self._offset == 0 or _last_byte(path) in (b"\n", b"\r")
        self._last_ms = -1  # of the last record written

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        if self._at_line_start:
            first = self._offset
        elif len(data) == 1:  # print()'s newline, on its own
            first = -1
        else:
            end = _BREAK.search(data, 0, len(data) - 1)  # a break with text after it
            first = self._offset + end.end() if end else -1
        if first >= 0:
            ms = round(self._clock() * 1000)
            # In the same ms as the last record, the line has its time already: no record
            # (a task printing in a tight loop writes one per ms, not one per line).
            if ms != self._last_ms:
                if self._times is None:
                    self._times = open(self._times_path, "ab", buffering=0)  # noqa: SIM115
                self._times.write(RECORD.pack(first, ms))
                self._last_ms = ms
        written = self._file.write(data)
        self._offset += len(data)
        self._at_line_start = data.endswith((b"\n", b"\r"))
        return written

    def flush(self) -> None:
        pass  # both files are unbuffered

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            if self._times is not None:
                self._times.close()

    def __enter__(self) -> StampedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_byte(path: str) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def line_starts(offset: int, data: bytes) -> list[int]:
    """The offsets of the lines `data` (read at `offset`) starts: `offset` itself (which may
    be the middle of a line), then each byte after a line break (LF, CRLF or a lone CR, as a
    progress bar writes), but for one at the very end."""
    starts = [offset] if data else []
    starts += [offset + m.end() for m in _BREAKS.finditer(data) if m.end() < len(data)]
    return starts


def line_times(log_path: str, starts: list[int]) -> list[int | None]:
    """When the lines at these offsets (ascending) were written, in ms since the epoch:
    None where the log has no times (written before they were recorded, or elsewhere)."""
    if not starts:
        return []
    try:
        with open(times_path(log_path), "rb") as f:
            count = os.fstat(f.fileno()).st_size // RECORD.size
            records = _records_for(f, count, starts[0], starts[-1])
    except FileNotFoundError:
        return [None] * len(starts)
    return at_offsets(records, starts)


def _records_for(f: IO[bytes], count: int, first: int, last: int) -> list[tuple[int, int]]:
    """The records that stamp offsets first..last: the last one at or before `first` and
    those after it up to `last`; found by binary search, so a page of a long log reads a
    few records, not all."""
    f.seek(max(_after(f, count, first) - 1, 0) * RECORD.size)
    records: list[tuple[int, int]] = []
    while (raw := f.read(RECORD.size * 256)) and len(raw) >= RECORD.size:
        raw = raw[: len(raw) - len(raw) % RECORD.size]
        for offset, ms in RECORD.iter_unpack(raw):
            if offset > last:
                return records
            records.append((offset, ms))
    return records


def _after(f: IO[bytes], count: int, offset: int) -> int:
    """The index of the first of `count` records whose offset is past `offset`."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        f.seek(mid * RECORD.size)
        if RECORD.unpack(f.read(RECORD.size))[0] <= offset:
            lo = mid + 1
        else:
            hi = mid
    return lo


def at_offsets(records: list[tuple[int, int]], starts: list[int]) -> list[int | None]:
    """For each offset (ascending), the time of the last record at or before it."""
    out: list[int | None] = []
    i, current = 0, None
    for start in starts:
        while i < len(records) and records[i][0] <= start:
            current = records[i][1]
            i += 1
        out.append(current)
    return out


class Shipping:
    """The records of a log's times file that go with each piece of the log shipped to the
    store (`log_chunks.times`, cluster mode): a piece's records are those in its range, after
    the one in effect at its start (which an earlier piece may hold too).

    Read the log, then `catch_up`: a record is written before the bytes it stamps, so every
    record of what was read is there by then.
    """

    def __init__(self, log_path: str, shipped: int) -> None:
        """Go on from byte `shipped` of the log (what the store has already)."""
        self._path = times_path(log_path)
        self._carry: tuple[int, int] | None = None  # the last record before the next piece
        self._ahead: collections.deque[tuple[int, int]] = collections.deque()
        self._read = 0  # bytes of the times file read
        try:
            with open(self._path, "rb") as f:
                count = os.fstat(f.fileno()).st_size // RECORD.size
                at = _after(f, count, shipped - 1)
                if at > 0:
                    f.seek((at - 1) * RECORD.size)
                    offset, ms = RECORD.unpack(f.read(RECORD.size))
                    self._carry = (offset, ms)
                self._read = at * RECORD.size
        except FileNotFoundError:
            pass

    def catch_up(self) -> None:
        """Read the records written since the last time."""
        try:
            with open(self._path, "rb") as f:
                f.seek(self._read)
                raw = f.read()
        except FileNotFoundError:
            return
        raw = raw[: len(raw) - len(raw) % RECORD.size]  # a record half written comes next
        self._read += len(raw)
        self._ahead.extend((o, ms) for o, ms in RECORD.iter_unpack(raw))

    def piece(self, start: int, end: int) -> str | None:
        """The records (JSON) for the piece of the log at `start`..`end` (exclusive)."""
        taken: list[tuple[int, int]] = []
        while self._ahead and self._ahead[0][0] < end:
            taken.append(self._ahead.popleft())
        records = taken
        if self._carry is not None and (not taken or taken[0][0] > start):
            records = [self._carry, *taken]
        if taken:
            self._carry = taken[-1]
        return chunk_times(records)


def chunk_times(records: list[tuple[int, int]]) -> str | None:
    """Records as a shipped piece of the log carries them (`log_chunks.times`)."""
    return json.dumps(records, separators=(",", ":")) if records else None


def write_records(log_path: str, records: list[tuple[int, int]]) -> None:
    """Add records that came from the store to a log's times file (`Shipper.resume`)."""
    if records:
        with open(times_path(log_path), "ab") as f:
            f.write(b"".join(RECORD.pack(o, ms) for o, ms in records))
