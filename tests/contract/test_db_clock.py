"""One clock for leases, locks and timers (issue #11, defect 9), on every backend.

On PostgreSQL the database's clock sets and checks every lease, heartbeat and lock expiry,
whatever the clock of the process that asks: a worker or server a couple of hours off (a
clock jump, a machine out of step) neither fails live attempts as lost nor steals a lock.
(On SQLite every process shares one machine and the caller's clock is the clock, as before:
the rest of the suite passes its own.) The scheduler follows a clock that jumps ahead and
back without firing a date twice or stalling its triggers.
"""

from __future__ import annotations

import itertools
import textwrap
import time
from pathlib import Path

import pytest

from baton.engine.service import Engine
from baton.execution.lost import lost_attempts
from baton.model.spec import SourceRef
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.scheduler import FILE_POLL, Scheduler
from baton.store.store import Store
from engine_kit import Clock

# The lease and lock tests are about a cluster store; other processes of a SQLite store
# share its machine's clock.
ON_POSTGRES = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)
HOURS_2 = 2 * 3600.0
LEASE = 30.0


def add_queued_task(store: Store) -> str:
    spec = load_yaml_flow("name: f\ntasks: [{key: a, type: shell}]\n", file="f.yaml")
    with store.transaction() as tx:
        version = tx.save_version(spec, 1.0)
    return Engine(store).create_run(version, {})


def claim(store: Store, now: float) -> str:
    """Claim the one queued task as worker w1 would, with `now` as its clock: the attempt."""
    with store.transaction() as tx:
        tx.register_worker(
            {
                "id": "w1",
                "name": "w1",
                "host": "elsewhere",  # not this host: only the lease says whether it is alive
                "pid": 1,
                "queues": ["default"],
                "concurrency": 1,
                "started_at": now,
            }
        )
        (c,) = tx.claim(
            worker_id="w1",
            queues=["default"],
            limit=1,
            run_ids=None,
            now=now,
            lease_until=now + LEASE,
            new_id=(f"att-{i}" for i in itertools.count()),
        )
    return c.attempt_id


def lease_of(store: Store, attempt_id: str) -> float:
    (a,) = [a for a in store.read().running_attempts() if a.id == attempt_id]
    return float(a.lease_expires_at)


def test_the_store_clock_is_the_database_clock_or_this_process(store: Store):
    before = time.time()
    now = store.clock()
    with store.transaction() as tx:
        assert tx.now() >= now  # the same clock inside a transaction, and it moves on
    # The test's database runs on this machine: its clock and ours agree.
    assert before - 1 <= now <= time.time() + 1


@ON_POSTGRES
def test_leases_and_heartbeats_run_from_the_database_clock(store: Store):
    add_queued_task(store)
    attempt = claim(store, time.time() - HOURS_2)  # a worker whose clock is 2 h behind
    assert lease_of(store, attempt) == pytest.approx(store.clock() + LEASE, abs=5)
    assert lost_attempts(store, None, None) == []  # its lease is the database's 30 s

    ahead = time.time() + HOURS_2  # now two hours ahead: a renewal is still 30 s
    with store.transaction() as tx:
        tx.renew_leases("w1", [attempt], ahead, ahead + LEASE)
    assert lease_of(store, attempt) == pytest.approx(store.clock() + LEASE, abs=5)
    (w,) = store.read().workers()
    assert w.heartbeat_at == pytest.approx(store.clock(), abs=5)
    assert lost_attempts(store, None, None) == []

    with store.transaction() as tx:  # a lease renewed for no time expires at once
        tx.renew_leases("w1", [attempt], ahead, ahead - 1)
    assert [a.id for a in lost_attempts(store, None, None)] == [attempt]


@ON_POSTGRES
def test_lock_expiry_runs_from_the_database_clock(store: Store):
    t = time.time()
    with store.transaction() as tx:
        assert tx.acquire_lock("scheduler", "s1", t, 10.0)
    # s2's clock is two hours ahead: to it, s1's lock expired long ago.
    with store.transaction() as tx:
        assert not tx.acquire_lock("scheduler", "s2", t + HOURS_2, 10.0)
    expiry = store.read().lock_expiry("scheduler")
    assert expiry == pytest.approx(store.clock() + 10.0, abs=5)
    with store.transaction() as tx:  # s1, its clock now two hours ahead, renews for 10 s
        assert tx.acquire_lock("scheduler", "s1", t + HOURS_2, 10.0)
    assert store.read().lock_expiry("scheduler") == pytest.approx(store.clock() + 10.0, abs=5)
    with store.transaction() as tx:  # a lock held for no time is free at once
        assert tx.acquire_lock("scheduler", "s1", t, -1.0)
        assert tx.acquire_lock("scheduler", "s2", t - HOURS_2, 10.0)


START = 1_700_000_000.0


def deploy(store: Store, clock: Clock, body: str, source: Path) -> str:
    spec = load_yaml_flow(textwrap.dedent(body), file="flow.yaml")
    spec = spec.with_source(SourceRef(str(source), "x"))
    with store.transaction() as tx:
        version = tx.save_version(spec, clock())
        tx.mark_deployed(spec.name, clock())
    return version


def test_a_scheduler_clock_jumping_ahead_and_back_fires_nothing_twice_and_stalls_nothing(
    store: Store, tmp_path: Path
):
    clock = Clock(START)
    engine = Engine(store, clock=clock)
    (tmp_path / "in").mkdir()
    deploy(store, clock, "name: m\nschedule: every 1m\ntasks: [{key: a, type: shell}]\n", tmp_path)
    deploy(
        store,
        clock,
        "name: load\ntriggers: [{file: 'in/*.csv'}]\ntasks: [{key: a, type: shell}]\n",
        tmp_path / "flow.yaml",
    )
    scheduler = Scheduler(engine, clock=clock)

    def dates() -> list[float]:
        return [r.logical_date for r in store.read().runs(flow="m", limit=1000)]

    scheduler.tick()
    assert len(dates()) == 1
    clock.now += HOURS_2  # catchup false: only the latest missed date, not 120 of them
    scheduler.tick()
    assert max(dates()) == (START + HOURS_2) // 60 * 60 - 60  # the last complete minute
    assert len(dates()) == 2
    clock.now = START + 90  # and back: nothing fires again...
    for _ in range(3):
        scheduler.tick()
        Scheduler(engine, clock=clock).tick()  # (nor for a new scheduler)
    assert len(dates()) == len(set(dates())) == 2
    # ...but a file trigger is still looked at, not two hours from now
    (tmp_path / "in" / "a.csv").write_text("1")
    clock.now += FILE_POLL
    scheduler.tick()
    assert len(store.read().runs(flow="load", limit=10)) == 1
