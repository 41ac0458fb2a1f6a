from __future__ import annotations

import random

import pytest

from baton.engine import planner
from baton.engine.planner import Outcome
from baton.model.graph import Graph, validate
from baton.model.spec import FlowSpec, RetryPolicy, TaskSpec, param_ref, ref
from baton.model.states import AttemptState, ErrorKind, RunState, TaskState
from baton.model.trigger_rules import UpstreamCounts

T = TaskState


def task(**fields: object) -> TaskSpec:
    return TaskSpec(key="t", type="python", **fields)  # type: ignore[arg-type]


def outcome(
    state: AttemptState,
    *,
    attempt: int = 1,
    error_kind: ErrorKind | None = None,
    error_types: tuple[str, ...] = (),
    ended_at: float = 1000.0,
) -> Outcome:
    return Outcome(
        attempt_id="att",
        task_run_id=1,
        run_id="run",
        task_key="t",
        attempt=attempt,
        state=state,
        ended_at=ended_at,
        error=None if state is AttemptState.SUCCEEDED else "boom",
        error_kind=error_kind,
        error_types=error_types,
    )


def next_state(
    spec: TaskSpec, o: Outcome, *, cancelling: bool = False
) -> tuple[TaskState, float | None]:
    return planner.next_task_state(spec, o, cancelling=cancelling, rng=random.Random(0))


# -- next_task_state ---------------------------------------------------------------------


def test_success_and_skip() -> None:
    assert next_state(task(), outcome(AttemptState.SUCCEEDED)) == (T.SUCCEEDED, None)
    assert next_state(task(), outcome(AttemptState.SKIPPED)) == (T.SKIPPED, None)
    assert next_state(task(), outcome(AttemptState.CANCELLED)) == (T.CANCELLED, None)


def test_a_failure_without_retries_fails() -> None:
    assert next_state(task(), outcome(AttemptState.FAILED)) == (T.FAILED, None)


def test_a_failure_with_retries_waits_until_its_retry_time() -> None:
    spec = task(retry=RetryPolicy(retries=2, delay=10, backoff=2))
    assert next_state(spec, outcome(AttemptState.FAILED, ended_at=500)) == (T.RETRY_WAIT, 510)
    assert next_state(spec, outcome(AttemptState.FAILED, attempt=2, ended_at=600)) == (
        T.RETRY_WAIT,
        620,
    )
    assert next_state(spec, outcome(AttemptState.FAILED, attempt=3)) == (T.FAILED, None)


def test_a_missing_error_kind_counts_as_a_user_error() -> None:
    spec = task(retry=RetryPolicy(retries=1, retry_on=("ValueError",)))
    o = outcome(AttemptState.FAILED, error_types=("builtins.ValueError",))
    assert next_state(spec, o)[0] is T.RETRY_WAIT
    o = outcome(AttemptState.FAILED, error_types=("builtins.KeyError",))
    assert next_state(spec, o)[0] is T.FAILED


def test_a_lost_attempt_is_retried_without_a_policy() -> None:
    o = outcome(AttemptState.FAILED, error_kind=ErrorKind.LOST, ended_at=5)
    assert next_state(task(), o) == (T.RETRY_WAIT, 5)
    o = outcome(AttemptState.FAILED, attempt=2, error_kind=ErrorKind.LOST)
    assert next_state(task(), o) == (T.FAILED, None)


def test_a_failure_while_the_run_is_cancelling_is_cancelled_not_retried() -> None:
    spec = task(retry=RetryPolicy(retries=3))
    o = outcome(AttemptState.FAILED, error_kind=ErrorKind.USER)
    assert next_state(spec, o, cancelling=True) == (T.CANCELLED, None)


def test_a_success_while_cancelling_is_kept() -> None:
    assert next_state(task(), outcome(AttemptState.SUCCEEDED), cancelling=True) == (
        T.SUCCEEDED,
        None,
    )


