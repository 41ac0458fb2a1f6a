"""The engine's bounded caches: the LRU itself, and an engine that sees many runs."""

from __future__ import annotations

import random

import pytest

from baton.engine import service
from baton.engine.cache import LRU
from baton.engine.run_facts import RunMeta
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store
from engine_kit import outcome_of


def test_the_lru_drops_the_entry_used_longest_ago() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # now "b" is the oldest
    lru.put("c", 3)
    assert len(lru) == 2
    assert "b" not in lru and lru.get("b") is None
    assert (lru.get("a"), lru.get("c")) == (1, 3)
    lru.put("a", 10)  # replacing an entry does not grow the map
    assert len(lru) == 2 and lru.get("a") == 10


def test_an_lru_has_room_for_one_entry_at_least() -> None:
    with pytest.raises(ValueError, match="room for one entry"):
        LRU[str, int](0)


def test_the_default_bounds_hold_a_few_thousand_runs() -> None:
    assert 1000 <= service.RUN_CACHE_SIZE <= 10_000
    assert 100 <= service.VERSION_CACHE_SIZE <= 10_000


BOUND = 8


@pytest.fixture
def engine(store: Store, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(service, "RUN_CACHE_SIZE", BOUND)
    monkeypatch.setattr(service, "VERSION_CACHE_SIZE", 2)
    return Engine(store, clock=lambda: 1000.0, rng=random.Random(0))


def flow(name: str) -> FlowSpec:
    return FlowSpec(
        name=name,
        tasks=(
            TaskSpec(key="a", type="python", config={"function": "mod:a"}),
            TaskSpec(key="b", type="python", config={"function": "mod:b"}, depends_on=("a",)),
        ),
    )


def test_the_run_cache_stays_bounded_over_many_runs(engine: Engine) -> None:
    version = engine.register(flow("f"))
    for n in range(5 * BOUND):
        engine.create_run(version, {"n": n}, logical_date=float(n), trigger="schedule")
        assert len(engine._runs) <= BOUND
    assert len(engine._runs) == BOUND


def test_an_evicted_run_is_loaded_again_as_it_was(engine: Engine, store: Store) -> None:
    version = engine.register(flow("f"))
    first = engine.create_run(
        version,
        {"n": 0},
        logical_date=5.0,
        data_interval=(1.0, 5.0),
        trigger_info={"asset": "db.table"},
    )
    expected = (engine.run_info(first)[1], engine.run_meta(first))
    for n in range(1, 2 * BOUND):
        engine.create_run(version, {"n": n})
    assert first not in engine._runs
    c, params = engine.run_info(first)
    assert (params, engine.run_meta(first)) == expected
    assert params == {"n": 0} and c.version_id == version
    assert engine.run_meta(first) == RunMeta(5.0, 1.0, 5.0, {"asset": "db.table"})
    assert len(engine._runs) <= BOUND

    # Completing tasks of a run that was evicted meanwhile still moves it along to its end.
    for _ in range(2):
        for n in range(2 * BOUND):  # push `first` out again between its tasks
            engine.create_run(version, {"n": n})
        assert first not in engine._runs
        [claimed] = engine.claim(
            worker_id="w", queues=["default"], limit=1, run_ids=[first], lease=30
        )
        engine.complete([outcome_of(claimed, at=1000.0)])
    assert store.read().run(first).state == "succeeded"
    assert len(engine._runs) <= BOUND


def test_the_version_cache_stays_bounded_and_reloads(engine: Engine) -> None:
    versions = [engine.register(flow(f"f{n}")) for n in range(5)]
    assert len(engine._versions) == 2
    old = engine.compiled(versions[0])
    assert old.spec == flow("f0") and old.version_id == versions[0]
    assert list(old.graph.order) == ["a", "b"]
    assert len(engine._versions) == 2
