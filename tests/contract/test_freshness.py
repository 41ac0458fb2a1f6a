"""Freshness on every backend, on a fake clock: assets go stale and back with exactly one
notification per transition (a max_lag policy, a cron policy in a time zone with grace),
the scheduler sees a new write within one tick, two evaluators racing tell it once, and
10,000 assets do not slow the scheduler's tick."""

from __future__ import annotations

import json
import statistics
import textwrap
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from baton.engine.service import Engine
from baton.execution.loader import LoadedFlow
from baton.model.spec import FlowSpec
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.freshness import CATALOG_POLL, SCAN, Evaluator, evaluate_all
from baton.scheduling.registration import deploy
from baton.scheduling.scheduler import Scheduler
from baton.store import dialect
from baton.store.assets import Materialization
from baton.store.store import Store
from engine_kit import Clock

HOUR = 3600.0
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday, Paris is UTC+1


def flow(name: str, body: str) -> FlowSpec:
    return load_yaml_flow(textwrap.dedent(f"name: {name}\n{body}"), file=f"{name}.yaml")


WAREHOUSE = """
notifications: [{on: [stale], email: [team@example.com]}]
assets:
  - name: warehouse.orders
    freshness: {max_lag: 6h}
    notifications: [{on: stale, webhook: "http://hooks.example/orders"}]
  - name: warehouse.daily
    freshness: {cron: "0 7 * * *", timezone: Europe/Paris, max_lag: 1h}
  - {name: warehouse.plain}
tasks:
  - {key: load, type: shell, outputs: [warehouse.orders, warehouse.daily, warehouse.plain]}
"""


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def deployed(store: Store) -> Store:
    deploy(store, [LoadedFlow(flow("warehouse", WAREHOUSE))])
    return store


def report(store: Store, asset: str, at: float) -> None:
    with store.transaction() as tx:
        tx.report_materialization(asset, {}, None, None, "test", at)


def write(store: Store, asset: str, at: float) -> None:
    """A write by a task (the other source)."""
    with store.transaction() as tx:
        tx.record_materializations(
            [Materialization(asset, "warehouse", "r1", "load", 1, 1, "a" * 32, None, None, at)]
        )


def states(store: Store) -> dict[str, tuple[str, float]]:
    got = store.read().asset_states(["warehouse.orders", "warehouse.daily", "warehouse.plain"])
    return {name: (s.state, s.since) for name, s in got.items()}


def told(store: Store) -> list[tuple[str, str, dict[str, Any]]]:
    """The queued notifications: (asset, channel, payload), in queue order."""
    rows = store.read().due_notifications(1e12, 1000)
    return [(r["asset"], r["channel"], json.loads(r["payload"])) for r in rows]


