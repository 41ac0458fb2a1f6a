from __future__ import annotations

import pytest

from baton.model.states import (
    ATTEMPT_TERMINAL,
    ATTEMPT_TRANSITIONS,
    RUN_TERMINAL,
    RUN_TRANSITIONS,
    TASK_TERMINAL,
    TASK_TRANSITIONS,
    AttemptState,
    RunState,
    TaskState,
    attempt_sources,
    run_sources,
    task_sources,
)

T, R = TaskState, RunState


def test_every_state_has_a_row() -> None:
    assert set(TASK_TRANSITIONS) == set(TaskState)
    assert set(RUN_TRANSITIONS) == set(RunState)


def test_terminal_sets_match_the_design() -> None:
    assert {T.SUCCEEDED, T.FAILED, T.SKIPPED, T.UPSTREAM_FAILED, T.CANCELLED} == TASK_TERMINAL
    assert {R.SUCCEEDED, R.FAILED, R.CANCELLED} == RUN_TERMINAL
    assert set(AttemptState) - {AttemptState.RUNNING, AttemptState.WAITING} == ATTEMPT_TERMINAL


@pytest.mark.parametrize("state", sorted(TASK_TERMINAL))
def test_a_terminal_task_state_has_no_exit(state: TaskState) -> None:
    assert TASK_TRANSITIONS[state] == frozenset()


@pytest.mark.parametrize("state", sorted(RUN_TERMINAL))
def test_a_terminal_run_state_has_no_exit(state: RunState) -> None:
    assert RUN_TRANSITIONS[state] == frozenset()


def test_non_terminal_states_have_an_exit() -> None:
    for s in set(TaskState) - TASK_TERMINAL:
        assert TASK_TRANSITIONS[s], s
    for r in set(RunState) - RUN_TERMINAL:
        assert RUN_TRANSITIONS[r], r


def test_every_non_terminal_state_can_be_cancelled() -> None:
    for s in set(TaskState) - TASK_TERMINAL:
        assert T.CANCELLED in TASK_TRANSITIONS[s], s
    for r in set(RunState) - RUN_TERMINAL - {R.CANCELLING}:
        assert R.CANCELLING in RUN_TRANSITIONS[r], r
    assert RUN_TRANSITIONS[R.CANCELLING] == {R.CANCELLED}


def test_no_self_transitions() -> None:
    for s, targets in TASK_TRANSITIONS.items():
        assert s not in targets
    for r, run_targets in RUN_TRANSITIONS.items():
        assert r not in run_targets


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (T.PENDING, T.QUEUED),
        (T.QUEUED, T.RUNNING),
        (T.RUNNING, T.SUCCEEDED),
        (T.RUNNING, T.FAILED),
        (T.RUNNING, T.RETRY_WAIT),
        (T.RETRY_WAIT, T.QUEUED),
        (T.RUNNING, T.WAITING),
        (T.WAITING, T.QUEUED),
        (T.PENDING, T.SKIPPED),
        (T.PENDING, T.UPSTREAM_FAILED),
    ],
)
def test_the_walk_of_a_task_is_allowed(frm: TaskState, to: TaskState) -> None:
    assert to in TASK_TRANSITIONS[frm]


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (T.PENDING, T.RUNNING),  # must be queued (claimed) first
        (T.PENDING, T.SUCCEEDED),
        (T.QUEUED, T.SUCCEEDED),
        (T.RETRY_WAIT, T.RUNNING),
        (T.QUEUED, T.PENDING),
    ],
)
def test_shortcuts_are_forbidden(frm: TaskState, to: TaskState) -> None:
    assert to not in TASK_TRANSITIONS[frm]


def test_the_walk_of_a_run_is_allowed() -> None:
    assert R.QUEUED in RUN_TRANSITIONS[R.SCHEDULED]
    assert R.RUNNING in RUN_TRANSITIONS[R.QUEUED]
    assert {R.SUCCEEDED, R.FAILED, R.CANCELLING} <= RUN_TRANSITIONS[R.RUNNING]
    assert R.SUCCEEDED not in RUN_TRANSITIONS[R.CANCELLING]


@pytest.mark.parametrize("target", list(TaskState))
def test_task_sources_invert_the_table(target: TaskState) -> None:
    expected = {s for s, targets in TASK_TRANSITIONS.items() if target in targets}
    assert task_sources(target) == expected
    for s in TaskState:
        assert (s in task_sources(target)) == (target in TASK_TRANSITIONS[s])


@pytest.mark.parametrize("target", list(RunState))
def test_run_sources_invert_the_table(target: RunState) -> None:
    expected = {s for s, targets in RUN_TRANSITIONS.items() if target in targets}
    assert run_sources(target) == expected


def test_nothing_leads_back_to_pending_or_scheduled() -> None:
    assert task_sources(T.PENDING) == frozenset()
    assert run_sources(R.SCHEDULED) == frozenset()


def test_states_are_their_string_values() -> None:
    assert T.UPSTREAM_FAILED == "upstream_failed"
    assert R.CANCELLING == "cancelling"
    assert T("retry_wait") is T.RETRY_WAIT


A = AttemptState


def test_every_attempt_state_has_a_row() -> None:
    assert set(ATTEMPT_TRANSITIONS) == set(AttemptState)


@pytest.mark.parametrize("state", sorted(ATTEMPT_TERMINAL))
def test_a_terminal_attempt_state_has_no_exit(state: AttemptState) -> None:
    assert ATTEMPT_TRANSITIONS[state] == frozenset()


def test_an_ongoing_attempt_can_be_cancelled() -> None:
    for s in set(AttemptState) - ATTEMPT_TERMINAL:
        assert A.CANCELLED in ATTEMPT_TRANSITIONS[s], s


def test_no_attempt_self_transitions() -> None:
    for s, targets in ATTEMPT_TRANSITIONS.items():
        assert s not in targets


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (A.RUNNING, A.SUCCEEDED),  # a completion
        (A.RUNNING, A.FAILED),  # a failure, or lost
        (A.RUNNING, A.SKIPPED),
        (A.RUNNING, A.CANCELLED),  # cancelled, or handed back
        (A.RUNNING, A.WAITING),  # deferred
        (A.WAITING, A.RUNNING),  # resumed by a claim
        (A.WAITING, A.CANCELLED),  # its task run cancelled while waiting
    ],
)
def test_the_walk_of_an_attempt_is_allowed(frm: AttemptState, to: AttemptState) -> None:
    assert to in ATTEMPT_TRANSITIONS[frm]


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (A.SUCCEEDED, A.FAILED),  # a late report changes nothing
        (A.FAILED, A.SUCCEEDED),
        (A.CANCELLED, A.RUNNING),
        (A.WAITING, A.SUCCEEDED),  # a waiting attempt ends only after it runs again
    ],
)
def test_attempt_shortcuts_are_forbidden(frm: AttemptState, to: AttemptState) -> None:
    assert to not in ATTEMPT_TRANSITIONS[frm]


@pytest.mark.parametrize("target", list(AttemptState))
def test_attempt_sources_invert_the_table(target: AttemptState) -> None:
    for s in AttemptState:
        assert (s in attempt_sources(target)) == (target in ATTEMPT_TRANSITIONS[s])
