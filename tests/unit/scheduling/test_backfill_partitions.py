"""Partition backfill plans: the keys selected, narrowed by status, a key being run skipped;
and runs of them, one per key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from baton.engine.service import Engine
from baton.errors import InputError
from baton.model import yaml_spec
from baton.model.states import AttemptState
from baton.scheduling import backfill
from baton.store.store import Store
from engine_kit import Clock, outcome_of

NOW = datetime(2024, 1, 10, 12, tzinfo=UTC).timestamp()  # 2024-01-09 is the last closed day
DAYS = "name: days\npartitions: {type: daily, start: 2024-01-01}\n" + (
    "tasks: [{key: a, type: shell, command: 'true'}]\n"
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = Store(f"sqlite:///{tmp_path}/baton.db")
    yield Engine(store, clock=Clock(NOW))
    store.close()


def deploy(engine: Engine, text: str = DAYS) -> str:
    spec = yaml_spec.load_yaml_flow(text, file="flow.yaml")
    with engine.store.transaction() as tx:
        version = tx.save_version(spec, 0.0, deployed=True)
        tx.mark_deployed(spec.name, 0.0)
    return version


def run(engine: Engine, version: str, key: str, state: AttemptState | None) -> str:
    """A run of `key`, ended in `state` (None: left running)."""
    run_id = engine.create_run(version, {}, partition=key)
    if state is not None:
        for c in engine.claim(
            worker_id="w", queues=("default",), limit=5, run_ids=[run_id], lease=9
        ):
            engine.complete([outcome_of(c, state, at=NOW)])
    return run_id


def keys(p: backfill.Plan, *, skipped: bool = False) -> list[str | None]:
    return [i.partition for i in p.items if (i.skipped is not None) == skipped]


def test_a_range_selects_its_keys_and_a_running_one_is_skipped(engine: Engine) -> None:
    version = deploy(engine)
    going = run(engine, version, "2024-01-03", None)
    p = backfill.plan_partitions(engine, "days", "2024-01-02..2024-01-04,2024-01-08", now=NOW)
    assert keys(p) == ["2024-01-02", "2024-01-04", "2024-01-08"]
    (skip,) = [i for i in p.items if i.skipped]
    assert (skip.partition, skip.run_id, skip.skipped) == ("2024-01-03", going, "a run is going")


def test_missing_and_failed_narrow_the_selection(engine: Engine) -> None:
    version = deploy(engine)
    run(engine, version, "2024-01-01", AttemptState.SUCCEEDED)
    run(engine, version, "2024-01-02", AttemptState.FAILED)
    run(engine, version, "2024-01-03", AttemptState.SUCCEEDED)
    missing = backfill.plan_partitions(
        engine, "days", "2024-01-01..2024-01-05", statuses=["missing"], now=NOW
    )
    assert keys(missing) == ["2024-01-04", "2024-01-05"]
    failed = backfill.plan_partitions(engine, "days", None, statuses=["failed"], now=NOW)
    assert keys(failed) == ["2024-01-02"]
    both = backfill.plan_partitions(engine, "days", None, statuses=["missing", "failed"], now=NOW)
    assert keys(both) == ["2024-01-02", *(f"2024-01-0{d}" for d in range(4, 10))]


def test_bad_selections_are_refused_by_name(engine: Engine) -> None:
    deploy(engine)
    deploy(engine, "name: plain\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    for flow, selection, says in [
        ("days", "2024-01-05..2024-01-01", "runs backwards"),
        ("days", "2024-02-01", "does not exist yet"),
        ("days", "2024-1-1", "is not a daily partition key"),
        ("days", "2024-01-01,2024-01-01", "selected twice"),
        ("plain", "eu", "has no partitions"),
    ]:
        with pytest.raises(InputError, match=says):
            backfill.plan_partitions(engine, flow, selection, now=NOW)
    with pytest.raises(InputError, match="has no failed partition"):
        backfill.plan_partitions(engine, "days", None, statuses=["failed"], now=NOW)


def test_a_plan_creates_one_run_per_key(engine: Engine, tmp_path: Path) -> None:
    from baton.settings import Settings

    deploy(engine)
    p = backfill.plan_partitions(engine, "days", "2024-01-01..2024-01-03", now=NOW)
    settings = Settings.from_env({"BATON_HOME": str(tmp_path)})
    backfill.execute(engine, settings, p, max_parallel=2, project_dir=str(tmp_path))
    runs = engine.store.read().runs(flow="days", limit=10)
    assert sorted((r.partition, r.trigger, r.state) for r in runs) == [
        (f"2024-01-0{d}", "backfill", "succeeded") for d in (1, 2, 3)
    ]
    assert all(r.data_interval_start is not None and r.logical_date is None for r in runs)


def test_a_backfill_selects_at_most_max_keys(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(engine)
    monkeypatch.setattr(backfill, "MAX_KEYS", 3)
    with pytest.raises(InputError, match="4 partitions selected of flow 'days': at most 3"):
        backfill.plan_partitions(engine, "days", "2024-01-01..2024-01-04", now=NOW)
    assert (
        len(backfill.plan_partitions(engine, "days", "2024-01-01..2024-01-03", now=NOW).items) == 3
    )
