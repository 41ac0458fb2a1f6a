"""Cancelling a run as its tasks complete, on PostgreSQL: a real race, run many times.

Two connections (as two processes would have) race: one reports attempts that ended, the
other cancels the run. Whoever commits first wins; the other must see it and act on it,
never fail: a cancel that comes too late is a no-op that says the run already finished.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import RUN_TERMINAL
from baton.store.store import Claimed, Store
from engine_kit import outcome_of

pytestmark = pytest.mark.postgres

ITERATIONS = 150
SECONDS = 40.0  # the loop stops here whatever the count (a loaded box is slow)
FLOW = FlowSpec(
    name="race",
    tasks=(
        TaskSpec(key="a", type="shell", config={"command": "true"}),
        TaskSpec(key="b", type="shell", config={"command": "true"}, depends_on=("a",)),
        TaskSpec(key="c", type="shell", config={"command": "true"}, depends_on=("a",)),
    ),
)


@pytest.fixture
def engines(pg_url: str) -> Iterator[tuple[Engine, Engine]]:
    stores = [Store(pg_url), Store(pg_url)]
    try:
        yield Engine(stores[0]), Engine(stores[1])
    finally:
        for s in stores:
            s.close()


def done(c: Claimed) -> Outcome:
    return outcome_of(c, at=time.time())


def claim(engine: Engine, run_id: str, outcomes: list[Outcome] | None = None) -> list[Claimed]:
    return engine.claim(
        worker_id="w",
        queues=["default"],
        limit=10,
        run_ids=[run_id],
        lease=60,
        outcomes=outcomes or [],
    )


def late_cancel(engine: Engine, run_id: str, lag: float) -> bool:
    time.sleep(lag)  # a deliberate stagger (not a wait for something): see the loop
    return engine.cancel(run_id)


def race(complete: Callable[[], Any], cancel: Callable[[], Any]) -> dict[str, Any]:
    """Run both at the same moment, each in its own thread; what each returned or raised."""
    barrier = threading.Barrier(2)
    out: dict[str, Any] = {}

    def go(name: str, fn: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            out[name] = fn()
        except BaseException as exc:  # the test reports it, whatever it is
            out[name] = exc

    threads = [
        threading.Thread(target=go, args=p) for p in (("complete", complete), ("cancel", cancel))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a racer hung"
    return out


def test_cancel_racing_completions_never_fails(engines: tuple[Engine, Engine]) -> None:
    worker, operator = engines
    version = worker.register(FLOW)
    deadline = time.monotonic() + SECONDS
    outcomes = {"too late": 0, "cancelled": 0}
    n = 0
    while n < ITERATIONS and time.monotonic() < deadline:
        run_id = worker.create_run(version, {})
        (a,) = claim(worker, run_id)
        if n % 2:  # race the last completions, which finish the run
            running = claim(worker, run_id, [done(a)])
            report = [done(c) for c in running]
        else:  # race the first completion, which queues what follows it
            report = [done(a)]
        # Half the time the cancel starts a moment later, so that each side wins often.
        lag = random.uniform(0, 0.004) if n % 4 >= 2 else 0.0
        got = race(
            functools.partial(claim, worker, run_id, report),
            functools.partial(late_cancel, operator, run_id, lag),
        )
        for name, value in got.items():
            assert not isinstance(value, BaseException), f"iteration {n}: {name} raised {value!r}"
        # Whatever won, the run ends once its workers report what they were running.
        for _ in range(5):
            left = got["complete"] or []
            got["complete"] = claim(worker, run_id, [done(c) for c in left])
        run = operator.store.read().run(run_id)
        assert run.state in RUN_TERMINAL and run.unfinished == 0, run
        if got["cancel"] is False:  # too late: the run had finished on its own
            assert run.state == "succeeded"
            outcomes["too late"] += 1
        else:
            assert run.state == "cancelled"
            outcomes["cancelled"] += 1
        n += 1
    assert n >= 20, f"only {n} iterations in {SECONDS}s"
    print(f"{n} races: {outcomes}")


def test_cancel_of_a_finished_run_says_so_and_succeeds(baton: Any, write: Any) -> None:
    write("quick.yaml", "name: quick\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    run = baton.run("quick.yaml")
    assert run["state"] == "succeeded"
    out = baton("runs", "cancel", run["id"])
    assert out.stdout == f"run {run['id']} already finished: succeeded\n"
    assert baton.json("runs", "show", run["id"])["state"] == "succeeded"
