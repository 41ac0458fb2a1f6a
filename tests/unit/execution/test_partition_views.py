"""Partition status: a flow's keys by their newest run, an asset's by its writes (missing,
materialized, failed, stale through the same key or overlapping time partitions)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from baton.engine.service import Engine
from baton.errors import InputError
from baton.execution import partition_views
from baton.execution.loader import LoadedFlow
from baton.model.states import AttemptState
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.registration import deploy
from baton.store.store import Store
from engine_kit import Clock, outcome_of

NOW = datetime(2024, 1, 5, 12, tzinfo=UTC).timestamp()  # days 2024-01-01..04 exist

DAILY = """
name: days
partitions: {type: daily, start: 2024-01-01}
tasks:
  - {key: raw, type: shell, command: x, outputs: [wh.raw]}
  - {key: clean, type: shell, command: x, depends_on: [raw], inputs: [wh.raw], outputs: [wh.clean]}
"""
HOURLY = """
name: hits
partitions: {type: hourly, start: "2024-01-01T00:00"}
tasks: [{key: hits, type: shell, command: x, outputs: [wh.hits]}]
"""
ROLLUP = """
name: rollup
partitions: {type: daily, start: 2024-01-01}
tasks: [{key: roll, type: shell, command: x, inputs: [wh.hits], outputs: [wh.daily]}]
"""


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> Iterator[Engine]:
    store = Store(f"sqlite:///{tmp_path}/baton.db")
    yield Engine(store, clock=clock)
    store.close()


def deployed(engine: Engine, *texts: str) -> dict[str, str]:
    specs = [load_yaml_flow(textwrap.dedent(t), file="f.yaml") for t in texts]
    deploy(engine.store, [LoadedFlow(s) for s in specs])
    return {s.name: engine.store.read().flow(s.name).latest_version for s in specs}  # type: ignore[union-attr]


def run(engine: Engine, version: str, key: str, fail: str | None = None) -> str:
    """A run of partition `key`, each task succeeding but `fail`."""
    run_id = engine.create_run(version, {}, partition=key)
    while claimed := engine.claim(
        worker_id="w", queues=("default",), limit=10, run_ids=[run_id], lease=30
    ):
        engine.complete(
            [
                outcome_of(
                    c,
                    AttemptState.FAILED if c.task_key == fail else AttemptState.SUCCEEDED,
                    at=engine.clock(),
                )
                for c in claimed
            ]
        )
    return run_id


def statuses(engine: Engine, asset: str) -> dict[str, str]:
    _, views = partition_views.asset_partitions(engine.store.read(), asset, engine.clock())
    return {v.key: v.status for v in views}


def test_an_assets_partitions_missing_materialized_failed_and_stale(
    engine: Engine, clock: Clock
) -> None:
    v = deployed(engine, DAILY)["days"]
    run(engine, v, "2024-01-01")
    clock.now += 10
    run(engine, v, "2024-01-02")
    clock.now += 10
    failed = run(engine, v, "2024-01-03", fail="clean")
    assert statuses(engine, "wh.clean") == {
        "2024-01-01": "materialized",
        "2024-01-02": "materialized",
        "2024-01-03": "failed",
        "2024-01-04": "missing",
    }
    assert statuses(engine, "wh.raw")["2024-01-03"] == "materialized"
    # raw of 2024-01-01 is written again: clean of that day is stale, no other.
    clock.now += 10
    with engine.store.transaction() as tx:
        tx.report_materialization("wh.raw", {}, "2024-01-01", None, "ops", clock())
    assert statuses(engine, "wh.clean")["2024-01-01"] == "stale"
    assert statuses(engine, "wh.clean")["2024-01-02"] == "materialized"
    # A later successful run of the failed day materializes it.
    clock.now += 10
    run(engine, v, "2024-01-03")
    assert statuses(engine, "wh.clean")["2024-01-03"] == "materialized"
    _, views = partition_views.asset_partitions(engine.store.read(), "wh.clean", clock())
    page = partition_views.asset_page("wh.clean", engine.compiled(v).spec, views, views[:1])
    assert page["counts"] == {"materialized": 2, "failed": 0, "missing": 1, "stale": 1}
    assert page["items"][0]["key"] == "2024-01-01"
    assert failed != page["items"][0]["run_id"]


def test_a_day_is_stale_when_one_of_its_hours_is_written_after_it(
    engine: Engine, clock: Clock
) -> None:
    versions = deployed(engine, HOURLY, ROLLUP)
    run(engine, versions["hits"], "2024-01-02T05:00")
    clock.now += 10
    run(engine, versions["rollup"], "2024-01-02")
    run(engine, versions["rollup"], "2024-01-03")
    assert statuses(engine, "wh.daily")["2024-01-02"] == "materialized"
    clock.now += 10
    run(engine, versions["hits"], "2024-01-02T23:00")  # the day's last hour
    found = statuses(engine, "wh.daily")
    assert (found["2024-01-02"], found["2024-01-03"]) == ("stale", "materialized")


def test_an_asset_no_deployed_flow_writes_has_no_partitions(engine: Engine) -> None:
    deployed(engine, "name: plain\ntasks: [{key: a, type: shell, command: x, outputs: [wh.p]}]\n")
    with pytest.raises(InputError, match=r"no deployed flow writes asset 'wh\.nope'"):
        partition_views.asset_partitions(engine.store.read(), "wh.nope", NOW)
    with pytest.raises(InputError, match="flow 'plain' has no partitions"):
        partition_views.asset_partitions(engine.store.read(), "wh.p", NOW)