# -- upstream_deltas and counts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "deltas"),
    [
        (T.SUCCEEDED, (1, 0, 0, 0)),
        (T.FAILED, (0, 1, 0, 0)),
        (T.UPSTREAM_FAILED, (0, 0, 1, 0)),
        (T.SKIPPED, (0, 0, 0, 1)),
        (T.CANCELLED, (0, 1, 0, 0)),
    ],
)
def test_upstream_deltas(state: TaskState, deltas: tuple[int, int, int, int]) -> None:
    assert planner.upstream_deltas(state) == deltas


def test_counts_of_a_row() -> None:
    row = {
        "up_total": 5,
        "up_success": 1,
        "up_failed": 2,
        "up_upstream_failed": 0,
        "up_skipped": 1,
    }
    assert planner.counts_of(row) == UpstreamCounts(
        total=5, success=1, failed=2, upstream_failed=0, skipped=1
    )


# -- branches ----------------------------------------------------------------------------


def branch_graph() -> Graph:
    return validate(
        FlowSpec(
            name="f",
            tasks=(
                TaskSpec(key="choose", type="python"),
                TaskSpec(key="left", type="python", depends_on=("choose",)),
                TaskSpec(key="right", type="python", depends_on=("choose",)),
                TaskSpec(key="both", type="python", depends_on=("left", "right")),
            ),
        ),
        {"python"},
    )


def test_branch_skips_the_downstream_it_did_not_follow() -> None:
    g = branch_graph()
    assert planner.branch_skips(g, "choose", ["left"]) == (["right"], [])
    assert planner.branch_skips(g, "choose", ["left", "right"]) == ([], [])
    assert planner.branch_skips(g, "choose", []) == (["left", "right"], [])


def test_branch_reports_keys_that_are_not_downstream() -> None:
    g = branch_graph()
    assert planner.branch_skips(g, "choose", ["left", "both", "nope"]) == (
        ["right"],
        ["both", "nope"],
    )


# -- run_final_state ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leaves", "expected"),
    [
        (["succeeded"], RunState.SUCCEEDED),
        (["succeeded", "skipped"], RunState.SUCCEEDED),
        (["skipped"], RunState.SUCCEEDED),
        (["succeeded", "failed"], RunState.FAILED),
        (["upstream_failed"], RunState.FAILED),
        (["cancelled", "succeeded"], RunState.FAILED),
        ([], RunState.SUCCEEDED),
    ],
)
def test_run_final_state_follows_the_leaves(leaves: list[str], expected: RunState) -> None:
    assert planner.run_final_state(False, leaves) is expected


def test_a_cancelling_run_ends_cancelled_whatever_its_leaves() -> None:
    assert planner.run_final_state(True, ["succeeded"]) is RunState.CANCELLED
    assert planner.run_final_state(True, ["failed"]) is RunState.CANCELLED


# -- mapping -----------------------------------------------------------------------------


def test_map_length_over_an_upstream_result() -> None:
    spec = TaskSpec(key="m", type="python", depends_on=("src",), map_over="src")
    assert planner.map_length(spec, {}, {"src": 4}) == 4
    assert planner.map_length(spec, {}, {"src": None}) is None
    assert planner.map_length(spec, {}, {}) is None
    assert planner.is_mapped(spec)


def test_map_length_over_items() -> None:
    def mapped(items: object) -> TaskSpec:
        return TaskSpec(key="m", type="python", config={"map_items": items})

    assert planner.map_length(mapped([1, 2, 3]), {}, {}) == 3
    assert planner.map_length(mapped([]), {}, {}) == 0
    assert planner.map_length(mapped(param_ref("xs")), {"xs": ["a", "b"]}, {}) == 2
    assert planner.map_length(mapped(param_ref("xs")), {"xs": "ab"}, {}) is None
    assert planner.map_length(mapped(param_ref("xs")), {}, {}) is None
    assert planner.map_length(mapped(ref("src")), {}, {"src": 5}) == 5
    assert planner.map_length(mapped("abc"), {}, {}) is None
    assert planner.is_mapped(mapped([1]))
    assert not planner.is_mapped(TaskSpec(key="m", type="python"))
