"""The store's rows as typed records: what `Tx` returns of runs, task runs, attempts and
workers, so that mypy checks every field read across the store's boundary.

A record has one field per column of its table (`schema.py`), in the table's order, plus
what a query joins in (an attempt's worker name). Adding a column means adding its field
here; `tests/store/test_records.py` checks that the two agree. Times are UNIX seconds and
JSON columns stay text: the views (`execution/views.py`) decode what they show, and the hot
path decodes nothing it does not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import msgspec

from baton.model.resources import Resources


class Record(msgspec.Struct, frozen=True, gc=False):
    """A row read from the store (immutable; `gc=False`: records hold no cycles)."""


R = TypeVar("R", bound=Record)


def one(kind: type[R], row: Mapping[str, Any] | None) -> R | None:
    """`row` (a DBAPI row read by column name) as a record of `kind`, None for no row."""
    return None if row is None else kind(**row)


def many(kind: type[R], rows: Iterable[Mapping[str, Any]]) -> list[R]:
    return [kind(**r) for r in rows]


class RunRow(Record, frozen=True, gc=False):
    id: str
    flow_name: str
    version_id: str
    state: str
    params: str  # JSON
    trigger: str
    logical_date: float | None
    data_interval_start: float | None
    data_interval_end: float | None
    trigger_info: str | None  # JSON: what fired it
    partition: str | None  # the key a run of a partitioned flow processes
    parent_run_id: str | None
    root_run_id: str | None
    parent_task_run_id: int | None
    unfinished: int
    created_at: float
    started_at: float | None
    ended_at: float | None
    refresh_cache: int = 0  # 1: its caching tasks recompute and replace their entries


class BackfillRow(Record, frozen=True, gc=False):
    id: str
    flow_name: str
    version_id: str
    state: str  # running, done, cancelled
    keys: str  # JSON list
    next_index: int
    max_parallel: int
    progress: str  # JSON: {"runs": {key: run id}, "active": [run ids], "skipped": {key: why}}
    requested_by: str | None
    created_at: float
    updated_at: float


class TaskRunRow(Record, frozen=True, gc=False):
    id: int
    run_id: str
    task_key: str
    map_index: int  # -1: not mapped
    state: str
    queue: str
    pool: str | None
    priority: int
    up_total: int
    up_success: int
    up_failed: int
    up_upstream_failed: int
    up_skipped: int
    attempts: int
    ready_at: float | None
    started_at: float | None
    ended_at: float | None
    result: str | None  # JSON, when small enough
    result_ref: str | None  # the result's file, when not
    result_len: int | None
    error: str | None
    error_kind: str | None
    reused_from: str | None
    defer_state: str | None  # JSON
    resume_attempt: str | None
    cache_key: str | None = None  # the cache entry it looked up or wrote
    cached_from_run: str | None = None  # a cache hit: the run and attempt whose result it reused
    cached_from_attempt: int | None = None
    need_cpu: float = 0.0  # what its task needs (model.resources): see `needs`
    need_memory: int = 0
    need_gpu: int = 0

    @property
    def needs(self) -> Resources:
        return Resources(self.need_cpu, self.need_memory, self.need_gpu)


class AttemptRow(Record, frozen=True, gc=False):
    id: str
    task_run_id: int
    run_id: str
    number: int
    worker_id: str
    state: str
    started_at: float
    ended_at: float | None
    lease_expires_at: float
    error: str | None
    error_kind: str | None
    traceback: str | None
    worker: str | None = None  # the worker's name (joined in by the reads that show it)


class LiveAttemptRow(AttemptRow, frozen=True, gc=False):
    """A running attempt with what tells whether its worker still runs it."""

    host: str | None = None
    pid: int | None = None
    heartbeat_at: float | None = None
    stopped_at: float | None = None
    lease_expired: bool = False  # by the store's clock


class WorkerTask(Record, frozen=True, gc=False):
    """An attempt a worker is running: what `baton workers` lists under it."""

    worker_id: str
    run_id: str
    task_key: str
    map_index: int
    number: int
    started_at: float
    need_cpu: float = 0.0  # what its task needs of the worker's capacity
    need_memory: int = 0
    need_gpu: int = 0


class WorkerRow(Record, frozen=True, gc=False):
    id: str
    name: str
    host: str
    pid: int
    queues: str  # JSON list
    concurrency: int
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    cpu: float | None = None  # its capacity; None: a worker from before resources
    memory: int | None = None
    gpu: int | None = None
    running: int = 0  # attempts running now
    tasks: tuple[WorkerTask, ...] = ()

    @property
    def capacity(self) -> Resources | None:
        """What it offers (None: a worker from before resources)."""
        if self.cpu is None or self.memory is None or self.gpu is None:
            return None
        return Resources(self.cpu, self.memory, self.gpu)

    @property
    def used(self) -> Resources:
        """What the tasks it runs now need, together."""
        used = Resources()
        for t in self.tasks:
            used += Resources(t.need_cpu, t.need_memory, t.need_gpu)
        return used


class FlowRow(Record, frozen=True, gc=False):
    name: str
    latest_version: str
    paused: int  # 0 or 1
    deployed: int  # 1: `baton deploy`ed (its schedule and triggers act)
    created_at: float
    updated_at: float  # its latest version deployed, or it last changed
    namespace: str = "default"  # the part of `name` before its `/` (model.namespaces)


class FlowOverviewRow(Record, frozen=True, gc=False):
    """A flow with its latest version's spec (JSON) and its latest run, if any."""

    name: str
    deployed: int
    paused: int
    latest_version: str
    spec: str
    last_run_id: str | None
    last_run_state: str | None
    last_run_at: float | None


