"""Backfill plans: the logical dates of a range, and what each gets (a run, a rerun, a skip)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from baton.engine.service import Engine
from baton.errors import InputError, NotFoundError
from baton.model import yaml_spec
from baton.model.states import RunState
from baton.scheduling import backfill
from baton.store.store import Store

LATER = datetime(2030, 1, 1, tzinfo=UTC).timestamp()  # every interval below has ended


def flow(name: str = "daily", schedule: str = '{cron: "0 6 * * *"}') -> str:
    return (
        f"name: {name}\nschedule: {schedule}\ntasks: [{{key: a, type: shell, command: 'true'}}]\n"
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = Store(f"sqlite:///{tmp_path}/baton.db")
    yield Engine(store)
    store.close()


def deploy(engine: Engine, text: str) -> str:
    spec = yaml_spec.load_yaml_flow(text, file="flow.yaml")
    with engine.store.transaction() as tx:
        version = tx.save_version(spec, 0.0, deployed=True)
        tx.mark_deployed(spec.name, 0.0)
    return version


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def dates(p: backfill.Plan) -> list[datetime]:
    return [i.logical_date for i in p.items]


def test_a_range_of_dates_is_every_logical_date_in_it_both_ends_included(engine: Engine) -> None:
    deploy(engine, flow())
    p = backfill.plan(engine, "daily", "2024-03-09", "2024-03-11", rerun=False, now=LATER)
    assert dates(p) == [utc("2024-03-09T06:00"), utc("2024-03-10T06:00"), utc("2024-03-11T06:00")]
    assert p.items[0].interval == (utc("2024-03-09T06:00"), utc("2024-03-10T06:00"))
    assert all(i.skipped is None and i.parent_run_id is None for i in p.items)


def test_a_time_narrows_the_range_and_a_date_alone_is_in_the_schedules_zone(
    engine: Engine,
) -> None:
    deploy(engine, flow())
    p = backfill.plan(
        engine, "daily", "2024-03-09T07:00", "2024-03-11T05:59", rerun=False, now=LATER
    )
    assert dates(p) == [utc("2024-03-10T06:00")]
    deploy(engine, flow("ny", '{cron: "0 6 * * *", timezone: America/New_York}'))
    p = backfill.plan(engine, "ny", "2024-03-10", "2024-03-10", rerun=False, now=LATER)
    assert dates(p) == [utc("2024-03-10T10:00")]  # 06:00 in New York, after its clocks sprang


def test_only_intervals_that_have_ended_are_planned(engine: Engine) -> None:
    deploy(engine, flow())
    now = utc("2024-03-11T07:00").timestamp()  # the 03-10 interval ended an hour ago
    p = backfill.plan(engine, "daily", "2024-03-09", "2024-03-11", rerun=False, now=now)
    assert dates(p) == [utc("2024-03-09T06:00"), utc("2024-03-10T06:00")]
    with pytest.raises(InputError, match="has no complete interval with a logical date"):
        backfill.plan(engine, "daily", "2024-03-11", "2024-03-12", rerun=False, now=now)


def test_a_bad_range_is_refused(engine: Engine) -> None:
    deploy(engine, flow())
    with pytest.raises(InputError, match="--end 2024-03-01 is before --start 2024-03-09"):
        backfill.plan(engine, "daily", "2024-03-09", "2024-03-01", rerun=False, now=LATER)
    with pytest.raises(InputError, match="--start 'March 9': expected a date or datetime"):
        backfill.plan(engine, "daily", "March 9", "2024-03-01", rerun=False, now=LATER)


def test_only_a_deployed_flow_with_a_schedule_can_be_backfilled(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="no flow 'daily'"):
        backfill.plan(engine, "daily", "2024-03-09", "2024-03-09", rerun=False, now=LATER)
    engine.register(yaml_spec.load_yaml_flow(flow(), file="flow.yaml"))
    with pytest.raises(InputError, match="is not deployed"):
        backfill.plan(engine, "daily", "2024-03-09", "2024-03-09", rerun=False, now=LATER)
    deploy(engine, "name: manual\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    with pytest.raises(InputError, match="has no schedule"):
        backfill.plan(engine, "manual", "2024-03-09", "2024-03-09", rerun=False, now=LATER)


def test_successful_and_running_dates_are_skipped_and_failed_ones_rerun(engine: Engine) -> None:
    version = deploy(engine, flow())
    day = [utc(f"2024-03-{d:02}T06:00").timestamp() for d in (9, 10, 11)]

    def run(logical_date: float, *path: RunState) -> str:
        run_id = engine.create_run(version, {}, trigger="schedule", logical_date=logical_date)
        with engine.store.transaction() as tx:
            for state in path:
                tx.move_run(run_id, state)
        return run_id

    succeeded = run(day[0], RunState.RUNNING, RunState.SUCCEEDED)
    failed = run(day[1], RunState.RUNNING, RunState.FAILED)
    going = run(day[2], RunState.RUNNING)
    p = backfill.plan(engine, "daily", "2024-03-09", "2024-03-13", rerun=False, now=LATER)
    got = [(i.skipped, i.run_id, i.state, i.parent_run_id) for i in p.items]
    assert got == [
        ("succeeded before", succeeded, "succeeded", None),
        (None, None, None, failed),  # a new run, linked to the failed one
        ("a run is going", going, "running", None),
        (None, None, None, None),
        (None, None, None, None),
    ]
    # A rerun of a failed date that succeeded counts as a success of that date.
    rerun = engine.create_run(
        version, {}, trigger="backfill", logical_date=day[1], parent_run_id=failed
    )
    with engine.store.transaction() as tx:
        tx.move_run(rerun, RunState.RUNNING)
        tx.move_run(rerun, RunState.SUCCEEDED)
    p = backfill.plan(engine, "daily", "2024-03-09", "2024-03-10", rerun=False, now=LATER)
    assert [i.skipped for i in p.items] == ["succeeded before", "succeeded before"]
    # --rerun runs every date again but one still going, each linked to its latest run.
    p = backfill.plan(engine, "daily", "2024-03-09", "2024-03-11", rerun=True, now=LATER)
    got = [(i.skipped, i.parent_run_id) for i in p.items]
    assert got == [(None, succeeded), (None, rerun), ("a run is going", None)]
