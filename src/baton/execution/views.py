"""The one read model: runs, task runs, attempts and workers as the CLI, the API and the UI
show them, built from the store's records (`store/records.py`).

`RunView` is also what `run_flow` and `get_run` return (`baton.RunResult`): its task runs
load their results on demand. Times are ISO-8601 text, as every JSON answer has them; a view
read from the store keeps its record (`record`) for what needs the raw numbers (the UI's
Gantt chart). A view's `to_json` is the JSON the CLI prints and the API answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from baton.errors import NotFoundError
from baton.execution import results
from baton.model import resources, run_trigger
from baton.model.names import task_label, task_run_name
from baton.model.resources import KINDS, NONE, Resources
from baton.model.spec import FlowSpec
from baton.model.states import TaskState
from baton.model.times import iso
from baton.settings import LEASE_SECONDS, Settings
from baton.store.records import AttemptRow, CacheEntryRow, RunRow, TaskRunRow, WorkerRow
from baton.store.store import Store, Tx

# A worker is live while its last heartbeat is within a lease (the default one: the views
# are read by processes that need not share the workers' settings).
LIVE_WITHIN = LEASE_SECONDS


class AttemptView(msgspec.Struct, frozen=True):
    """An attempt: why it ended (`error_kind`, `error`) and on which worker (`worker`, its
    name)."""

    number: int
    state: str
    error_kind: str | None
    error: str | None
    worker: str | None
    worker_id: str
    started_at: str | None
    ended_at: str | None
    traceback: str | None
    # When its task run was queued for it (so `started_at - queued_at` is the wait for a
    # worker); None where the store kept no such event (pruned, or a run made by hand).
    queued_at: str | None = None

    @classmethod
    def of(cls, a: AttemptRow, queued: Sequence[float] = ()) -> AttemptView:
        """`queued`: when its task run was queued, each time (oldest first)."""
        before = [q for q in queued if q <= a.started_at]
        return cls(
            number=a.number,
            state=a.state,
            error_kind=a.error_kind,
            error=a.error,
            worker=a.worker,
            worker_id=a.worker_id,
            started_at=iso(a.started_at),
            ended_at=iso(a.ended_at),
            traceback=a.traceback,
            queued_at=iso(before[-1]) if before else None,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class CachedFromView(msgspec.Struct, frozen=True):
    """The run and attempt whose result a cache hit reused."""

    run_id: str
    attempt: int


class TaskRunView(msgspec.Struct, frozen=True):
    """A task run, with its task's `type` and upstream keys (`depends_on`), and the run of
    the sub-flow it started (`child_run_id`). A cache hit (`cached`) is `succeeded` with no
    attempt: `cached_from` names the run and attempt that computed its result."""

    key: str
    map_index: int | None
    state: str
    attempts: int
    started_at: str | None
    ended_at: str | None
    error: str | None
    error_kind: str | None
    # None from a server too old to list them.
    attempt_list: tuple[AttemptView, ...] | None = None
    type: str | None = None
    depends_on: tuple[str, ...] = ()
    child_run_id: str | None = None
    cached: bool = False
    cached_from: CachedFromView | None = None
    # Queued, and no live worker serving its queue can ever fit what it needs: why.
    unschedulable: str | None = None
    record: TaskRunRow | None = None  # None for a task run read from JSON (the API)

    @classmethod
    def of(
        cls,
        r: TaskRunRow,
        attempts: Iterable[AttemptRow] | None = None,
        queued: Sequence[float] = (),
        **detail: Any,
    ) -> TaskRunView:
        return cls(
            key=r.task_key,
            map_index=r.map_index if r.map_index >= 0 else None,
            state=r.state,
            attempts=r.attempts,
            started_at=iso(r.started_at),
            ended_at=iso(r.ended_at),
            error=r.error,
            error_kind=r.error_kind,
            attempt_list=(
                None if attempts is None else tuple(AttemptView.of(a, queued) for a in attempts)
            ),
            cached=r.cached_from_run is not None,
            cached_from=(
                None
                if r.cached_from_run is None
                else CachedFromView(r.cached_from_run, r.cached_from_attempt or 0)
            ),
            record=r,
            **detail,
        )

    @property
    def name(self) -> str:
        """Its name in URLs, logs and the API: `key`, or `key.N` for a mapped task's run N."""
        return task_run_name(self.key, self.map_index)

    @property
    def label(self) -> str:
        """How a run's summary and `RunView.tasks` name it: `key`, or `key[N]`."""
        return task_label(self.key, self.map_index)

    @property
    def result(self) -> Any:
        """The task's return value (loaded on first use; None for a view read from JSON)."""
        r = self.record
        if r is None or self.state != "succeeded":
            return None
        return results.decode(r.result, r.result_ref)

    @property
    def task_run_id(self) -> int | None:
        """Its TaskRun's id in the store (None for a run read from the API)."""
        return None if self.record is None else self.record.id

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "map_index": self.map_index,
            "state": self.state,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "error": self.error,
            "error_kind": self.error_kind,
        }
        if self.attempt_list is not None:
            data["attempt_list"] = [a.to_json() for a in self.attempt_list]
        data["type"] = self.type
        data["depends_on"] = list(self.depends_on)
        data["child_run_id"] = self.child_run_id
        data["cached"] = self.cached
        data["cached_from"] = (
            None if self.cached_from is None else msgspec.to_builtins(self.cached_from)
        )
        data["unschedulable"] = self.unschedulable
        return data

    @classmethod
    def from_json(cls, t: Mapping[str, Any]) -> TaskRunView:
        listed = t.get("attempt_list")
        fields: dict[str, Any] = {f: t.get(f) for f in _TASK_JSON}
        return cls(
            **fields,
            attempt_list=None if listed is None else tuple(AttemptView(**a) for a in listed),
            type=t.get("type"),
            depends_on=tuple(t.get("depends_on") or ()),
            child_run_id=t.get("child_run_id"),
            cached=bool(t.get("cached")),
            cached_from=None if not t.get("cached_from") else CachedFromView(**t["cached_from"]),
            unschedulable=t.get("unschedulable"),
        )