class AssetRow(Record, frozen=True, gc=False):
    """An asset's catalog entry (`assets`): what a deployed flow declares, or a bare row
    (no description, no declaring flow) for an asset only ever written."""

    name: str
    description: str | None
    owner: str | None
    tags: str  # JSON list
    freshness: str | None  # JSON: model.assets.FreshnessSpec
    checks: str  # JSON list of model.assets.CheckSpec
    notifications: str  # JSON list of notification entries
    declared_by: str | None  # the deployed flow declaring it
    created_at: float
    updated_at: float


class MaterializationRow(Record, frozen=True, gc=False):
    """One write of an asset: by a task's attempt (`source` task) or reported from outside
    (`external`: no flow, run or task)."""

    id: int
    asset: str
    flow_name: str | None
    run_id: str | None
    task_key: str | None
    task_run_id: int | None
    attempt: int | None
    attempt_id: str | None
    partition: str | None
    metadata: str | None  # JSON object, secrets masked
    data_version: str | None
    source: str  # task | external
    reported_by: str | None
    at: float


class AssetLinkRow(Record, frozen=True, gc=False):
    """A deployed flow's task reading (`input`) or writing (`output`) an asset."""

    flow_name: str
    task_key: str
    asset: str
    kind: str  # input | output


class CheckResultRow(Record, frozen=True, gc=False):
    id: int
    asset: str
    check_name: str
    severity: str  # error | warn
    passed: int  # 0 or 1
    run_id: str | None
    task_key: str | None
    task_run_id: int | None
    attempt: int | None
    materialization_id: int | None
    metadata: str | None  # JSON object
    failing_rows: str | None  # JSON list, at most 20
    error: str | None  # the check itself could not run
    duration: float | None
    at: float


class CacheEntryRow(Record, frozen=True, gc=False):
    """A cached task result: the task run (and attempt) that computed it."""

    key: str
    flow_name: str
    task_key: str
    run_id: str
    task_run_id: int
    attempt: int
    result: str | None  # JSON
    result_ref: str | None  # a pickled result's file
    result_len: int | None
    created_at: float
    expires_at: float | None  # None: until its key changes


class AssetStateRow(Record, frozen=True, gc=False):
    """An asset's freshness as last evaluated."""

    asset: str
    state: str  # fresh | stale | unknown
    since: float
    last_update: float | None
    due: float | None
    evaluated_at: float
