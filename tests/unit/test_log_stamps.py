"""`baton logs --timestamps`: a log's pages joined, each line after its time."""

from __future__ import annotations

from baton.cli.display import stamped

T = 1_765_000_000_000  # 2025-12-06T05:46:40.000Z


def test_each_line_after_its_time_across_pages() -> None:
    pages = [
        ("one\ntw", [T, T + 1]),  # "tw" goes on in the next page
        ("o\nthree\r", [T + 1, T + 2]),  # its first time is that of "two", not a new line
        ("\nfour", [None, T + 3]),  # CR, then LF: one break; the LF's phantom time is dropped
        ("", []),
    ]
    assert stamped(pages) == (
        "2025-12-06T05:46:40.000Z one\n"
        "2025-12-06T05:46:40.001Z two\n"
        "2025-12-06T05:46:40.002Z three\n"
        "2025-12-06T05:46:40.003Z four\n"
    )


def test_lines_without_a_recorded_time_say_so() -> None:
    assert stamped([("old\nlog\n", [None, None])]) == f"{'-':<24} old\n{'-':<24} log\n"
    assert stamped([("progress 1\rprogress 2\n", [T, T + 5])]).splitlines() == [
        "2025-12-06T05:46:40.000Z progress 1",
        "2025-12-06T05:46:40.005Z progress 2",
    ]
    assert stamped([]) == ""
