"""The worker's TaskContext: what one attempt's task type is handed (the interface task
types see is `baton.model.context.TaskContext`), with the attempt's log file and the
interrupt the worker sends on a timeout or cancel."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from baton.errors import TaskInterrupt
from baton.execution.log_times import open_log_file
from baton.model.context import NO_ITEM
from baton.model.resources import Resources
from baton.model.spec import PARAM_KEY, REF_KEY

__all__ = ["NO_ITEM", "TaskContext"]


@dataclass
class TaskContext:
    """One attempt of one TaskRun, as its task type sees it.

    `upstream` holds the results of upstream tasks by key (a list, in order, for a mapped
    upstream); `item` is this TaskRun's element when the task is mapped.
    """

    run_id: str
    flow: str
    task_key: str
    map_index: int | None
    attempt: int
    attempt_id: str
    params: Mapping[str, Any]
    upstream: Mapping[str, Any]
    item: Any
    log_path: str
    flow_dir: str
    work_dir: str
    load_function: Callable[[str], Callable[..., Any]]
    timeout: float | None = None  # the task's timeout, for types that wait across runs
    # A scheduled or backfilled run's logical date and data interval (ISO-8601 UTC), and
    # what fired an event-triggered run (file path, asset event, upstream run).
    logical_date: str | None = None
    data_interval_start: str | None = None
    data_interval_end: str | None = None
    trigger_info: Mapping[str, Any] | None = None
    partition: str | None = None  # the key a run of a partitioned flow processes
    # What the task declared it needs, and the GPU device ids its worker gave it (distinct
    # from those of the worker's other running tasks).
    resources: Resources | None = None
    gpu_ids: tuple[str, ...] = ()
    resume_state: dict[str, Any] | None = None  # what this attempt left when it deferred
    start_run: Callable[..., str] | None = None  # (flow path, flow name, params) -> run id
    run_status: Callable[[str], Mapping[str, Any]] | None = None  # a run's id, state, tasks
    cancel_run: Callable[[str], object] | None = None
    # (stop) -> wake, for remote work it waits for (execution.remote.Waits.watch).
    watch_remote: Callable[[Callable[[], object]], Callable[[], None]] | None = None
    # (set name, keys) -> the keys that were new: the store's, through the worker.
    add_dynamic_partitions: Callable[[str, Sequence[str]], list[str]] | None = None
    # How log_file() opens the log: the runner swaps in one that masks secret values.
    open_log: Callable[[str], IO[bytes]] = open_log_file
    # JSON-like data with secret values masked, for what a task saves besides its log
    # (an executed notebook): the runner swaps in `Secrets.mask_json`.
    mask: Callable[[Any], Any] = lambda value: value
    # The engine's clock, for types that wait across runs (an approval's timeout).
    clock: Callable[[], float] = time.time
    # Called before a child process starts: the worker's watchdog must then be running.
    before_spawn: Callable[[], object] = lambda: None
    _interrupt: type[TaskInterrupt] | None = None
    _interrupted: threading.Event = field(default_factory=threading.Event)
    _on_interrupt: list[Callable[[type[TaskInterrupt]], object]] = field(default_factory=list)
    _log_file: IO[bytes] | None = None
    children: int = 0  # child processes running now; an interrupt kills them
    # It handed out its assets file (`env()`, a child process): only then is it read.
    spawned: bool = False

    @property
    def interrupted(self) -> type[TaskInterrupt] | None:
        """The interrupt (timeout or cancel) sent to this attempt, if any."""
        return self._interrupt

    def wait_interrupt(self, timeout: float) -> bool:
        return self._interrupted.wait(timeout)

    def interrupt(self, kind: type[TaskInterrupt]) -> None:
        """Stop the attempt: called by the worker on timeout or cancel."""
        if self._interrupt is not None:
            return
        self._interrupt = kind
        self._interrupted.set()
        for hook in list(self._on_interrupt):
            hook(kind)

    def on_interrupt(self, hook: Callable[[type[TaskInterrupt]], object]) -> Callable[[], None]:
        """Run `hook` if the attempt is interrupted; returns a function that unregisters it."""
        self._on_interrupt.append(hook)
        if self._interrupt is not None:
            hook(self._interrupt)
        return lambda: self._on_interrupt.remove(hook) if hook in self._on_interrupt else None

    def log_file(self) -> IO[bytes]:
        """The attempt's log as a binary file, for a child process to write to directly."""
        if self._log_file is None:
            self._log_file = self.open_log(self.log_path)
        return self._log_file

    def close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def resolve(self, value: Any) -> Any:
        """`value` with task results and params put in place of their references."""
        if isinstance(value, dict):
            if len(value) == 1 and REF_KEY in value:
                return self.upstream.get(value[REF_KEY])
            if len(value) == 1 and PARAM_KEY in value:
                return self.params.get(value[PARAM_KEY])
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def spawning(self) -> None:
        """A child process is about to start (see `before_spawn`)."""
        self.before_spawn()
        self._share_assets_file()

    def _share_assets_file(self) -> None:
        if not self.spawned:  # where a child may write $BATON_ASSETS_FILE
            self.spawned = True
            os.makedirs(self.work_dir, exist_ok=True)

    @property
    def assets_file(self) -> str:
        """Where child processes write what they say of the assets they wrote
        (`execution.asset_records`); the file exists only if one does."""
        return os.path.join(os.path.abspath(self.work_dir), f"{self.attempt_id}.assets.jsonl")

    def add_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add keys to the dynamic partition set `name` (a task that discovers customers,
        files, ...); returns those that were not in it yet.

        Raises:
            InputError: a bad name or key (`baton.engine.partitions.checked_keys`).
            RuntimeError: the attempt has no store to add them to.
        """
        if self.add_dynamic_partitions is None:
            raise RuntimeError("this attempt cannot add partitions: it has no store")
        return self.add_dynamic_partitions(name, keys)

    def env(self) -> dict[str, str]:
        """Environment variables describing the attempt, for child processes."""
        self._share_assets_file()
        return {
            "BATON_RUN_ID": self.run_id,
            "BATON_FLOW": self.flow,
            "BATON_TASK_KEY": self.task_key,
            "BATON_MAP_INDEX": "" if self.map_index is None else str(self.map_index),
            "BATON_ATTEMPT": str(self.attempt),
            "BATON_ATTEMPT_ID": self.attempt_id,
            # A scheduled run's dates (ISO-8601 UTC); empty for a run that has none.
            "BATON_LOGICAL_DATE": self.logical_date or "",
            "BATON_DATA_INTERVAL_START": self.data_interval_start or "",
            "BATON_DATA_INTERVAL_END": self.data_interval_end or "",
            "BATON_PARTITION": self.partition or "",  # empty: the flow has no partitions
            "BATON_ASSETS_FILE": self.assets_file,
        } | ({"CUDA_VISIBLE_DEVICES": ",".join(self.gpu_ids)} if self.gpu_ids else {})
