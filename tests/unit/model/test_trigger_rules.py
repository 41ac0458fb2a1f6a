"""`evaluate` checked against an oracle written from Airflow's TriggerRuleDep, not from ours.

Airflow decides in two steps: first, with `flag_upstream_failed`, it may set the task
`skipped` or `upstream_failed` without running it; then the dependency "passes" (the task
runs) only when the rule's run condition holds. Anything else waits. The oracle below keeps
that two-step shape, so it shares no code path with `trigger_rules.evaluate`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import NamedTuple

import pytest

from baton.model.trigger_rules import Decision, TriggerRule, UpstreamCounts, evaluate

R = TriggerRule
RUN, WAIT, SKIP, UF = Decision.RUN, Decision.WAIT, Decision.SKIP, Decision.UPSTREAM_FAILED


class Up(NamedTuple):
    """Upstream outcomes as Airflow counts them; `running` are not finished yet."""

    success: int
    failed: int
    upstream_failed: int
    skipped: int
    running: int

    @property
    def upstream(self) -> int:
        return sum(self)

    @property
    def done(self) -> bool:
        return self.running == 0


Cond = Callable[[Up], bool]

# Step 1: states Airflow sets without running the task, first match wins.
AIRFLOW_SETS: dict[TriggerRule, list[tuple[Cond, Decision]]] = {
    R.ALL_SUCCESS: [
        (lambda u: u.failed > 0 or u.upstream_failed > 0, UF),
        (lambda u: u.skipped > 0, SKIP),
    ],
    R.ALL_FAILED: [(lambda u: u.success > 0 or u.skipped > 0, SKIP)],
    R.ALL_DONE: [],
    R.ALL_SKIPPED: [(lambda u: u.success + u.failed + u.upstream_failed > 0, SKIP)],
    R.ONE_SUCCESS: [
        (lambda u: u.done and u.skipped == u.upstream, SKIP),
        (lambda u: u.done and u.success == 0, UF),
    ],
    R.ONE_FAILED: [(lambda u: u.done and u.failed + u.upstream_failed == 0, SKIP)],
    R.ONE_DONE: [(lambda u: u.done and u.failed + u.success == 0, SKIP)],
    R.NONE_FAILED: [(lambda u: u.failed > 0 or u.upstream_failed > 0, UF)],
    R.NONE_FAILED_MIN_ONE_SUCCESS: [
        (lambda u: u.failed > 0 or u.upstream_failed > 0, UF),
        (lambda u: u.skipped == u.upstream, SKIP),
    ],
    R.NONE_SKIPPED: [(lambda u: u.skipped > 0, SKIP)],
    R.ALWAYS: [],
}

# Step 2: when the dependency passes and the task runs.
AIRFLOW_PASSES: dict[TriggerRule, Cond] = {
    R.ALL_SUCCESS: lambda u: u.upstream - u.success == 0,
    R.ALL_FAILED: lambda u: u.upstream - u.failed - u.upstream_failed == 0,
    R.ALL_DONE: lambda u: u.done,
    R.ALL_SKIPPED: lambda u: u.upstream - u.skipped == 0,
    R.ONE_SUCCESS: lambda u: u.success > 0,
    R.ONE_FAILED: lambda u: u.failed + u.upstream_failed > 0,
    R.ONE_DONE: lambda u: u.success + u.failed > 0,
    R.NONE_FAILED: lambda u: u.upstream - u.success - u.skipped == 0,
    R.NONE_FAILED_MIN_ONE_SUCCESS: lambda u: u.upstream - u.success - u.skipped == 0,
    R.NONE_SKIPPED: lambda u: u.done and u.skipped == 0,
    R.ALWAYS: lambda u: True,
}


def airflow(rule: TriggerRule, up: Up) -> Decision:
    if up.upstream == 0:
        return RUN  # Airflow: a task without upstream passes the dependency
    for condition, decision in AIRFLOW_SETS[rule]:
        if condition(up):
            return decision
    return RUN if AIRFLOW_PASSES[rule](up) else WAIT


def ours(rule: TriggerRule, up: Up) -> Decision:
    counts = UpstreamCounts(
        total=up.upstream,
        success=up.success,
        failed=up.failed,
        upstream_failed=up.upstream_failed,
        skipped=up.skipped,
    )
    return evaluate(rule, counts)


def outcomes(total: int) -> list[Up]:
    """Every way `total` upstreams can be split over the four terminal states and running."""
    return [
        Up(*split, running=total - sum(split))
        for split in itertools.product(range(total + 1), repeat=4)
        if sum(split) <= total
    ]


def test_outcomes_enumerates_every_split() -> None:
    # Compositions of n into 5 parts: C(n + 4, 4).
    assert [len(outcomes(n)) for n in range(5)] == [1, 5, 15, 35, 70]


def test_the_oracle_covers_every_rule() -> None:
    assert set(AIRFLOW_SETS) == set(AIRFLOW_PASSES) == set(TriggerRule)
    assert len(TriggerRule) == 11


@pytest.mark.parametrize("total", [1, 2, 3, 4])
@pytest.mark.parametrize("rule", list(TriggerRule))
def test_evaluate_matches_airflow(rule: TriggerRule, total: int) -> None:
    mismatches = {
        up: (ours(rule, up), airflow(rule, up))
        for up in outcomes(total)
        if ours(rule, up) != airflow(rule, up)
    }
    assert mismatches == {}, "(ours, airflow) per upstream outcome"


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_a_task_without_upstream_runs(rule: TriggerRule) -> None:
    assert evaluate(rule, UpstreamCounts(total=0)) is RUN


@pytest.mark.parametrize("total", [1, 2, 3])
@pytest.mark.parametrize("rule", list(TriggerRule))
def test_every_rule_decides_once_all_upstreams_are_done(rule: TriggerRule, total: int) -> None:
    # A task left waiting after its last upstream finished would hang the run.
    for up in outcomes(total):
        if up.done:
            assert ours(rule, up) is not WAIT, up


# Readable examples with two upstreams: (success, failed, upstream_failed, skipped) -> decision.
EXAMPLES: list[tuple[TriggerRule, tuple[int, int, int, int], Decision]] = [
    (R.ALL_SUCCESS, (2, 0, 0, 0), RUN),
    (R.ALL_SUCCESS, (1, 0, 0, 0), WAIT),
    (R.ALL_SUCCESS, (0, 1, 0, 0), UF),  # decided early, the other is still running
    (R.ALL_SUCCESS, (0, 0, 1, 0), UF),
    (R.ALL_SUCCESS, (0, 0, 0, 1), SKIP),  # skip propagates
    (R.ALL_SUCCESS, (0, 1, 0, 1), UF),  # a failure outweighs a skip
    (R.ALL_FAILED, (0, 2, 0, 0), RUN),
    (R.ALL_FAILED, (0, 1, 1, 0), RUN),
    (R.ALL_FAILED, (0, 1, 0, 0), WAIT),
    (R.ALL_FAILED, (1, 0, 0, 0), SKIP),
    (R.ALL_FAILED, (0, 1, 0, 1), SKIP),
    (R.ALL_DONE, (1, 1, 0, 0), RUN),
    (R.ALL_DONE, (0, 0, 1, 1), RUN),
    (R.ALL_DONE, (0, 1, 0, 0), WAIT),
    (R.ALL_SKIPPED, (0, 0, 0, 2), RUN),
    (R.ALL_SKIPPED, (0, 0, 0, 1), WAIT),
    (R.ALL_SKIPPED, (1, 0, 0, 0), SKIP),
    (R.ALL_SKIPPED, (0, 0, 1, 0), SKIP),
    (R.ONE_SUCCESS, (1, 0, 0, 0), RUN),
    (R.ONE_SUCCESS, (0, 1, 0, 0), WAIT),
    (R.ONE_SUCCESS, (0, 1, 0, 1), UF),
    (R.ONE_SUCCESS, (0, 0, 1, 1), UF),
    (R.ONE_SUCCESS, (0, 0, 0, 2), SKIP),
    (R.ONE_FAILED, (0, 1, 0, 0), RUN),
    (R.ONE_FAILED, (0, 0, 1, 0), RUN),
    (R.ONE_FAILED, (1, 0, 0, 0), WAIT),
    (R.ONE_FAILED, (1, 0, 0, 1), SKIP),
    (R.ONE_DONE, (1, 0, 0, 0), RUN),
    (R.ONE_DONE, (0, 1, 0, 0), RUN),
    (R.ONE_DONE, (0, 0, 1, 0), WAIT),  # upstream_failed is not "done" for one_done
    (R.ONE_DONE, (0, 0, 1, 1), SKIP),
    (R.NONE_FAILED, (1, 0, 0, 1), RUN),
    (R.NONE_FAILED, (0, 0, 0, 2), RUN),
    (R.NONE_FAILED, (1, 0, 0, 0), WAIT),
    (R.NONE_FAILED, (0, 0, 1, 0), UF),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, (1, 0, 0, 1), RUN),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, (0, 0, 0, 1), WAIT),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, (0, 0, 0, 2), SKIP),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, (0, 1, 0, 0), UF),
    (R.NONE_SKIPPED, (1, 1, 0, 0), RUN),
    (R.NONE_SKIPPED, (0, 0, 2, 0), RUN),
    (R.NONE_SKIPPED, (1, 0, 0, 0), WAIT),
    (R.NONE_SKIPPED, (0, 0, 0, 1), SKIP),
    (R.ALWAYS, (0, 0, 0, 0), RUN),
    (R.ALWAYS, (0, 2, 0, 0), RUN),
]


@pytest.mark.parametrize(("rule", "counts", "expected"), EXAMPLES)
def test_examples_with_two_upstreams(
    rule: TriggerRule, counts: tuple[int, int, int, int], expected: Decision
) -> None:
    success, failed, upstream_failed, skipped = counts
    c = UpstreamCounts(2, success, failed, upstream_failed, skipped)
    assert evaluate(rule, c) is expected
    assert airflow(rule, Up(*counts, running=2 - sum(counts))) is expected  # the oracle too


def test_examples_cover_every_rule() -> None:
    assert {rule for rule, _, _ in EXAMPLES} == set(TriggerRule)