def test_max_lag_goes_stale_and_back_with_one_notification_per_transition(deployed, clock):
    store = deployed
    ev = Evaluator(store)
    assert ev.tick(clock()) is None
    assert states(store)["warehouse.orders"][0] == "unknown"
    assert "warehouse.plain" not in states(store)  # no policy, no state
    written = START + 10
    report(store, "warehouse.orders", written)
    clock.now += 11
    due = written + 6 * HOUR
    assert ev.tick(clock()) == due  # seen at the first tick after the write
    assert states(store)["warehouse.orders"] == ("fresh", written)
    clock.now = due  # exactly 6 h old: still fresh
    ev.tick(clock())
    assert states(store)["warehouse.orders"][0] == "fresh"
    assert told(store) == []
    clock.now = due + 1
    for _ in range(5):  # every tick after: still one notification per entry
        ev.tick(clock())
        clock.now += 60
    assert states(store)["warehouse.orders"] == ("stale", due)
    notes = told(store)
    # The asset's own entry and its flow's, each once.
    assert sorted(
        json.loads(c).get("webhook") or json.loads(c)["email"][0] for _, c, _ in notes
    ) == [
        "http://hooks.example/orders",
        "team@example.com",
    ]
    (asset, _, payload), _ = notes
    assert asset == "warehouse.orders"
    assert payload == {
        "event": "stale",
        "asset": "warehouse.orders",
        "state": "stale",
        "last_update": "2026-01-05T00:00:10.000000Z",
        "due": "2026-01-05T06:00:10.000000Z",
        "since": "2026-01-05T06:00:10.000000Z",
        "freshness": {"max_lag": 21600.0},
    }
    Evaluator(store).tick(clock())  # a restarted scheduler: nothing new to tell
    assert len(told(store)) == 2

    back = clock.now + 5
    write(store, "warehouse.orders", back)  # a task's write makes it fresh again
    clock.now = back + 1
    ev.tick(clock())
    assert states(store)["warehouse.orders"] == ("fresh", back)
    assert len(told(store)) == 2  # recovering is recorded, not told

    clock.now = back + 6 * HOUR + 1  # a second episode: told again, once
    ev.tick(clock())
    ev.tick(clock() + 1)
    assert states(store)["warehouse.orders"] == ("stale", back + 6 * HOUR)
    assert len(told(store)) == 4
    assert {p["due"] for _, _, p in told(store)} == {
        "2026-01-05T06:00:10.000000Z",
        datetime.fromtimestamp(back + 6 * HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def paris(day: int, hour: int, minute: int = 0) -> float:
    """An instant of January 2026 in Paris (UTC+1)."""
    return datetime(2026, 1, day, hour - 1, minute, tzinfo=UTC).timestamp()


def test_a_cron_policy_in_a_time_zone_allows_its_grace_then_goes_stale_and_back(deployed, clock):
    store = deployed
    ev = Evaluator(store)
    report(store, "warehouse.daily", paris(5, 6, 30))  # on time for Monday's 07:00
    clock.now = paris(5, 6, 31)
    ev.tick(clock())
    assert states(store)["warehouse.daily"][0] == "fresh"
    clock.now = paris(6, 7, 59)  # Tuesday 07:00 passed, within its hour of grace
    ev.tick(clock())
    assert states(store)["warehouse.daily"][0] == "fresh"
    clock.now = paris(6, 8)  # the deadline: Tuesday's update is late
    ev.tick(clock())
    ev.tick(clock())
    assert states(store)["warehouse.daily"] == ("stale", paris(6, 8))
    (note,) = [p for a, _, p in told(store) if a == "warehouse.daily"]
    assert (note["due"], note["last_update"]) == (
        "2026-01-06T07:00:00.000000Z",
        "2026-01-05T05:30:00.000000Z",
    )
    assert note["freshness"] == {"max_lag": 3600.0, "cron": "0 7 * * *", "timezone": "Europe/Paris"}
    clock.now = paris(6, 9)
    report(store, "warehouse.daily", clock.now)  # late, but it is there now
    ev.tick(clock())
    assert states(store)["warehouse.daily"] == ("fresh", paris(6, 9))
    clock.now = paris(7, 7, 30)  # it covers Tuesday's period; Wednesday's grace runs
    ev.tick(clock())
    assert states(store)["warehouse.daily"][0] == "fresh"
    assert len([a for a, _, _ in told(store) if a == "warehouse.daily"]) == 1


def test_the_scheduler_evaluates_freshness_each_tick_and_wakes_at_the_due(deployed, clock):
    store = deployed
    engine = Engine(store, clock=clock)
    scheduler = Scheduler(engine, clock=clock)
    report(store, "warehouse.orders", clock.now)
    clock.now += 1
    assert scheduler.tick() == START + 6 * HOUR  # nothing else is due: its deadline
    clock.now = START + 6 * HOUR + 1
    scheduler.tick()
    assert states(store)["warehouse.orders"][0] == "stale"
    report(store, "warehouse.orders", clock.now)
    scheduler.tick()  # the very next tick sees the write, same instant
    assert states(store)["warehouse.orders"] == ("fresh", clock.now)
    Scheduler(engine, clock=clock).tick()  # a new scheduler agrees, tells nothing more
    assert len(told(store)) == 2


def test_a_deploy_changing_a_policy_is_seen_and_a_dropped_policy_forgets_its_state(deployed, clock):
    store = deployed
    ev = Evaluator(store)
    report(store, "warehouse.orders", clock.now)
    clock.now += 2 * HOUR
    ev.tick(clock())
    assert states(store)["warehouse.orders"][0] == "fresh"
    deploy(store, [LoadedFlow(flow("warehouse", WAREHOUSE.replace("max_lag: 6h", "max_lag: 1h")))])
    ev.tick(clock() + 1)  # within CATALOG_POLL: the policy is looked at again later
    assert states(store)["warehouse.orders"][0] == "fresh"
    ev.tick(clock() + CATALOG_POLL)
    assert states(store)["warehouse.orders"][0] == "stale"
    assert len(told(store)) == 2
    deploy(
        store, [LoadedFlow(flow("warehouse", WAREHOUSE.replace("freshness: {max_lag: 6h}", "")))]
    )
    ev.tick(clock() + 2 * CATALOG_POLL)
    assert "warehouse.orders" not in states(store)
    assert store.read().freshness_flags() == [("warehouse.daily", False)]


def test_two_evaluators_racing_tell_a_stale_asset_once(deployed, clock, url):
    report(deployed, "warehouse.orders", START)
    stores = [Store(url) for _ in range(2)]
    try:
        evaluators = [Evaluator(s) for s in stores]
        for ev in evaluators:  # both believe it fresh
            ev.tick(START + 1)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(ev: Evaluator) -> None:
            try:
                barrier.wait(10)
                ev.tick(START + 6 * HOUR + 1)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(ev,)) for ev in evaluators]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
    finally:
        for s in stores:
            s.close()
    assert states(deployed)["warehouse.orders"] == ("stale", START + 6 * HOUR)
    assert len(told(deployed)) == 2  # one per entry, not per evaluator
    assert evaluate_all(deployed, START + 7 * HOUR) is None
    assert len(told(deployed)) == 2


