"""A run's life in this process: start it, work on it to the end (`execute`, `run_flow`),
follow it (`wait`), cancel it, resume it."""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from baton.engine import partitions
from baton.engine.service import Engine
from baton.errors import InputError
from baton.execution import loader, log_tail
from baton.execution.loader import LoadedFlow
from baton.execution.lost import end_lost, lost_attempts
from baton.execution.secrets import Secrets
from baton.execution.signals import cancel_on_signal
from baton.execution.views import RunResult, load_result
from baton.execution.worker import Worker
from baton.model.decorators import Flow
from baton.model.params import coerce_params
from baton.model.spec import DEFAULT_QUEUE
from baton.model.states import RUN_TERMINAL, RunState
from baton.notify import outbox
from baton.settings import Settings
from baton.store.store import Store

DEFAULT_CONCURRENCY = 16
LAST_SEND_TIMEOUT = 5.0  # seconds a notification sent as `baton run` ends may take


def start_run(
    engine: Engine,
    flow: LoadedFlow,
    params: Mapping[str, Any],
    partition: str | None = None,
    *,
    refresh_cache: bool = False,
) -> str:
    """A new run of `flow` (of `partition`, for a partitioned flow); with `refresh_cache`,
    its caching tasks recompute and replace their cached results."""
    values = coerce_params(flow.spec.params, params, flow=flow.spec.name)
    if flow.spec.partitions is not None or partition is not None:  # refused: nothing written
        now = engine.clock()
        partitions.checked(engine.store.read(), flow.spec, partition, now, now)
    version = engine.register(flow.spec)
    return engine.create_run(version, values, partition=partition, refresh_cache=refresh_cache)


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
    feed = None
    if settings.openlineage:  # events of its attempts, queued by a feed of its own runs
        from baton.notify import lineage  # imported only by a run that uses it: start-up

        feed = lineage.Feed(settings)
    if feed is not None or any(engine.run_info(r)[0].spec.notifications for r in runs):
        kwargs = {"secrets": secrets, "root_run_id": run_id, "log_tail": tail, "feed": feed}
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
    if feed is not None:
        try:
            feed.step(store, time.time(), runs, final=True)
        except Exception as exc:  # lineage never changes how a run ends
            print(f"baton: queueing OpenLineage events: {store.describe(exc)}", file=sys.stderr)
    outbox.drain(
        store,
        settings,
        time.time(),
        secrets=secrets,
        run_ids=runs,
        timeout=LAST_SEND_TIMEOUT,
        log_tail=tail,
        budget=LAST_SEND_TIMEOUT,
    )


def wait(store: Store, run_id: str, poll: float = 0.1) -> RunResult:
    """Follow a run that other processes (cluster workers) work on until it ends."""
    read = store.read()
    while read.run(run_id).state not in RUN_TERMINAL:
        time.sleep(poll)
    return load_result(store, run_id)


def cancel(engine: Engine, settings: Settings, run_id: str) -> str:
    """Cancel a run (`Engine.cancel`), and end the attempts whose worker is gone, which no
    worker will stop; the run's state now. A run that already ended (perhaps as the cancel
    came) is left as it is: cancelling it does nothing, and is no error (`cancel_text`)."""
    store = engine.store
    if not engine.cancel(run_id):
        return str(store.read().run(run_id).state)
    lost = lost_attempts(store, store.read().runs_under(run_id), None)
    end_lost(engine, settings, lost, "cancelled; its worker was gone")
    return str(store.read().run(run_id).state)


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
    if run.state in RUN_TERMINAL:
        raise InputError(
            f"run {run_id} already ended {run.state}: nothing to resume "
            "(`baton runs repair` re-runs what failed)"
        )


def run_flow(
    flow: Flow | str,
    params: Mapping[str, Any] | None = None,
    *,
    flow_name: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    settings: Settings | None = None,
    partition: str | None = None,
    refresh_cache: bool = False,
) -> RunResult:
    """Run a flow (a `@flow` object or a file path) to the end in this process.

    Args:
        flow: the flow, or the path of a .py or .yaml file defining it.
        params: the flow's params; missing ones take their defaults.
        flow_name: which flow of the file, when it defines several.
        concurrency: how many tasks may run at once.
        settings: where state is kept; by default from BATON_HOME / BATON_DATABASE_URL.
        partition: the key a run of a partitioned flow processes (a time-partitioned one
            defaults to the partition that closed last).
        refresh_cache: tasks that cache recompute their results and replace the entries.

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
        run_id = start_run(engine, loaded, params or {}, partition, refresh_cache=refresh_cache)
        return execute(engine, settings, run_id, loaded, concurrency=concurrency)
    finally:
        store.close()
