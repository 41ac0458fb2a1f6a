"""A run as it is now, for the CLI, the API and `run_flow`'s callers: RunResult and
TaskRunResult, read from the store (`load_result`, `get_run`) or from JSON, and the JSON
that `baton runs` and the API show of runs and attempts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from baton.execution import results
from baton.model import run_trigger
from baton.model.times import iso
from baton.settings import Settings
from baton.store.store import Row, Store


@dataclass(frozen=True)
class TaskRunResult:
    key: str
    map_index: int | None
    state: str
    attempts: int
    started_at: str | None
    ended_at: str | None
    error: str | None
    error_kind: str | None
    _row: Mapping[str, Any]
    # As `attempt_json` gives them; None from a server too old to list them.
    attempt_list: tuple[dict[str, Any], ...] | None = None

    @property
    def result(self) -> Any:
        """The task's return value (loaded on first use)."""
        return results.decode(self._row) if self.state == "succeeded" else None

    @property
    def task_run_id(self) -> int | None:
        """Its TaskRun's id in the store (None for a run read from the API)."""
        value: int | None = self._row["id"]
        return value

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "map_index": self.map_index,
            "state": self.state,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "error": self.error,
        }
        if self.attempt_list is not None:
            data["attempt_list"] = list(self.attempt_list)
        return data


@dataclass(frozen=True)
class RunResult:
    """A run as it is now: its state, each task run's state and, on demand, results.

    `tasks` is keyed by task key; a mapped task's runs are keyed `key[0]`, `key[1]`, ...
    """

    id: str
    flow: str
    state: str
    params: dict[str, Any]
    trigger: str
    parent_run_id: str | None
    logical_date: str | None
    data_interval_start: str | None
    data_interval_end: str | None
    trigger_info: dict[str, Any] | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    tasks: dict[str, TaskRunResult]

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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        """A run as `to_json` (or the API) gave it; results stay where the run ran."""
        tasks = {}
        for t in data["tasks"]:
            name = t["key"] if t["map_index"] is None else f"{t['key']}[{t['map_index']}]"
            fields: dict[str, Any] = {f: t.get(f) for f in _TASK_FIELDS}
            listed = t.get("attempt_list")
            fields["attempt_list"] = None if listed is None else tuple(listed)
            tasks[name] = TaskRunResult(**fields, _row=_NO_RESULT)
        run: dict[str, Any] = {f: data.get(f) for f in _RUN_FIELDS}
        return cls(**run, tasks=tasks)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flow": self.flow,
            "state": self.state,
            "params": self.params,
            "trigger": self.trigger,
            "trigger_detail": run_trigger.detail(self.trigger_info),
            "parent_run_id": self.parent_run_id,
            "logical_date": self.logical_date,
            "data_interval_start": self.data_interval_start,
            "data_interval_end": self.data_interval_end,
            "trigger_info": self.trigger_info,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "tasks": [t.to_json() for t in self.tasks.values()],
        }


_RUN_FIELDS = [f.name for f in dataclasses.fields(RunResult) if f.name != "tasks"]
_TASK_FIELDS = [f.name for f in dataclasses.fields(TaskRunResult) if f.name != "_row"]
_NO_RESULT = {"id": None, "result": None, "result_ref": None}


def run_summary(r: Row) -> dict[str, Any]:
    """A row of `Tx.runs` as `baton runs list --json` and the API's run lists show it."""
    info = json.loads(r["trigger_info"]) if r["trigger_info"] else None
    return {
        "id": r["id"],
        "flow": r["flow_name"],
        "state": r["state"],
        "trigger": run_trigger.kind(r["trigger"], info),
        "trigger_detail": run_trigger.detail(info),
        "params": json.loads(r["params"]),
        "logical_date": iso(r["logical_date"]),
        "created_at": iso(r["created_at"]),
        "started_at": iso(r["started_at"]),
        "ended_at": iso(r["ended_at"]),
        "parent_run_id": r["parent_run_id"],
    }


def load_result(store: Store, run_id: str) -> RunResult:
    """A run as it is now, each task run with its `attempt_list`."""
    read = store.read()
    run = read.run(run_id)
    info = json.loads(run["trigger_info"]) if run["trigger_info"] else None
    rows = read.task_runs(run_id)
    first: dict[str, int] = {}
    for i, r in enumerate(rows):
        first.setdefault(r["task_key"], i)
    # Task runs in creation order, a mapped task's runs together and in order.
    rows.sort(key=lambda r: (first[r["task_key"]], r["map_index"]))
    by_task: dict[int, list[dict[str, Any]]] = {}
    for a in read.attempts(run_id):
        by_task.setdefault(a["task_run_id"], []).append(attempt_json(a))
    tasks: dict[str, TaskRunResult] = {}
    for r in rows:
        mapped = r["map_index"] >= 0
        name = f"{r['task_key']}[{r['map_index']}]" if mapped else r["task_key"]
        tasks[name] = task_result(r, by_task.get(r["id"], ()))
    return RunResult(
        id=run["id"],
        flow=run["flow_name"],
        state=run["state"],
        params=json.loads(run["params"]),
        trigger=run_trigger.kind(run["trigger"], info),
        parent_run_id=run["parent_run_id"],
        logical_date=iso(run["logical_date"]),
        data_interval_start=iso(run["data_interval_start"]),
        data_interval_end=iso(run["data_interval_end"]),
        trigger_info=info,
        created_at=iso(run["created_at"]),
        started_at=iso(run["started_at"]),
        ended_at=iso(run["ended_at"]),
        tasks=tasks,
    )


def task_result(r: Row, attempts: Iterable[dict[str, Any]] | None = None) -> TaskRunResult:
    return TaskRunResult(
        key=r["task_key"],
        map_index=r["map_index"] if r["map_index"] >= 0 else None,
        state=r["state"],
        attempts=r["attempts"],
        started_at=iso(r["started_at"]),
        ended_at=iso(r["ended_at"]),
        error=r["error"],
        error_kind=r["error_kind"],
        _row=r,
        attempt_list=None if attempts is None else tuple(attempts),
    )


def attempt_json(a: Row) -> dict[str, Any]:
    """An attempt (a row of `Tx.attempts`) as `runs show --json` and the API's run detail
    list it: why it ended (`error_kind`, `error`) and on which worker (`worker`: its name)."""
    return {
        "number": a["number"],
        "state": a["state"],
        "error_kind": a["error_kind"],
        "error": a["error"],
        "worker": a["worker"],
        "worker_id": a["worker_id"],
        "started_at": iso(a["started_at"]),
        "ended_at": iso(a["ended_at"]),
        "traceback": a["traceback"],
    }


def get_run(run_id: str, *, settings: Settings | None = None) -> RunResult:
    """A run from the store, by id or unique id prefix: its state, task runs and results."""
    store = Store((settings or Settings.from_env()).database_url)
    try:
        return load_result(store, store.read().resolve_run_id(run_id))
    finally:
        store.close()