MANY = 10_000


def test_ten_thousand_assets_do_not_slow_the_scheduler_tick(store, clock, capsys):
    assets = "\n".join(
        f"  - {{name: big.a{i:05d}, freshness: {{max_lag: 1h}}}}" for i in range(MANY)
    )
    spec = flow(
        "big", f"assets:\n{assets}\ntasks: [{{key: t, type: shell, outputs: [big.a00000]}}]\n"
    )
    deploy(store, [LoadedFlow(spec)])
    with store.transaction() as tx:
        tx.record_materializations(
            [
                Materialization(
                    f"big.a{i:05d}", "big", "r1", "t", 1, 1, "a" * 32, None, None, START + i / 10
                )
                for i in range(MANY)
            ]
        )
    engine = Engine(store, clock=clock)
    scheduler = Scheduler(engine, clock=clock)
    clock.now = START + MANY / 10 + 1
    first = time.perf_counter()
    scheduler.tick()  # the first tick reads the catalog and writes 10,000 states
    first = time.perf_counter() - first
    assert len(store.read().asset_states([f"big.a{i:05d}" for i in range(MANY)])) == MANY

    def timed(s: Scheduler) -> float:
        samples = []
        for _ in range(30):
            clock.now += 0.25
            t = time.perf_counter()
            s.tick()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    with_assets = timed(scheduler)
    bare = Scheduler(engine, clock=clock)
    bare.freshness.tick = lambda now: None  # type: ignore[method-assign]
    without = timed(bare)
    with capsys.disabled():
        print(
            f"\nfreshness, {MANY} assets: first tick {first * 1000:.0f} ms; steady tick "
            f"{with_assets * 1000:.2f} ms vs {without * 1000:.2f} ms without"
        )
    assert with_assets < without + 0.005  # a few queries, never a pass over the catalog


def test_a_write_committed_after_a_later_one_is_seen_within_a_scan(deployed, clock, url):
    """On PostgreSQL ids are taken before commit: a write may show up below the highest id
    already read. The periodic read by time finds it."""
    store = deployed
    ev = Evaluator(store)
    conn = dialect.for_url(url).connect()  # commits each statement at once
    insert = (
        "INSERT INTO asset_materializations (id, asset, source, at) VALUES (?, ?, 'external', ?)"
    )
    try:
        conn.execute(insert, (100, "warehouse.plain", START))
        ev.tick(START + 1)  # the first look reads the catalog and the last writes
        ev.tick(START + 1.5)  # then writes from id 100 on, and the recent ones by time
        conn.execute(insert, (50, "warehouse.orders", START + 0.5))  # committed late
    finally:
        conn.close()
    ev.tick(START + 2)
    assert states(store)["warehouse.orders"][0] == "unknown"  # below the ids read: not yet
    ev.tick(START + 1.5 + SCAN)
    assert states(store)["warehouse.orders"] == ("fresh", START + 0.5)
