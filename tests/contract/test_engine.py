"""The engine service end to end on every backend: create a run, claim, complete, finish."""

from __future__ import annotations

from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, RetryPolicy, TaskSpec
from baton.model.states import AttemptState
from baton.store.store import Claimed, Store
from engine_kit import Clock, outcome_of


def done(c: Claimed, state: AttemptState = AttemptState.SUCCEEDED) -> Outcome:
    failed = state is AttemptState.FAILED
    return outcome_of(c, state, at=1000.0, result=None if failed else '"ok"')


def test_a_run_goes_from_created_to_succeeded(store: Store) -> None:
    engine = Engine(store, clock=Clock())
    flaky = TaskSpec(key="b", type="python", depends_on=("a",), retry=RetryPolicy(retries=1))
    spec = FlowSpec(
        name="f",
        tasks=(
            TaskSpec(key="a", type="python"),
            flaky,
            TaskSpec(key="c", type="python", depends_on=("a",)),
            TaskSpec(key="d", type="python", depends_on=("b", "c")),
        ),
    )
    run_id = engine.create_run(engine.register(spec), {"n": 1})

    def claim(outcomes: list[Outcome] | None = None) -> list[Claimed]:
        return engine.claim(
            worker_id="w1", queues=["default"], limit=10, lease=30, outcomes=outcomes or ()
        )

    (a,) = claim()
    assert store.read().run(run_id).state == "running"
    b, c = sorted(claim([done(a)]), key=lambda x: x.task_key)
    (b2,) = claim([done(b, AttemptState.FAILED), done(c)])  # b retries at once
    assert (b2.task_key, b2.attempt) == ("b", 2)
    (d,) = claim([done(b2)])
    assert d.task_key == "d"
    engine.complete([done(d)])
    run = store.read().run(run_id)
    assert (run.state, run.unfinished) == ("succeeded", 0)
    assert {r.task_key: r.state for r in store.read().task_runs(run_id)} == dict.fromkeys(
        "abcd", "succeeded"
    )
    assert len(store.read().attempts(run_id)) == 5
    assert store.read().events(run_id)[-1]["to_state"] == "succeeded"
