"""The scheduler's event triggers on every backend, with a fake clock: file arrival, asset
updates (one, or all of several), another flow's end; and restarts that neither lose nor
repeat a firing."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from baton.engine.service import Engine
from baton.model.spec import FlowSpec, SourceRef
from baton.model.states import AttemptState
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.scheduler import FILE_POLL, Scheduler, trigger_id
from baton.store.store import Store
from engine_kit import Clock, outcome_of

START = 1_700_000_000.0


def flow(name: str, body: str, source: Path | None = None) -> FlowSpec:
    spec = load_yaml_flow(textwrap.dedent(f"name: {name}\n{body}"), file=f"{name}.yaml")
    return spec.with_source(SourceRef(str(source), "x")) if source else spec


def producer(name: str, *assets: str) -> FlowSpec:
    return flow(name, f"tasks: [{{key: load, type: shell, outputs: {list(assets)}}}]\n")


def consumer(name: str, trigger: str, source: Path | None = None) -> FlowSpec:
    return flow(name, f"triggers: [{trigger}]\ntasks: [{{key: a, type: shell}}]\n", source)


def deploy(store: Store, clock: Clock, *specs: FlowSpec) -> dict[str, str]:
    with store.transaction() as tx:
        versions = {s.name: tx.save_version(s, clock()) for s in specs}
        for s in specs:
            tx.mark_deployed(s.name, clock())
    return versions


def run(engine: Engine, version: str, state: AttemptState = AttemptState.SUCCEEDED) -> str:
    """A manual run of a flow, its tasks ended in `state` as a worker would."""
    run_id = engine.create_run(version, {})
    while claimed := engine.claim(
        worker_id="w", queues=["default"], limit=10, run_ids=[run_id], lease=30
    ):
        failed = state is AttemptState.FAILED
        engine.complete(
            [
                outcome_of(c, state, at=engine.clock(), result=None if failed else "null")
                for c in claimed
            ]
        )
    return run_id


def fired(store: Store, name: str) -> list[dict[str, Any]]:
    """The trigger_info of a flow's runs, oldest first (the firing key left out)."""
    read = store.read()  # in creation order: runs of one tick share their created_at
    rows = sorted(read.runs(flow=name, limit=1000), key=lambda r: read.events(r.id)[0]["id"])
    kinds = {"file": "file", "asset": "asset", "assets": "asset", "flow": "flow"}
    for r in rows:  # labelled by the kind of trigger that fired it
        assert r.trigger == kinds[json.loads(r.trigger_info)["type"]]
        assert r.logical_date is None
    return [{k: v for k, v in json.loads(r.trigger_info).items() if k != "key"} for r in rows]


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return Engine(store, clock=clock)


@pytest.fixture
def tick(engine: Engine, clock: Clock) -> Any:
    """Tick a scheduler (a new one each time: restarts must not matter), a second later."""

    def _tick(seconds: float = 1.0) -> None:
        clock.now += seconds
        Scheduler(engine, clock=clock).tick()

    return _tick


def test_a_file_trigger_fires_once_per_new_or_changed_file(store, clock, tick, tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "old.csv").write_text("1")
    deploy(store, clock, consumer("load", "{file: 'in/*.csv'}", tmp_path / "flow.yaml"))
    tick()
    old = str(tmp_path / "in" / "old.csv")
    assert fired(store, "load") == [{"type": "file", "path": old}]  # there at first sight
    tick(FILE_POLL)
    assert len(fired(store, "load")) == 1  # unchanged: nothing
    (tmp_path / "in" / "new.csv").write_text("2")
    (tmp_path / "in" / "skip.txt").write_text("not matched")
    tick(FILE_POLL)
    assert len(fired(store, "load")) == 2
    (tmp_path / "in" / "old.csv").write_text("1 and more")  # changed: fires again
    tick(FILE_POLL)
    assert [f["path"] for f in fired(store, "load")] == [old, str(tmp_path / "in" / "new.csv"), old]


