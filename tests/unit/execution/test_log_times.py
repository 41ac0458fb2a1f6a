"""When each line of an attempt's log was written (`log_times`), recorded as it is written:
by the task's own writes, by its child processes through the log's pipe, and read back by
offset for any page of the log."""

from __future__ import annotations

import subprocess
from pathlib import Path

from baton.execution import log_times, logs
from baton.execution.log_times import StampedFile, line_starts, line_times
from baton.execution.secrets import Secrets
from engine_kit import Clock


def times_of(path: Path) -> list[int | None]:
    data = path.read_bytes()
    return line_times(str(path), line_starts(0, data))


def test_each_line_gets_the_time_of_the_write_that_started_it(tmp_path: Path) -> None:
    clock = Clock(1_000.0)
    path = tmp_path / "1.log"
    f = StampedFile(str(path), clock=clock)
    f.write(b"one\ntwo\n")  # two lines, one write: one time
    clock.now += 1.5
    f.write(b"three ")  # a line begun...
    clock.now += 2.0
    f.write(b"still three\nfour")  # ...ended later, with a new line started by the same write
    clock.now += 0.25
    f.write(b" and more\n")  # no line starts here: no record
    f.close()
    assert path.read_bytes() == b"one\ntwo\nthree still three\nfour and more\n"
    assert times_of(path) == [1_000_000, 1_000_000, 1_001_500, 1_003_500]
    size = Path(log_times.times_path(str(path))).stat().st_size
    assert size == 3 * log_times.RECORD.size  # one record per write that starts a line


def test_a_reopened_log_goes_on_from_its_end(tmp_path: Path) -> None:
    clock = Clock(50.0)
    path = tmp_path / "1.log"
    with StampedFile(str(path), clock=clock) as f:
        f.write(b"half a line")
    clock.now += 1
    with StampedFile(str(path), clock=clock) as f:  # the attempt resumed after waiting
        f.write(b", the rest\nnext\n")
    assert times_of(path) == [50_000, 51_000]


def test_a_page_in_the_middle_finds_its_records_by_offset(tmp_path: Path) -> None:
    clock = Clock(0.0)
    path = tmp_path / "1.log"
    with StampedFile(str(path), clock=clock) as f:
        for i in range(5000):
            f.write(f"line {i}\n".encode())
            clock.now += 0.001
    data = path.read_bytes()
    offset = data.index(b"line 4000\n")
    page = data[offset : offset + 30]  # "line 4000\nline 4001\nline 4002" (cut mid-line)
    assert line_times(str(path), line_starts(offset, page)) == [4000, 4001, 4002]
    # A page that starts mid-line: its first time is that line's.
    assert line_times(str(path), line_starts(offset + 3, page[3:])) == [4000, 4001, 4002]


def test_a_carriage_return_ends_a_line_as_the_viewer_shows_it(tmp_path: Path) -> None:
    clock = Clock(0.0)
    path = tmp_path / "1.log"
    with StampedFile(str(path), clock=clock) as f:
        for pct in (10, 50, 100):  # a progress bar: each write starts with a CR
            f.write(f"\rprogress {pct}%".encode())
            clock.now += 1
        f.write(b"\r\ndone\r\n")
    assert times_of(path) == [0, 0, 1000, 2000, 3000]  # "", then each step, then "done"


def test_a_log_without_times_reads_none(tmp_path: Path) -> None:
    path = tmp_path / "1.log"
    path.write_bytes(b"from before\ntimes\n")
    assert times_of(path) == [None, None]
    assert line_starts(0, b"") == [] and line_times(str(path), []) == []


def test_a_child_process_lines_are_stamped_through_the_pipe(tmp_path: Path) -> None:
    path = tmp_path / "1.log"
    log = logs.open_attempt_log(Secrets.empty(), str(path))
    log.write(b"parent\n")
    # The child writes to the pipe, not the file: its lines are stamped as they come.
    script = "echo first; sleep 0.3; echo second"
    subprocess.run(["sh", "-c", script], stdout=log, stderr=log, check=True)
    log.close()
    assert path.read_bytes() == b"parent\nfirst\nsecond\n"
    parent, first, second = times_of(path)
    assert parent is not None and first is not None and second is not None
    assert parent <= first and second - first >= 250


def test_lines_written_in_the_same_millisecond_share_one_record(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "1.log"
    with StampedFile(str(path), clock=clock) as f:
        for i in range(1000):
            clock.now = 7 + i / 10_000  # ten lines a millisecond
            f.write(f"line {i}".encode())
            f.write(b"\n")  # as print() writes: the text, then the newline
        clock.now = 8.0
        f.write(b"later\n")
    expected = [round((7 + i / 10_000) * 1000) for i in range(1000)] + [8000]
    assert times_of(path) == expected
    size = Path(log_times.times_path(str(path))).stat().st_size
    assert size == len(set(expected)) * log_times.RECORD.size < 110 * log_times.RECORD.size
