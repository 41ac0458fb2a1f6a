"""What a worker scoped to runs (`baton run`) says of a task that no live worker can fit:
the task stays queued (a bigger worker may still join the store), and the user, who would
otherwise watch a run that does nothing, is told once why and what to do."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from baton.execution import views
from baton.model.names import task_label
from baton.store.store import Store

CHECK_INTERVAL = 1.0  # seconds between looks, only while the worker has nothing to run


class Notices:
    def __init__(self) -> None:
        self._said: set[int] = set()
        self._next = 0.0

    def check(self, store: Store, run_ids: Sequence[str]) -> None:
        """Print on stderr, once per task run, why a queued task of these runs cannot be
        placed (`views.unplaceable`)."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + CHECK_INTERVAL
        read = store.read()
        for run_id in run_ids:
            rows = read.task_runs(run_id)
            labels = {r.id: task_label(r.task_key, r.map_index) for r in rows}
            for task_run_id, why in views.unplaceable(read, rows).items():
                if task_run_id in self._said:
                    continue
                self._said.add(task_run_id)
                print(
                    f"baton: task {labels[task_run_id]} of run {run_id} is unschedulable: "
                    f"{why}; it waits for a worker that can take it (Ctrl-C cancels the run)",
                    file=sys.stderr,
                    flush=True,
                )
