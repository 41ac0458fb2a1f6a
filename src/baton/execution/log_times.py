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

import os
import re
import struct
import time
from collections.abc import Callable
from typing import IO

from baton.execution.context import open_log_file

RECORD = struct.Struct("<qq")  # (offset in the log, ms since the epoch)
_BREAK = re.compile(rb"[\r\n]")  # a write that has one may start a line
_BREAKS = re.compile(rb"\r\n|\r|\n")  # how lines end, as the SSE stream and the UI split them


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
        self._at_line_start = self._offset == 0 or _last_byte(path) == b"\n"

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        if self._at_line_start:
            first = self._offset
        else:
            end = _BREAK.search(data)
            cut = end.end() if end else 0
            first = self._offset + cut if 0 < cut < len(data) else -1
        if first >= 0:
            if self._times is None:
                self._times = open(self._times_path, "ab", buffering=0)  # noqa: SIM115
            self._times.write(RECORD.pack(first, round(self._clock() * 1000)))
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

    def offset_of(i: int) -> int:
        f.seek(i * RECORD.size)
        return int(RECORD.unpack(f.read(RECORD.size))[0])

    lo, hi = 0, count  # the first record with an offset > first is at `lo` in the end
    while lo < hi:
        mid = (lo + hi) // 2
        if offset_of(mid) <= first:
            lo = mid + 1
        else:
            hi = mid
    start = max(lo - 1, 0)
    f.seek(start * RECORD.size)
    records: list[tuple[int, int]] = []
    while (raw := f.read(RECORD.size * 256)) and len(raw) >= RECORD.size:
        raw = raw[: len(raw) - len(raw) % RECORD.size]
        for offset, ms in RECORD.iter_unpack(raw):
            if offset > last:
                return records
            records.append((offset, ms))
    return records


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
