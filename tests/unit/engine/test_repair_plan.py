"""What a repair re-runs of a mapped task: its items that did not succeed, not all of them
(`planner.repair_plan`), also for a repair run held back by `max_active_runs`."""

from __future__ import annotations

from pathlib import Path

from baton.engine import planner
from baton.engine.service import Engine
from baton.model.graph import validate
from baton.model.spec import FlowSpec
from baton.model.states import AttemptState
from baton.store.records import TaskRunRow
from baton.store.store import Store
from borrow import borrow
from store_rows import task_run_record

_s = borrow(Path(__file__).with_name("test_service.py"))
py, claim, claim_one, outcome, states, run_state = (
    _s.py,
    _s.claim,
    _s.claim_one,
    _s.outcome,
    _s.states,
    _s.run_state,
)


def row(key: str, state: str, map_index: int = -1) -> TaskRunRow:
    return task_run_record(key, state, map_index)


FLOW = FlowSpec(
    name="f",
    tasks=(py("src"), py("each", "src", map_over="src"), py("total", "each"), py("side")),
)
GRAPH = validate(FLOW, {"python"})


def test_only_the_items_that_did_not_succeed_run_again() -> None:
    rows = [
        row("src", "succeeded"),
        row("each", "succeeded", 0),
        row("each", "failed", 1),
        row("each", "cancelled", 2),
        row("each", "skipped", 3),
        row("total", "upstream_failed"),
        row("side", "succeeded"),
    ]
    plan = planner.repair_plan(GRAPH, ["each"], rows)
    assert plan is not None
    assert {k: [r.map_index for r in v] for k, v in plan.reuse.items()} == {
        "src": [-1],
        "each": [0, 3],
        "side": [-1],
    }
    assert {k: [r.map_index for r in v] for k, v in plan.items.items()} == {"each": [1, 2]}


def test_a_mapped_task_whose_upstream_runs_again_maps_again_whole() -> None:
    rows = [
        row("src", "failed"),
        row("each", "upstream_failed"),
        row("total", "upstream_failed"),
        row("side", "succeeded"),
    ]
    plan = planner.repair_plan(GRAPH, ["each"], rows)
    assert plan is not None
    assert set(plan.reuse) == {"side"} and plan.items == {}
    rows = [row("src", "succeeded"), row("each", "failed"), row("total", "upstream_failed")]
    plan = planner.repair_plan(GRAPH, ["each"], rows)  # it failed before mapping (not a list)
    assert plan is not None and set(plan.reuse) == {"src"} and plan.items == {}
    assert planner.repair_plan(GRAPH, ["each"], [row("src", "succeeded")]) is None


def test_a_held_repair_runs_its_items_when_admitted(engine: Engine, store: Store) -> None:
    spec = FlowSpec(
        name="f",
        tasks=(py("src"), py("each", "src", map_over="src"), py("total", "each")),
        max_active_runs=1,
    )
    old = engine.create_run(engine.register(spec), {})
    engine.complete([outcome(engine, claim_one(engine, "src"), result="[1, 2, 3]", result_len=3)])
    first, second, third = claim(engine)
    engine.complete(
        [
            outcome(engine, first),
            outcome(engine, second, AttemptState.FAILED),
            outcome(engine, third),
        ]
    )
    assert run_state(store, old) == "failed"
    blocker = engine.create_run(engine.register(spec), {})  # holds the flow's one slot
    new = engine.repair(old)
    assert run_state(store, new) == "scheduled"
    assert states(store, new)["each[1]"] == "pending"
    engine.cancel(blocker)
    assert run_state(store, new) == "queued"
    assert states(store, new) == {
        "src": "succeeded",
        "each[0]": "succeeded",
        "each[1]": "queued",
        "each[2]": "succeeded",
        "total": "pending",
    }
    (c,) = claim(engine)
    assert (c.task_key, c.attempt) == ("each", 1)
    engine.complete([outcome(engine, c)])
    engine.complete([outcome(engine, claim_one(engine, "total"))])
    assert run_state(store, new) == "succeeded"
