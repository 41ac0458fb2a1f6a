"""The scheduler's schedules on every backend, with a fake clock: which runs, when, and
for which logical dates and data intervals; catch-up, pause, bounds and restarts."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime

import pytest

from baton.engine.service import Engine
from baton.model.spec import FlowSpec
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.scheduler import Scheduler
from baton.store.store import Store
from engine_kit import outcome_of


class Clock:
    def __init__(self, when: str) -> None:
        self.now = ts(when)

    def __call__(self) -> float:
        return self.now

    def set(self, when: str) -> None:
        self.now = ts(when)


def ts(when: str) -> float:
    return datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()


def utc(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def flow(schedule: str, *, name: str = "f", extra: str = "") -> FlowSpec:
    text = f"name: {name}\nschedule: {schedule}\n{extra}\ntasks: [{{key: a, type: shell}}]\n"
    return load_yaml_flow(textwrap.dedent(text), file=f"{name}.yaml")


def deploy(store: Store, spec: FlowSpec, clock: Clock) -> None:
    with store.transaction() as tx:
        tx.save_version(spec, clock())
        tx.mark_deployed(spec.name, clock())


def runs(store: Store, name: str = "f") -> list[tuple[str | None, str | None, str | None]]:
    """(logical date, interval start, interval end) of each run, oldest logical date first."""
    rows = store.read().runs(flow=name, limit=10_000)
    return sorted(
        (utc(r.logical_date), utc(r.data_interval_start), utc(r.data_interval_end)) for r in rows
    )


def finish(engine: Engine, run_id: str) -> None:
    """Run a run's tasks to success, as a worker would."""
    while True:
        claimed = engine.claim(
            worker_id="w", queues=["default"], limit=10, run_ids=[run_id], lease=30
        )
        if not claimed:
            return
        engine.complete([outcome_of(c, at=engine.clock(), result="null") for c in claimed])


@pytest.fixture
def clock() -> Clock:
    return Clock("2024-01-01T00:00")


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return Engine(store, clock=clock)


@pytest.fixture
def scheduler(engine: Engine, clock: Clock) -> Scheduler:
    return Scheduler(engine, clock=clock)


def tick_until(scheduler: Scheduler, clock: Clock, end: str, step: float = 900) -> list[str]:
    """Tick every `step` seconds of fake time up to `end`; the times runs appeared."""
    created: list[str] = []
    before = 0
    while clock.now <= ts(end):
        scheduler.tick()
        count = len(scheduler.engine.store.read().runs(limit=10_000))
        created += [utc(clock.now) or ""] * (count - before)
        before = count
        clock.now += step
    return created


def test_a_daily_cron_in_paris_across_spring_forward(store, clock, scheduler):
    # 02:30 does not exist in Paris on 2024-03-31: that day's run fires at 03:30 CEST.
    clock.set("2024-03-28T12:00")
    deploy(store, flow("{cron: '30 2 * * *', timezone: Europe/Paris}"), clock)
    created = tick_until(scheduler, clock, "2024-04-01T12:00")
    assert runs(store) == [
        ("2024-03-27 01:30", "2024-03-27 01:30", "2024-03-28 01:30"),  # the first tick's
        ("2024-03-28 01:30", "2024-03-28 01:30", "2024-03-29 01:30"),
        ("2024-03-29 01:30", "2024-03-29 01:30", "2024-03-30 01:30"),
        ("2024-03-30 01:30", "2024-03-30 01:30", "2024-03-31 01:30"),  # 03:30 CEST
        ("2024-03-31 01:30", "2024-03-31 01:30", "2024-04-01 00:30"),  # a 23-hour day
    ]
    # Each run is created at the end of its interval (the clock ticks every 15 minutes).
    assert created == [
        "2024-03-28 12:00",
        "2024-03-29 01:30",
        "2024-03-30 01:30",
        "2024-03-31 01:30",
        "2024-04-01 00:30",
    ]


