"""Caching on the worker (execution.caching) with an in-process run on SQLite and the
engine's clock faked: ttl expiry without sleeping, refresh, what a key reads, mapped items
and branch tasks served from the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import baton
from baton.engine.service import Engine
from baton.execution import lifecycle, loader
from baton.execution.views import RunView
from baton.settings import Settings
from baton.store.store import Store

TTL = 3600.0
CALLS: list[str] = []


class Clock:
    """The engine's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"BATON_HOME": str(tmp_path / ".baton")})


@pytest.fixture
def run(settings: Settings, clock: Clock) -> Any:
    """`run(flow, params, refresh=False)`: one run of a `@flow` to its end, in this process."""
    store = Store(settings.database_url)
    engine = Engine(store, clock=clock)

    def go(
        flow: baton.Flow | loader.LoadedFlow,
        params: dict[str, Any] | None = None,
        refresh: bool = False,
    ) -> RunView:
        loaded = flow if isinstance(flow, loader.LoadedFlow) else loader.from_flow(flow)
        run_id = lifecycle.start_run(engine, loaded, params or {}, refresh_cache=refresh)
        return lifecycle.execute(engine, settings, run_id, loaded)

    yield go
    store.close()


@baton.task(cache_ttl=TTL)
def fetch(day: str) -> str:
    CALLS.append(day)
    return f"data of {day}"


@baton.flow(name="ttl")
def ttl_flow(day: str = "d1") -> None:
    fetch(day)


def test_an_entry_expires_after_its_ttl_by_the_engines_clock(run, clock):
    CALLS.clear()
    first = run(ttl_flow)
    clock.now += TTL - 1
    hit = run(ttl_flow)
    assert hit.tasks["fetch"].cached and hit.result("fetch") == "data of d1"
    assert hit.tasks["fetch"].cached_from.run_id == first.id  # type: ignore[union-attr]
    clock.now += 2  # the ttl ran out
    expired = run(ttl_flow)
    assert not expired.tasks["fetch"].cached
    again = run(ttl_flow)  # the new result is kept for a new ttl
    assert again.tasks["fetch"].cached_from.run_id == expired.id  # type: ignore[union-attr]
    assert CALLS == ["d1", "d1"]


def test_refresh_recomputes_and_the_next_run_reads_the_new_entry(run):
    CALLS.clear()
    run(ttl_flow)
    refreshed = run(ttl_flow, refresh=True)
    assert not refreshed.tasks["fetch"].cached and refreshed.tasks["fetch"].attempts == 1
    assert run(ttl_flow).tasks["fetch"].cached_from.run_id == refreshed.id  # type: ignore[union-attr]
    assert CALLS == ["d1", "d1"]


@baton.task(cache=True)
def double(x: int) -> int:
    CALLS.append(f"double {x}")
    return 2 * x


@baton.task
def total(values: list[int]) -> int:
    return sum(values)


@baton.flow(name="mapped")
def mapped_flow(items: list[int] = [1, 2, 3]) -> None:  # noqa: B006 (a flow param default)
    total(double.map(items))


def test_mapped_items_are_keyed_apart_and_hit_one_by_one(run):
    CALLS.clear()
    assert run(mapped_flow).result("total") == 12
    second = run(mapped_flow, {"items": [1, 2, 4]})
    assert [t.cached for t in second.tasks.values() if t.key == "double"] == [True, True, False]
    assert second.result("total") == 14
    assert sorted(CALLS) == ["double 1", "double 2", "double 3", "double 4"]  # items in parallel


@baton.task(cache=True, branch=True)
def choose() -> str:
    CALLS.append("choose")
    return "left"


@baton.task
def left(c: str) -> str:
    return "L"


@baton.task
def right(c: str) -> str:
    return "R"


@baton.flow(name="branchy")
def branch_flow() -> None:
    c = choose()
    left(c)
    right(c)


def test_a_cached_branch_follows_its_cached_choice(run):
    CALLS.clear()
    run(branch_flow)
    second = run(branch_flow)
    assert second.tasks["choose"].cached and CALLS == ["choose"]
    assert (second.tasks["left"].state, second.tasks["right"].state) == ("succeeded", "skipped")


YAML = """
name: reads
params:
  a: {type: string, default: "1"}
  b: {type: string, default: "1"}
tasks:
  - {key: echo, type: shell, command: "echo {{ params.a }}", cache: true}
"""


def test_a_default_key_has_the_params_a_task_reads_not_the_others(run, tmp_path):
    path = tmp_path / "reads.yaml"
    path.write_text(YAML)
    flow = loader.pick(loader.load_file(str(path)), None, file=str(path))
    run(flow)
    assert run(flow, {"b": "2"}).tasks["echo"].cached
    assert not run(flow, {"a": "2"}).tasks["echo"].cached
