"""Backfills: runs of a deployed flow for each logical date of its schedule in a range, or
for each partition key selected (`--partitions 2024-01-01..2024-01-31`, `eu,us`; with
`--missing` / `--failed` only the keys with that status; a key being run now is skipped).

A date that already has a successful run is skipped (unless `rerun`), and so is one whose
run is still going. A date whose latest run failed or was cancelled, or any date with
`rerun`, gets a new run linked to that latest run (`parent_run_id`), which is also what lets
the store accept a second run for one logical date.

Runs are kept to at most `max_parallel` active at once, oldest first. On an embedded store
(SQLite) nobody else would run them, so this process does, like `baton run`; on a cluster
store (PostgreSQL) the workers do, and this process creates runs as slots free up.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from baton.engine.service import Engine
from baton.errors import ConflictError, InputError, NotFoundError
from baton.execution import local, partition_views
from baton.execution.worker import Worker
from baton.model import partitions
from baton.model.params import coerce_params
from baton.model.schedules import Schedule, parse_schedule
from baton.model.spec import DEFAULT_QUEUE, FlowSpec
from baton.model.states import RUN_TERMINAL
from baton.settings import Settings
from baton.store import waiting
from baton.store.records import RunRow

POLL = 0.2  # seconds between looks at a cluster's runs
MAX_KEYS = 10_000  # partitions in one backfill: a range typo must not make a million runs


@dataclass
class Item:
    """One logical date or partition key of a backfill: the run it got, or why none."""

    logical_date: datetime | None
    interval: tuple[datetime, datetime] | None
    partition: str | None = None
    parent_run_id: str | None = None
    run_id: str | None = None
    state: str | None = None
    skipped: str | None = None  # why no run was created


@dataclass
class Plan:
    flow: str
    version_id: str
    items: list[Item]


def _deployed(engine: Engine, flow: str) -> tuple[str, FlowSpec]:
    row = engine.store.read().flow(flow)
    if row is None:
        raise NotFoundError(f"no flow '{flow}'; `baton flows list` shows the flows")
    if not row.deployed:
        raise InputError(f"flow '{flow}' is not deployed: `baton deploy` it first")
    return row.latest_version, engine.compiled(row.latest_version).spec


def plan_partitions(
    engine: Engine,
    flow: str,
    selection: str | None,
    *,
    statuses: Sequence[str] = (),
    now: float,
) -> Plan:
    """One item per partition key selected (all keys without `selection`), oldest first;
    with `statuses` (missing, failed, ...) only the keys whose status is one of them. A key
    with an active run is skipped.

    Raises:
        NotFoundError: no such flow. InputError: not deployed, no partitions, a bad
            selection, or nothing selected.
    """
    version, spec = _deployed(engine, flow)
    if spec.partitions is None:
        raise InputError(f"flow '{flow}' has no partitions: backfill it with --start and --end")
    read = engine.store.read()
    views = {v.key: v for v in partition_views.flow_partitions(read, spec, now)}
    if selection is None:
        keys = list(views)
    else:
        dynamic = read.dynamic_partition_keys(str(spec.partitions.name))
        at = datetime.fromtimestamp(now, UTC)
        keys = partitions.select(spec.partitions, selection, at, dynamic)
    if statuses:
        keys = [k for k in keys if views[k].status in statuses]
    if len(keys) > MAX_KEYS:
        raise InputError(
            f"{len(keys)} partitions selected of flow '{flow}': at most {MAX_KEYS} a backfill;"
            " backfill a smaller range at a time"
        )
    if not keys:
        which = f" {' or '.join(statuses)}" if statuses else ""
        raise InputError(f"flow '{flow}' has no{which} partition in {selection or 'its keys'}")
    items = []
    for key in keys:
        item = Item(None, None, partition=key)
        if views[key].status == "running":
            item.skipped, item.run_id, item.state = "a run is going", views[key].run_id, "running"
        items.append(item)
    return Plan(flow, version, items)


def plan(engine: Engine, flow: str, start: str, end: str, *, rerun: bool, now: float) -> Plan:
    """The logical dates from `start` to `end` and what to do for each. Both are inclusive;
    a date alone stands for the whole day, and a time without a zone is in the schedule's.

    Raises:
        NotFoundError: no such flow. InputError: not deployed, no schedule, bad or empty range.
    """
    version, spec = _deployed(engine, flow)
    if spec.schedule is None:
        raise InputError(f"flow '{flow}' has no schedule, so it has no logical dates to backfill")
    schedule = parse_schedule(spec.schedule)
    first, last = _when(start, "--start", schedule), _when(end, "--end", schedule, end_of_day=True)
    if last < first:
        raise InputError(f"--end {end} is before --start {start}")
    done = datetime.fromtimestamp(now, UTC)  # only intervals that have ended
    items = []
    for logical in schedule.logical_dates(first, last):
        interval = schedule.data_interval_starting(logical)
        if interval.end <= done:
            items.append(Item(logical, (interval.start, interval.end)))
    if not items:
        raise InputError(
            f"flow '{flow}' has no complete interval with a logical date from {start} to {end}"
            f" (its schedule: {json.dumps(spec.schedule)})"
        )
    dates = [i.logical_date.timestamp() for i in items if i.logical_date is not None]
    existing = engine.store.read().runs_for_logical_dates(flow, dates[0], dates[-1])
    for item, date_ in zip(items, dates, strict=True):
        earlier = [r for r in existing if r["logical_date"] == date_]
        if not earlier:
            continue
        latest = earlier[-1]
        if latest["state"] not in RUN_TERMINAL:
            item.skipped, item.run_id, item.state = "a run is going", latest["id"], latest["state"]
        elif any(r["state"] == "succeeded" for r in earlier) and not rerun:
            item.skipped, item.run_id, item.state = "succeeded before", latest["id"], "succeeded"
        else:
            item.parent_run_id = latest["id"]
    return Plan(flow, version, items)


def execute(
    engine: Engine,
    settings: Settings,
    p: Plan,
    *,
    max_parallel: int,
    project_dir: str | None = None,
    patience: float = 0.0,
    say: Callable[[str], object] = print,
) -> None:
    """Create the planned runs, at most `max_parallel` active at once, and see them end.

    The first Ctrl-C or SIGTERM stops the backfill: no more runs are created, and the active
    ones are cancelled (their tasks stopped), so nothing is left running behind it. Looking
    at a cluster's runs waits out a lost database connection up to `patience` seconds
    (`store.waiting`), saying so with `say`.
    """
    todo = [i for i in p.items if i.skipped is None]
    params = coerce_params(engine.compiled(p.version_id).spec.params, {}, flow=p.flow)
    active: list[Item] = []
    stopped = threading.Event()
    workers: list[Worker] = []  # the one working now (embedded store), for the handler

    def stop() -> None:
        stopped.set()
        for w in workers:
            w.request_cancel()

    with local.cancel_on_signal(stop):
        while todo or active:
            if stopped.is_set():
                for item in todo:
                    item.skipped = "not created: the backfill was stopped"
                todo.clear()
                for item in active:
                    engine.cancel(str(item.run_id))
            while todo and len(active) < max_parallel:
                item = todo.pop(0)
                if _create(engine, p, item, params):
                    active.append(item)
            if not active:
                break
            if not settings.cluster:
                workers[:] = [_worker(engine, settings, active, project_dir)]
                if stopped.is_set():  # Ctrl-C came while the worker was being made
                    workers[0].request_cancel()
                workers[0].run()
            else:
                stopped.wait(POLL)
            rows = waiting.patiently(
                engine.store, patience, say, functools.partial(_runs, engine, active)
            )
            for item, row in zip(active, rows, strict=True):
                item.state = row.state
            active = [i for i in active if i.state not in RUN_TERMINAL]


def _runs(engine: Engine, items: Sequence[Item]) -> list[RunRow]:
    read = engine.store.read()
    return [read.run(str(i.run_id)) for i in items]


def _create(engine: Engine, p: Plan, item: Item, params: dict[str, object]) -> bool:
    when = item.logical_date.timestamp() if item.logical_date else None
    start, end = item.interval or (None, None)
    try:
        item.run_id = engine.create_run(
            p.version_id,
            params,
            trigger="backfill",
            parent_run_id=item.parent_run_id,
            logical_date=when,
            data_interval=(start.timestamp(), end.timestamp()) if start and end else None,
            partition=item.partition,
        )
    except ConflictError:  # the scheduler (or another backfill) made one since the plan
        item.skipped = (
            "created meanwhile by another"
            if item.partition
            else ("created meanwhile by the scheduler")
        )
        return False
    item.state = "queued"
    return True


def _worker(
    engine: Engine, settings: Settings, items: Sequence[Item], project_dir: str | None
) -> Worker:
    """A worker for these runs in this process (an embedded store has no workers)."""
    run_ids = [str(i.run_id) for i in items]
    queues = {t.queue for r in run_ids for t in engine.run_info(r)[0].spec.tasks}
    return Worker(
        engine,
        settings,
        queues=sorted(queues | {DEFAULT_QUEUE}),
        run_ids=run_ids,
        project_dir=project_dir,
    )


def _when(text: str, option: str, schedule: Schedule, *, end_of_day: bool = False) -> datetime:
    """A CLI date or datetime; a date alone means its whole day (its start, or its end)."""
    try:
        value = datetime.fromisoformat(text) if "T" in text or " " in text else None
        if value is None:
            d = date.fromisoformat(text)
            value = datetime.combine(d, time.max if end_of_day else time.min)
    except ValueError:
        raise InputError(
            f"{option} {text!r}: expected a date or datetime in ISO 8601, e.g. 2024-01-31 "
            "or 2024-01-31T06:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(schedule.timezone))
    return value.astimezone(UTC)
