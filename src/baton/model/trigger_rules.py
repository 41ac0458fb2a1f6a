"""Trigger rules, with Airflow's names and semantics (skip propagation included).

A task's upstream outcomes are kept as counters (see `UpstreamCounts`), so deciding whether a
task can run is O(1) and never re-scans the DAG. `evaluate` is called each time a counter
changes and may decide early: one failed upstream is enough to mark an `all_success` task
upstream_failed, one success is enough to start a `one_success` task.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class TriggerRule(StrEnum):
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


class Decision(StrEnum):
    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


class UpstreamCounts(NamedTuple):
    """How many upstream task runs ended in each terminal state (cancelled counts as failed)."""

    total: int
    success: int = 0
    failed: int = 0
    upstream_failed: int = 0
    skipped: int = 0

    @property
    def done(self) -> int:
        return self.success + self.failed + self.upstream_failed + self.skipped


def evaluate(rule: TriggerRule, c: UpstreamCounts) -> Decision:
    """What to do with a not-yet-started task given its upstream outcomes so far."""
    if c.total == 0 or rule is TriggerRule.ALWAYS:
        return Decision.RUN
    all_done = c.done >= c.total
    failures = c.failed + c.upstream_failed
    match rule:
        case TriggerRule.ALL_SUCCESS:
            if failures:
                return Decision.UPSTREAM_FAILED
            if c.skipped:
                return Decision.SKIP
            return Decision.RUN if c.success >= c.total else Decision.WAIT
        case TriggerRule.ALL_FAILED:
            if c.success or c.skipped:
                return Decision.SKIP
            return Decision.RUN if failures >= c.total else Decision.WAIT
        case TriggerRule.ALL_DONE:
            return Decision.RUN if all_done else Decision.WAIT
        case TriggerRule.ALL_SKIPPED:
            if c.success or failures:
                return Decision.SKIP
            return Decision.RUN if c.skipped >= c.total else Decision.WAIT
        case TriggerRule.ONE_SUCCESS:
            if c.success:
                return Decision.RUN
            if all_done:
                return Decision.SKIP if c.done == c.skipped else Decision.UPSTREAM_FAILED
            return Decision.WAIT
        case TriggerRule.ONE_FAILED:
            if failures:
                return Decision.RUN
            return Decision.SKIP if all_done else Decision.WAIT
        case TriggerRule.ONE_DONE:
            if c.success or c.failed:
                return Decision.RUN
            return Decision.SKIP if all_done else Decision.WAIT
        case TriggerRule.NONE_FAILED:
            if failures:
                return Decision.UPSTREAM_FAILED
            return Decision.RUN if all_done else Decision.WAIT
        case TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:
            if failures:
                return Decision.UPSTREAM_FAILED
            if not all_done:
                return Decision.WAIT
            return Decision.SKIP if c.skipped >= c.total else Decision.RUN
        case TriggerRule.NONE_SKIPPED:
            if c.skipped:
                return Decision.SKIP
            return Decision.RUN if all_done else Decision.WAIT
    raise AssertionError(f"unhandled trigger rule {rule}")  # pragma: no cover
