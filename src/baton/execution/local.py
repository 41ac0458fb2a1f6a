"""Running flows to the end in this process: `baton run`, `run_flow`, resume and repair."""

from __future__ import annotations

import dataclasses
import functools
import json
import signal
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from baton.engine.service import Engine
from baton.errors import InputError
from baton.execution import loader, log_tail, results
from baton.execution.loader import LoadedFlow
from baton.execution.lost import end_lost, lost_attempts
from baton.execution.secrets import Secrets
from baton.execution.worker import Worker
from baton.model import run_trigger
from baton.model.decorators import Flow
from baton.model.params import coerce_params
from baton.model.spec import DEFAULT_QUEUE
from baton.model.states import RUN_TERMINAL, RunState
from baton.model.times import iso
from baton.notify import outbox
from baton.settings import Settings
from baton.store.store import Row, Store

DEFAULT_CONCURRENCY = 16
LAST_SEND_TIMEOUT = 5.0  # seconds a notification sent as `baton run` ends may take


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


def start_run(engine: Engine, flow: LoadedFlow, params: Mapping[str, Any]) -> str:
    values = coerce_params(flow.spec.params, params, flow=flow.spec.name)
    version = engine.register(flow.spec)
    return engine.create_run(version, values)


def execute(
    engine: Engine,
    settings: Settings,
    run_id: str,
    flow: LoadedFlow | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> RunResult:
    """Work on one run in this process until it ends; Ctrl-C or SIGTERM cancels it."""
    runs = engine.store.read().runs_under(run_id)
    worker = Worker(
        engine,
        settings,
        {run_id: flow} if flow else None,
        concurrency=concurrency,
        # Every queue its tasks use, named: the claim's index then orders the queue for us.
        queues=sorted(
            {t.queue for r in runs for t in engine.run_info(r)[0].spec.tasks} | {DEFAULT_QUEUE}
        ),
        run_ids=runs,
    )
    with cancel_on_signal(worker.request_cancel), _notifying(engine, settings, run_id, runs):
        worker.run()
    return load_result(engine.store, run_id)


@contextmanager
def _notifying(engine: Engine, settings: Settings, run_id: str, runs: list[str]) -> Iterator[None]:
    """Send the run's notifications while it runs (a retry, an SLA passed) if its flow has
    any, then once what is due when it ends, briefly: one that fails then is retried by
    `baton server` or `baton scheduler`. Sending never changes how the run ends."""
    secrets = functools.partial(Secrets.load, settings)
    tail = functools.partial(log_tail.last_lines, settings)
    stop = threading.Event()
    sender = None
    if any(engine.run_info(r)[0].spec.notifications for r in runs):
        kwargs = {"secrets": secrets, "root_run_id": run_id, "log_tail": tail}
        sender = threading.Thread(
            target=outbox.serve, args=(settings, stop), kwargs=kwargs, daemon=True
        )
        sender.start()
    try:
        yield
    finally:
        stop.set()
        if sender is not None:
            sender.join(LAST_SEND_TIMEOUT)
    store = engine.store
    runs = store.read().runs_under(run_id)
    outbox.deliver_due(
        store,
        settings,
        time.time(),
        secrets=secrets,
        run_ids=runs,
        timeout=LAST_SEND_TIMEOUT,
        log_tail=tail,
    )


def wait(store: Store, run_id: str, poll: float = 0.1) -> RunResult:
    """Follow a run that other processes (cluster workers) work on until it ends."""
    read = store.read()
    while read.run(run_id)["state"] not in RUN_TERMINAL:
        time.sleep(poll)
    return load_result(store, run_id)


def cancel(engine: Engine, settings: Settings, run_id: str) -> str:
    """Cancel a run (`Engine.cancel`), and end the attempts whose worker is gone, which no
    worker will stop; the run's state now. A run that already ended (perhaps as the cancel
    came) is left as it is: cancelling it does nothing, and is no error (`cancel_text`)."""
    store = engine.store
    if not engine.cancel(run_id):
        return str(store.read().run(run_id)["state"])
    lost = lost_attempts(store, store.read().runs_under(run_id), None)
    end_lost(engine, settings, lost, "cancelled; its worker was gone")
    return str(store.read().run(run_id)["state"])


def cancel_text(run_id: str, state: str) -> str:
    """What `baton runs cancel` says of a run it cancelled, or found finished (a cancel
    never ends a run succeeded or failed: it finished on its own)."""
    if state in (RunState.SUCCEEDED, RunState.FAILED):
        return f"run {run_id} already finished: {state}"
    return f"run {run_id} is {state}"


def end_lost_attempts(engine: Engine, settings: Settings, run_id: str) -> int:
    """Fail a run's attempts whose worker is gone (a process that died, a lease that
    expired), so they retry per policy; how many there were. The workers of the store carry
    the run on from there: the way `baton runs resume` does for a server.

    Raises:
        InputError: the run already ended.
    """
    check_resumable(engine.store, run_id)
    lost = lost_attempts(engine.store, engine.store.read().runs_under(run_id), None)
    end_lost(engine, settings, lost, "its worker was gone (the run was resumed)")
    return len(lost)


def check_resumable(store: Store, run_id: str) -> None:
    """Raise InputError unless the run is still going (so there is something to resume)."""
    run = store.read().run(run_id)
    if run["state"] in RUN_TERMINAL:
        raise InputError(
            f"run {run_id} already ended {run['state']}: nothing to resume "
            "(`baton runs repair` re-runs what failed)"
        )


def run_flow(
    flow: Flow | str,
    params: Mapping[str, Any] | None = None,
    *,
    flow_name: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    settings: Settings | None = None,
) -> RunResult:
    """Run a flow (a `@flow` object or a file path) to the end in this process.

    Args:
        flow: the flow, or the path of a .py or .yaml file defining it.
        params: the flow's params; missing ones take their defaults.
        flow_name: which flow of the file, when it defines several.
        concurrency: how many tasks may run at once.
        settings: where state is kept; by default from BATON_HOME / BATON_DATABASE_URL.

    Returns:
        The finished run: `.state`, `.tasks[key].state`, `.result(key)`.
    """
    settings = settings or Settings.from_env()
    if isinstance(flow, Flow):
        loaded = loader.from_flow(flow)
    else:
        loaded = loader.pick(loader.load_file(flow), flow_name, file=flow)
    store = Store(settings.database_url)
    try:
        engine = Engine(store)
        run_id = start_run(engine, loaded, params or {})
        return execute(engine, settings, run_id, loaded, concurrency=concurrency)
    finally:
        store.close()


@contextmanager
def cancel_on_signal(cancel: Callable[[], object]) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM cancels the run (tasks stopped, state recorded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: types.FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops hard
        cancel()

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