def test_cron_in_paris_across_fall_back(store, clock, scheduler):
    # 02:30 happens twice in Paris on 2024-10-27: a daily schedule fires once, at the first
    # pass; an hourly one fires at both, so it keeps running every real hour.
    clock.set("2024-10-26T12:00")
    deploy(store, flow("{cron: '30 2 * * *', timezone: Europe/Paris}", name="daily"), clock)
    deploy(store, flow("{cron: '30 * * * *', timezone: Europe/Paris}", name="hourly"), clock)
    tick_until(scheduler, clock, "2024-10-28T12:00")
    assert [d for d, _, _ in runs(store, "daily")] == [
        "2024-10-25 00:30",
        "2024-10-26 00:30",
        "2024-10-27 00:30",  # 02:30 CEST, then the day is 25 hours long
    ]
    assert runs(store, "daily")[-1][2] == "2024-10-28 01:30"
    hourly = [d for d, _, _ in runs(store, "hourly")]
    assert hourly[hourly.index("2024-10-26 23:30") :][:5] == [
        "2024-10-26 23:30",
        "2024-10-27 00:30",  # 02:30 CEST
        "2024-10-27 01:30",  # 02:30 CET
        "2024-10-27 02:30",
        "2024-10-27 03:30",
    ]
    assert len(hourly) == len(set(hourly)) == 1 + 48  # the first tick's, then every hour


def test_an_interval_with_start_and_end_catches_up_then_stops(store, clock, scheduler):
    clock.set("2024-01-02T01:00")
    spec = flow("{every: 6h, start: '2024-01-01T00:00:00', end: '2024-01-02T12:00', catchup: true}")
    deploy(store, spec, clock)
    assert scheduler.tick() == ts("2024-01-02T06:00")
    assert [d for d, _, _ in runs(store)] == [
        "2024-01-01 00:00",
        "2024-01-01 06:00",
        "2024-01-01 12:00",
        "2024-01-01 18:00",
    ]
    assert runs(store)[0][1:] == ("2024-01-01 00:00", "2024-01-01 06:00")
    clock.set("2024-01-05T00:00")
    assert scheduler.tick() is None  # past `end`: nothing is due ever again
    assert [d for d, _, _ in runs(store)][4:] == [
        "2024-01-02 00:00",
        "2024-01-02 06:00",
        "2024-01-02 12:00",  # the last logical date allowed (inclusive)
    ]


def test_without_catchup_only_the_latest_missed_run_is_created(store, clock, scheduler):
    clock.set("2024-01-01T00:00")
    deploy(store, flow("'@daily'"), clock)
    scheduler.tick()
    assert [d for d, _, _ in runs(store)] == ["2023-12-31 00:00"]
    clock.set("2024-01-05T10:00")  # the scheduler was down for four days
    scheduler.tick()
    assert [d for d, _, _ in runs(store)] == ["2023-12-31 00:00", "2024-01-04 00:00"]


def test_catchup_creates_every_missed_run_oldest_first_within_max_active_runs(
    store, clock, engine, scheduler
):
    clock.set("2024-01-01T00:00")
    deploy(store, flow("{cron: '@daily', catchup: true}", extra="max_active_runs: 1"), clock)
    scheduler.tick()
    clock.set("2024-01-05T10:00")
    scheduler.tick()
    rows = sorted(store.read().runs(flow="f"), key=lambda r: r.logical_date)
    assert [utc(r.logical_date) for r in rows] == [
        "2023-12-31 00:00",
        "2024-01-01 00:00",
        "2024-01-02 00:00",
        "2024-01-03 00:00",
        "2024-01-04 00:00",
    ]
    assert [r.state for r in rows] == ["queued"] + ["scheduled"] * 4
    finish(engine, rows[0].id)  # one ends: the oldest held run is admitted, only it
    assert [store.read().run(r.id).state for r in rows] == [
        "succeeded",
        "queued",
        "scheduled",
        "scheduled",
        "scheduled",
    ]


