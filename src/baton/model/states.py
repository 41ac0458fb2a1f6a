"""Every state a Run, TaskRun or Attempt can be in, and every transition allowed between them.

These tables are the only place that says which transitions are legal. The store's write
paths (`Tx.move_run`, `Tx.move_tasks`, `Tx.move_attempts`) check them and compare-and-set on
the allowed source states, so a forbidden transition raises instead of silently winning.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    RETRY_WAIT = "retry_wait"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"


class RunState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class AttemptState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # deferred (a sensor between pokes, a flow task awaiting its run)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class ErrorKind(StrEnum):
    """Why an attempt failed: the user's code, or the infrastructure around it."""

    USER = "user"
    TIMEOUT = "timeout"
    LOST = "lost"
    UPSTREAM = "upstream"
    CANCELLED = "cancelled"
    INTERNAL = "internal"
    CHECK = "check"  # an `error` data-quality check of an asset it wrote failed
    REJECTED = "rejected"  # an approval task's approver said no (`baton.tasks.approval`)


TASK_TERMINAL = frozenset(
    {
        TaskState.SUCCEEDED,
        TaskState.FAILED,
        TaskState.SKIPPED,
        TaskState.UPSTREAM_FAILED,
        TaskState.CANCELLED,
    }
)
RUN_TERMINAL = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})
ATTEMPT_TERMINAL = frozenset(AttemptState) - {AttemptState.RUNNING, AttemptState.WAITING}

_T = TaskState
TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    _T.PENDING: frozenset({_T.QUEUED, _T.SKIPPED, _T.UPSTREAM_FAILED, _T.CANCELLED, _T.FAILED}),
    _T.QUEUED: frozenset({_T.RUNNING, _T.SKIPPED, _T.CANCELLED, _T.FAILED}),
    _T.RUNNING: frozenset(
        {
            _T.QUEUED,  # handed back by a worker that is stopping
            _T.SUCCEEDED,
            _T.FAILED,
            _T.SKIPPED,
            _T.RETRY_WAIT,
            _T.WAITING,
            _T.CANCELLED,
        }
    ),
    _T.RETRY_WAIT: frozenset({_T.QUEUED, _T.CANCELLED}),
    _T.WAITING: frozenset({_T.QUEUED, _T.SUCCEEDED, _T.FAILED, _T.CANCELLED}),
    _T.SUCCEEDED: frozenset(),
    _T.FAILED: frozenset(),
    _T.SKIPPED: frozenset(),
    _T.UPSTREAM_FAILED: frozenset(),
    _T.CANCELLED: frozenset(),
}

_R = RunState
RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    _R.SCHEDULED: frozenset({_R.QUEUED, _R.RUNNING, _R.CANCELLING, _R.CANCELLED}),
    _R.QUEUED: frozenset({_R.RUNNING, _R.CANCELLING, _R.CANCELLED}),
    _R.RUNNING: frozenset({_R.SUCCEEDED, _R.FAILED, _R.CANCELLING, _R.CANCELLED}),
    _R.CANCELLING: frozenset({_R.CANCELLED}),
    _R.SUCCEEDED: frozenset(),
    _R.FAILED: frozenset(),
    _R.CANCELLED: frozenset(),
}

_A = AttemptState
ATTEMPT_TRANSITIONS: dict[AttemptState, frozenset[AttemptState]] = {
    _A.RUNNING: frozenset(
        {
            _A.SUCCEEDED,
            _A.FAILED,
            _A.SKIPPED,
            _A.WAITING,  # deferred: the same attempt goes on at its next claim
            _A.CANCELLED,  # stopped with its run, or handed back by a stopping worker
        }
    ),
    _A.WAITING: frozenset({_A.RUNNING, _A.CANCELLED}),
    _A.SUCCEEDED: frozenset(),
    _A.FAILED: frozenset(),
    _A.SKIPPED: frozenset(),
    _A.CANCELLED: frozenset(),
}


def task_sources(target: TaskState) -> frozenset[TaskState]:
    """The states a TaskRun may move to `target` from."""
    return _TASK_SOURCES[target]


def run_sources(target: RunState) -> frozenset[RunState]:
    """The states a Run may move to `target` from."""
    return _RUN_SOURCES[target]


def attempt_sources(target: AttemptState) -> frozenset[AttemptState]:
    """The states an Attempt may move to `target` from."""
    return _ATTEMPT_SOURCES[target]


_TASK_SOURCES = {
    t: frozenset(s for s, targets in TASK_TRANSITIONS.items() if t in targets) for t in TaskState
}
_RUN_SOURCES = {
    t: frozenset(s for s, targets in RUN_TRANSITIONS.items() if t in targets) for t in RunState
}
_ATTEMPT_SOURCES = {
    t: frozenset(s for s, targets in ATTEMPT_TRANSITIONS.items() if t in targets)
    for t in AttemptState
}