_TASK_JSON = ["key", "map_index", "state", "attempts", "started_at", "ended_at", "error"]
_TASK_JSON += ["error_kind"]


class RunView(msgspec.Struct, frozen=True):
    """A run as it is now: its state, each task run's state and, on demand, results.

    `tasks` is keyed by task key; a mapped task's runs are keyed `key[0]`, `key[1]`, ...
    `children`: the runs made from it (repairs, sub-flow runs); None from an older server.
    The fields are in the order of its JSON (`to_json`).
    """

    id: str
    flow: str
    state: str
    trigger: str  # its kind: an old `event` run by the kind of event that fired it
    trigger_detail: str | None  # what fired it: a path, an asset, a run
    params: dict[str, Any]
    logical_date: str | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    parent_run_id: str | None
    partition: str | None = None  # the key a run of a partitioned flow processes
    data_interval_start: str | None = None
    data_interval_end: str | None = None
    trigger_info: dict[str, Any] | None = None
    tasks: dict[str, TaskRunView] = {}
    children: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, run: RunRow, tasks: Iterable[TaskRunView] = (), children: Sequence[str] | None = None
    ) -> RunView:
        info = json.loads(run.trigger_info) if run.trigger_info else None
        return cls(
            id=run.id,
            flow=run.flow_name,
            state=run.state,
            trigger=run_trigger.kind(run.trigger, info),
            trigger_detail=run_trigger.detail(info),
            params=json.loads(run.params),
            logical_date=iso(run.logical_date),
            created_at=iso(run.created_at),
            started_at=iso(run.started_at),
            ended_at=iso(run.ended_at),
            parent_run_id=run.parent_run_id,
            partition=run.partition,
            data_interval_start=iso(run.data_interval_start),
            data_interval_end=iso(run.data_interval_end),
            trigger_info=info,
            tasks={t.label: t for t in tasks},
            children=None if children is None else tuple(children),
        )

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"

    def result(self, key: str) -> Any:
        """A task's result; for a mapped task, the list of its results in order."""
        if key in self.tasks:
            return self.tasks[key].result
        mapped = [t for t in self.tasks.values() if t.key == key]
        if not mapped:
            raise KeyError(key)
        return [t.result for t in sorted(mapped, key=lambda t: t.map_index or 0)]

    def summary_json(self) -> dict[str, Any]:
        """The run as `baton runs list --json` and the API's run lists show it."""
        return {f: getattr(self, f) for f in _SUMMARY}

    def to_json(self) -> dict[str, Any]:
        return {
            **{f: getattr(self, f) for f in _FIELDS},
            "tasks": [t.to_json() for t in self.tasks.values()],
            "children": list(self.children or ()),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunView:
        """A run as `to_json` (or the API) gave it; results stay where the run ran."""
        tasks = [TaskRunView.from_json(t) for t in data["tasks"]]
        children = data.get("children")
        fields: dict[str, Any] = {f: data.get(f) for f in _FIELDS}
        return cls(
            **fields,
            tasks={t.label: t for t in tasks},
            children=None if children is None else tuple(children),
        )


_FIELDS = [f for f in RunView.__struct_fields__ if f not in ("tasks", "children")]
# A run in a list: the fields before the data interval.
_SUMMARY = _FIELDS[: _FIELDS.index("data_interval_start")]

# The public names (`baton.RunResult`, `baton.TaskRunResult`).
RunResult = RunView
TaskRunResult = TaskRunView


def resource_json(r: Resources) -> dict[str, Any]:
    """{cpu, memory, gpu}, zeros included: memory in bytes."""
    return {k: getattr(r, k) for k in KINDS}


class WorkerTaskView(msgspec.Struct, frozen=True):
    """An attempt a worker is running."""

    run_id: str
    task_key: str
    map_index: int | None
    attempt: int
    started_at: str | None


class WorkerView(msgspec.Struct, frozen=True):
    """A worker as `baton workers --json` and the API show it: its queues, the attempts it
    runs now (`tasks`), its capacity (`resources`: cpu cores, memory bytes, gpu; None for a
    worker from before resources) and what its running tasks need of it (`used`)."""

    id: str
    name: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    running: int
    tasks: tuple[WorkerTaskView, ...]  # oldest first
    started_at: str | None
    heartbeat_at: str | None
    stopped_at: str | None
    resources: Resources | None = None
    used: Resources | None = None

    @classmethod
    def of(cls, r: WorkerRow) -> WorkerView:
        return cls(
            id=r.id,
            name=r.name,
            host=r.host,
            pid=r.pid,
            queues=json.loads(r.queues),
            concurrency=r.concurrency,
            running=r.running,
            tasks=tuple(
                WorkerTaskView(
                    run_id=t.run_id,
                    task_key=t.task_key,
                    map_index=t.map_index if t.map_index >= 0 else None,
                    attempt=t.number,
                    started_at=iso(t.started_at),
                )
                for t in r.tasks
            ),
            started_at=iso(r.started_at),
            heartbeat_at=iso(r.heartbeat_at),
            stopped_at=iso(r.stopped_at),
            resources=r.capacity,
            used=r.used,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        # Every kind shown, zeros too (a Resources leaves them out).
        data["resources"] = None if self.resources is None else resource_json(self.resources)
        data["used"] = resource_json(self.used or NONE)
        return data


class CacheEntryView(msgspec.Struct, frozen=True):
    """A cached task result as `baton cache list --json` shows it: its key, the task, the
    run and attempt that computed it, and when it expires (None: when its key changes)."""

    key: str
    flow: str
    task: str
    run_id: str
    attempt: int
    created_at: str | None
    expires_at: str | None
    result_len: int | None  # a list result's length

    @classmethod
    def of(cls, r: CacheEntryRow) -> CacheEntryView:
        return cls(
            key=r.key,
            flow=r.flow_name,
            task=r.task_key,
            run_id=r.run_id,
            attempt=r.attempt,
            created_at=iso(r.created_at),
            expires_at=iso(r.expires_at),
            result_len=r.result_len,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


def task_views(
    rows: Sequence[TaskRunRow],
    attempts: Iterable[AttemptRow],
    spec: FlowSpec | None = None,
    unschedulable: Mapping[int, str] | None = None,
    queued: Mapping[int, list[float]] | None = None,
) -> list[TaskRunView]:
    """Task runs (in the order of `rows`) with their attempts; with the flow's `spec`, each
    with its type and upstream keys too; with `unschedulable` (of `unplaceable`), why each
    queued one no worker can fit waits; with `queued` (`Reads.queued_times`), when each
    attempt was queued."""
    why = unschedulable or {}
    by_task: dict[int, list[AttemptRow]] = {}
    for a in attempts:
        by_task.setdefault(a.task_run_id, []).append(a)
    specs = {t.key: t for t in spec.tasks} if spec else {}
    views = []
    for r in rows:
        detail: dict[str, Any] = {}
        if spec is not None and (ts := specs.get(r.task_key)) is not None:
            detail = {"type": ts.type, "depends_on": tuple(ts.depends_on)}
        if r.id in why:
            detail["unschedulable"] = why[r.id]
        views.append(
            TaskRunView.of(r, by_task.get(r.id, ()), (queued or {}).get(r.id, ()), **detail)
        )
    return views


def unplaceable(read: Tx, rows: Sequence[TaskRunRow]) -> dict[int, str]:
    """Why each queued task run among `rows` that no live worker can ever fit waits, by
    task run id (`resources.unschedulable`); live: heartbeated within a lease. Read at
    view time, so a worker that starts or stops changes it at once, and the claim's hot
    path stays as it was. One read of the workers, only when a queued task needs any."""
    waiting = [r for r in rows if r.state == TaskState.QUEUED and not r.needs.is_zero()]
    if not waiting:
        return {}
    offers = [
        resources.Offer(
            o["name"],
            tuple(json.loads(o["queues"])),
            None if o["cpu"] is None else Resources(o["cpu"], o["memory"], o["gpu"]),
        )
        for o in read.live_offers(LIVE_WITHIN)
    ]
    found = {r.id: resources.unschedulable(r.needs, r.queue, offers) for r in waiting}
    return {k: v for k, v in found.items() if v is not None}


def load_result(store: Store, run_id: str) -> RunView:
    """A run as it is now, each task run with its attempts (`attempt_list`), type, upstream
    keys and sub-flow run, and the runs made from it (`children`)."""
    read = store.read()
    run = read.run(run_id)
    rows = read.task_runs(run_id)
    first: dict[str, int] = {}
    for i, r in enumerate(rows):
        first.setdefault(r.task_key, i)
    # Task runs in creation order, a mapped task's runs together and in order.
    rows.sort(key=lambda r: (first[r.task_key], r.map_index))
    attempts = read.attempts(run_id)
    made = read.runs_from(run_id)
    child = {r["parent_task_run_id"]: r["id"] for r in made if r["parent_task_run_id"]}
    try:
        spec: FlowSpec | None = read.load_version(run.version_id)
    except NotFoundError:  # a run written by hand (tests, tools): no task types to show
        spec = None
    tasks = task_views(rows, attempts, spec, unplaceable(read, rows), read.queued_times(run_id))
    tasks = [msgspec.structs.replace(t, child_run_id=child.get(t.task_run_id)) for t in tasks]
    return RunView.of(run, tasks, children=[r["id"] for r in made])


def get_run(run_id: str, *, settings: Settings | None = None) -> RunView:
    """A run from the store, by id or unique id prefix: its state, task runs and results."""
    store = Store((settings or Settings.from_env()).database_url)
    try:
        return load_result(store, store.read().resolve_run_id(run_id))
    finally:
        store.close()
