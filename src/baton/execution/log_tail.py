"""The last lines of a failed attempt's log, for the notifications that report it.

Read through `logs.read_attempt_log`, the one reader of attempt logs: the local file, or in
cluster mode what the attempt's worker shipped to the store. Only the end of the log is
read, however long it is. The text is as the log holds it (secret values the attempt
resolved were masked as it was written); the sender masks it again with its own secrets.
"""

from __future__ import annotations

import os

from baton.execution import logs
from baton.model.names import task_run_name
from baton.settings import Settings
from baton.store.records import AttemptRow
from baton.store.store import Store

LINES = 20  # how many lines a notification shows of a failed attempt's log
TAIL_BYTES = 16 << 10  # read at most this much of the end of a log for them
LINE_CHARS = 500  # a longer line is cut: a notification is no place for a data dump


def last_lines(
    settings: Settings, store: Store, task_run_id: int, attempt: int, *, lines: int = LINES
) -> str | None:
    """The last `lines` lines of attempt `attempt` of a task run; None if it has no log.
    `functools.partial(last_lines, settings)` is what `notify.outbox` calls a LogTail."""
    read = store.read()
    row = read.attempt(task_run_id, attempt)
    if row is None:
        return None
    task = read.task_run(task_run_id)
    name = task_run_name(task.task_key, task.map_index)
    size = _size(store, settings, row, name)
    offset = max(size - TAIL_BYTES, 0)
    text = logs.read_attempt_log(store, settings, row, name, offset, TAIL_BYTES).text
    found = text.splitlines()
    if offset > 0 and found:
        found = found[1:]  # it starts inside a line
    found = [line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "..." for line in found]
    return "\n".join(found[-lines:]) or None


def _size(store: Store, settings: Settings, attempt: AttemptRow, name: str) -> int:
    """How long the log is where `read_attempt_log` will read it."""
    path = logs.log_path(settings, attempt.run_id, name, attempt.number)
    try:
        size = os.path.getsize(path)
    except OSError:  # it printed nothing, or ran on another machine
        size = 0
    if settings.cluster:
        size = max(size, store.read().log_size(attempt.id))
    return size