def test_an_asset_trigger_passes_which_run_produced_the_update(store, clock, engine, tick):
    v = deploy(store, clock, producer("ingest", "raw.events"))
    run(engine, v["ingest"])  # before the consumer was deployed: not an update for it
    clock.now += 10
    deploy(store, clock, consumer("report", "{asset: raw.events}"))
    tick()
    assert fired(store, "report") == []
    first, second = run(engine, v["ingest"]), run(engine, v["ingest"])
    tick()
    assert [
        (f["type"], f["asset"], f["flow"], f["run_id"], f["task"]) for f in fired(store, "report")
    ] == [
        ("asset", "raw.events", "ingest", first, "load"),
        ("asset", "raw.events", "ingest", second, "load"),
    ]
    tick()
    assert len(fired(store, "report")) == 2


def test_an_all_of_assets_trigger_waits_for_every_asset(store, clock, engine, tick):
    v = deploy(
        store,
        clock,
        producer("users", "raw.users"),
        producer("events", "raw.events"),
        consumer("join", "{assets: [raw.users, raw.events]}"),
    )
    run(engine, v["users"])
    tick()
    latest_users = run(engine, v["users"])
    tick()
    assert fired(store, "join") == []  # raw.events not updated yet
    events = run(engine, v["events"])
    tick()
    (info,) = fired(store, "join")
    assert info["type"] == "assets"
    assert {a: u["run_id"] for a, u in info["assets"].items()} == {
        "raw.users": latest_users,
        "raw.events": events,
    }
    run(engine, v["events"])
    tick()
    assert len(fired(store, "join")) == 1  # again only once both are updated again
    run(engine, v["users"])
    tick()
    assert len(fired(store, "join")) == 2


def test_a_flow_trigger_fires_when_the_flow_ends_in_the_given_states(store, clock, engine, tick):
    v = deploy(
        store,
        clock,
        producer("ingest"),
        consumer("alert", "{flow: ingest, states: [failed]}"),
        consumer("next", "{flow: ingest}"),  # default: succeeded
    )
    ok = run(engine, v["ingest"])
    bad = run(engine, v["ingest"], AttemptState.FAILED)
    tick()
    assert fired(store, "alert") == [
        {"type": "flow", "flow": "ingest", "run_id": bad, "state": "failed"}
    ]
    assert fired(store, "next") == [
        {"type": "flow", "flow": "ingest", "run_id": ok, "state": "succeeded"}
    ]


def test_a_late_committed_update_still_fires(store, clock, engine, tick):
    v = deploy(store, clock, producer("ingest", "raw"), consumer("report", "{asset: raw}"))
    clock.now += 400
    run(engine, v["ingest"])
    tick()
    # Recorded before the update just consumed, committed only now (a slow worker): it is
    # still within the cursor's window.
    clock.now -= 30
    late = run(engine, v["ingest"])
    clock.now += 30
    tick()
    assert [f["run_id"] for f in fired(store, "report")][-1] == late
    assert len(fired(store, "report")) == 2


def test_a_firing_whose_cursor_move_was_lost_is_not_repeated(store, clock, engine, tick):
    v = deploy(store, clock, producer("ingest", "raw"), consumer("report", "{asset: raw}"))
    run(engine, v["ingest"])
    tick()
    tid = trigger_id({"asset": "raw"})
    # As if the scheduler was killed after creating the run, before moving the cursor.
    with store.transaction() as tx:
        cursor = tx.trigger_cursor("report", tid)["cursor"]
        assert tx.set_trigger_cursor("report", tid, cursor, '{"seen": [], "since": 0}', clock())
    tick()
    assert len(fired(store, "report")) == 1
    run(engine, v["ingest"])
    tick()
    assert len(fired(store, "report")) == 2  # and nothing was lost


