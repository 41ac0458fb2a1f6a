"""Child processes: the last lines they print, kept for a failure's message."""

from __future__ import annotations

from pathlib import Path

from baton.tasks import process


def test_run_tail_keeps_the_last_lines_of_stdout_and_stderr_in_order(
    tmp_path: Path, task_context
) -> None:
    ctx = task_context()
    command = "echo one; echo two >&2; echo; echo '  three  '; exit 3"
    code, tail = process.run_tail(ctx, ["sh", "-c", command], lines=2)
    assert (code, tail) == (3, ["two", "  three"])
    ctx.close()
    assert (tmp_path / "log").read_text().split() == ["one", "two", "three"]


def test_run_capturing_returns_the_last_stdout_line_only(tmp_path: Path, task_context) -> None:
    ctx = task_context()
    code, last = process.run_capturing(ctx, ["sh", "-c", "echo ' out '; echo err >&2"])
    ctx.close()
    assert (code, last) == (0, "out")
    assert sorted((tmp_path / "log").read_text().split()) == ["err", "out"]


def test_the_last_lines_are_whole_across_reads_and_without_a_final_newline(
    tmp_path: Path, task_context
) -> None:
    # Lines longer than a read (64 KiB), blank lines after them, and a last line that never
    # ends: what is kept is whole lines, as the process printed them.
    ctx = task_context()
    command = "head -c 100000 /dev/zero | tr '\\0' a; echo; echo; printf 'b%.0s' $(seq 70000)"
    code, tail = process.run_tail(ctx, ["sh", "-c", command], lines=2)
    ctx.close()
    assert code == 0 and tail == ["a" * 100_000, "b" * 70_000]
    assert (tmp_path / "log").stat().st_size == 100_000 + 2 + 70_000