@pytest.mark.parametrize("catchup", [False, True])
def test_pause_then_unpause(store, clock, scheduler, catchup):
    clock.set("2024-01-01T00:00")
    deploy(store, flow(f"{{cron: '@daily', catchup: {str(catchup).lower()}}}"), clock)
    scheduler.tick()
    with store.transaction() as tx:
        assert tx.set_paused("f", True)
    clock.set("2024-01-04T10:00")
    assert scheduler.tick() is None  # paused: nothing due
    assert len(runs(store)) == 1
    with store.transaction() as tx:
        tx.set_paused("f", False)
    scheduler.tick()
    missed = ["2024-01-01 00:00", "2024-01-02 00:00", "2024-01-03 00:00"]
    # As in Airflow: unpaused, catch-up creates what the pause missed; otherwise only the latest.
    assert [d for d, _, _ in runs(store)][1:] == (missed if catchup else missed[-1:])


def test_a_flow_param_default_goes_into_scheduled_runs(store, clock, scheduler):
    deploy(store, flow("'@hourly'", extra="params: {region: eu}"), clock)
    scheduler.tick()
    (run,) = store.read().runs(flow="f")
    assert run.trigger == "schedule"
    assert run.params == '{"region": "eu"}'


def test_a_flow_whose_params_have_no_default_is_reported_not_run(store, clock, engine):
    lines: list[str] = []
    deploy(store, flow("'@hourly'", extra="params: {day: {type: string, required: true}}"), clock)
    deploy(store, flow("'@hourly'", name="ok"), clock)
    s = Scheduler(engine, clock=clock, report=lines.append)
    s.tick()
    s.tick()
    assert runs(store, "f") == [] and len(runs(store, "ok")) == 1
    assert [line for line in lines if "not scheduled" in line] == [  # once, not each tick
        "flow f: not scheduled: flow 'f' requires param 'day' (a string) and none was given"
    ]


def test_a_restarted_scheduler_fires_nothing_twice_and_loses_nothing(store, clock, engine):
    clock.set("2024-01-01T00:00")
    deploy(store, flow("{cron: '@daily', catchup: true, start: '2023-12-25'}"), clock)
    Scheduler(engine, clock=clock).tick()
    assert len(runs(store)) == 7
    Scheduler(engine, clock=clock).tick()  # a restart, same time: nothing new
    assert len(runs(store)) == 7
    # Killed after creating runs, before moving the cursor: the next one tries the same
    # logical dates again, and the store refuses each (one run per flow and logical date).
    with store.transaction() as tx:
        tx.set_trigger_cursor(
            "f",
            "schedule",
            tx.trigger_cursor("f", "schedule")["cursor"],
            json.dumps({"last": ts("2023-12-27T00:00")}),
            clock(),
        )
    clock.set("2024-01-03T00:00")  # and down for two days
    Scheduler(engine, clock=clock).tick()
    dates = [d for d, _, _ in runs(store)]
    assert dates == sorted(set(dates)) and len(dates) == 9
    assert dates[-1] == "2024-01-02 00:00"


def test_a_schedule_on_a_daily_partitioned_flow_runs_the_day_that_just_closed(
    store, clock, scheduler
):
    # Paris days; the schedule fires at 01:00 Paris for the day that ended an hour before.
    clock.set("2024-03-29T12:00")
    extra = (
        "partitions: {type: daily, start: 2024-03-01, timezone: Europe/Paris}\n"
        "schedule: {cron: '0 1 * * *', timezone: Europe/Paris}"
    )
    text = f"name: f\n{extra}\ntasks: [{{key: a, type: shell}}]\n"
    deploy(store, load_yaml_flow(text, file="f.yaml"), clock)
    tick_until(scheduler, clock, "2024-04-01T12:00")
    rows = sorted(store.read().runs(flow="f", limit=100), key=lambda r: r.created_at)
    assert [r.partition for r in rows] == ["2024-03-28", "2024-03-29", "2024-03-30", "2024-03-31"]
    # The run's data interval is its partition's: 2024-03-31 is a 23-hour Paris day.
    last = rows[-1]
    assert (utc(last.data_interval_start), utc(last.data_interval_end)) == (
        "2024-03-30 23:00",
        "2024-03-31 22:00",
    )