def test_a_paused_flows_triggers_wait(store, clock, engine, tick):
    v = deploy(store, clock, producer("ingest", "raw"), consumer("report", "{asset: raw}"))
    with store.transaction() as tx:
        tx.set_paused("report", True)
    run(engine, v["ingest"])
    tick()
    assert fired(store, "report") == []
    with store.transaction() as tx:
        tx.set_paused("report", False)
    tick()
    assert len(fired(store, "report")) == 1


def test_a_webhook_trigger_creates_nothing_by_itself(store, clock, tick):
    deploy(store, clock, consumer("hook", "{webhook: true}"))
    tick()
    assert fired(store, "hook") == []


def test_an_absolute_glob_is_used_as_it_is(store, clock, tick, tmp_path: Path):
    (tmp_path / "a.csv").write_text("x")
    deploy(store, clock, consumer("load", f"{{file: '{tmp_path}/*.csv'}}"))
    tick()
    assert fired(store, "load") == [{"type": "file", "path": os.path.join(tmp_path, "a.csv")}]


def run_partition(engine: Engine, version: str, key: str) -> str:
    run_id = engine.create_run(version, {}, partition=key)
    while claimed := engine.claim(
        worker_id="w", queues=["default"], limit=10, run_ids=[run_id], lease=30
    ):
        engine.complete([outcome_of(c, at=engine.clock(), result="null") for c in claimed])
    return run_id


def partitions_of(store: Store, name: str) -> list[str | None]:
    return sorted(r.partition for r in store.read().runs(flow=name, limit=1000))


def test_an_asset_trigger_runs_the_same_partition_downstream(store, engine, clock, tick):
    regions = "partitions: {type: static, values: [eu, us]}\n"
    up = flow("up", regions + "tasks: [{key: load, type: shell, outputs: [raw.sales]}]\n")
    down = flow(
        "down", regions + "triggers: [{asset: raw.sales}]\ntasks: [{key: a, type: shell}]\n"
    )
    versions = deploy(store, clock, up, down)
    tick()
    clock.now += 1
    run_partition(engine, versions["up"], "us")
    tick()
    assert partitions_of(store, "down") == ["us"]
    (info,) = fired(store, "down")
    assert (info["asset"], info["partition"]) == ("raw.sales", "us")


def test_a_daily_flow_runs_when_all_the_hours_of_its_day_are_written(store, engine, clock, tick):
    clock.now = 1_704_300_000.0  # 2024-01-03 16:40 UTC: 2024-01-02 has ended
    hourly = 'partitions: {type: hourly, start: "2024-01-01T00:00"}\n'
    up = flow("hits", hourly + "tasks: [{key: load, type: shell, outputs: [raw.hits]}]\n")
    down = flow(
        "rollup",
        "partitions: {type: daily, start: 2024-01-01}\n"
        "triggers: [{asset: raw.hits}]\ntasks: [{key: a, type: shell}]\n",
    )
    versions = deploy(store, clock, up, down)
    tick()
    for hour in range(23):
        clock.now += 1
        run_partition(engine, versions["hits"], f"2024-01-02T{hour:02}:00")
    run_partition(engine, versions["hits"], "2024-01-03T00:00")  # the next day's first
    tick()
    assert partitions_of(store, "rollup") == []  # 23 of 24 hours
    clock.now += 1
    run_partition(engine, versions["hits"], "2024-01-02T23:00")
    tick()
    assert partitions_of(store, "rollup") == ["2024-01-02"]
    # The day's hour written again: the day runs again (its data changed), once, after the
    # run of it going now: never two at once.
    clock.now += 1
    run_partition(engine, versions["hits"], "2024-01-02T07:00")
    tick()
    assert partitions_of(store, "rollup") == ["2024-01-02"]
    (first,) = store.read().runs(flow="rollup", limit=5)
    while claimed := engine.claim(
        worker_id="w", queues=["default"], limit=10, run_ids=[first.id], lease=30
    ):
        engine.complete([outcome_of(c, at=engine.clock(), result="null") for c in claimed])
    tick()
    tick()
    assert partitions_of(store, "rollup") == ["2024-01-02", "2024-01-02"]
