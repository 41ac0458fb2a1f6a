"""What a task type is handed to run one attempt: the TaskContext interface.

Task types (`baton.tasks`) import the model only, so the interface they are written
against lives here, as a Protocol; the worker's implementation, which opens the attempt's
log file, is `baton.execution.context.TaskContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, Protocol

from baton.errors import TaskInterrupt
from baton.model.resources import Resources

NO_ITEM: Any = object()  # the `item` of a task that is not mapped


class TaskContext(Protocol):
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
    timeout: float | None  # the task's timeout, for types that wait across runs
    # A scheduled or backfilled run's logical date and data interval (ISO-8601 UTC), and
    # what fired an event-triggered run (file path, asset event, upstream run).
    logical_date: str | None
    data_interval_start: str | None
    data_interval_end: str | None
    trigger_info: Mapping[str, Any] | None
    partition: str | None  # the key a run of a partitioned flow processes
    resources: Resources | None  # what the task declared it needs
    gpu_ids: tuple[str, ...]  # the GPU devices its worker gave it (CUDA_VISIBLE_DEVICES)
    resume_state: dict[str, Any] | None  # what this attempt left when it deferred
    start_run: Callable[..., str] | None  # (flow path, flow name, params) -> run id
    run_status: Callable[[str], Mapping[str, Any]] | None  # a run's id, state, tasks
    cancel_run: Callable[[str], object] | None
    children: int  # child processes running now; an interrupt kills them
    # A compute backend's remote work: `watch_remote(stop)` returns the `wake` to call when it
    # ends; `stop` is called if the task run stops waiting for it (execution.remote).
    watch_remote: Callable[[Callable[[], object]], Callable[[], None]] | None

    # Read-only here: mypy sees a dataclass field holding a callable as read-only.
    @property
    def load_function(self) -> Callable[[str], Callable[..., Any]]:
        """Loads the function a `python` task names from the flow's code."""

    @property
    def clock(self) -> Callable[[], float]:
        """The worker's "now" (UNIX seconds): the engine's clock, a fake one in tests."""

    @property
    def mask(self) -> Callable[[Any], Any]:
        """JSON-like data with secret values masked, for what a task saves besides its log
        (an executed notebook)."""

    @property
    def interrupted(self) -> type[TaskInterrupt] | None:
        """The interrupt (timeout or cancel) sent to this attempt, if any."""

    def wait_interrupt(self, timeout: float) -> bool: ...

    def on_interrupt(self, hook: Callable[[type[TaskInterrupt]], object]) -> Callable[[], None]:
        """Run `hook` if the attempt is interrupted; returns a function that unregisters it."""

    def log_file(self) -> IO[bytes]:
        """The attempt's log as a binary file, for a child process to write to directly."""

    def resolve(self, value: Any) -> Any:
        """`value` with task results and params put in place of their references."""

    def spawning(self) -> None:
        """Say that a child process is about to start (the worker then makes sure it can kill
        it should the worker die): call it before every spawn."""

    def env(self) -> dict[str, str]:
        """Environment variables describing the attempt, for child processes."""

    def add_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add keys to the dynamic partition set `name`; returns those that were new."""
