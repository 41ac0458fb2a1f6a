"""Retry decisions: whether a failed attempt is retried, and after how long."""

from __future__ import annotations

import random

from baton.model.spec import RetryPolicy
from baton.model.states import ErrorKind

# An attempt lost with its worker is not the task's fault, so it gets one retry more than
# the policy grants: a task with retries=0 still survives one crash of the process running it.
LOST_EXTRA_RETRIES = 1


def should_retry(
    policy: RetryPolicy,
    *,
    attempts: int,
    error_kind: ErrorKind,
    error_types: tuple[str, ...] = (),
) -> bool:
    """Whether the attempt numbered `attempts` (1-based) that just failed gets another try.

    `error_types` are the qualified names of the exception's classes (its MRO), matched
    against `policy.retry_on` by full or simple name.
    """
    if error_kind in (ErrorKind.CANCELLED, ErrorKind.UPSTREAM):
        return False
    allowed = policy.retries + (LOST_EXTRA_RETRIES if error_kind is ErrorKind.LOST else 0)
    if attempts > allowed:
        return False
    if policy.retry_on and error_kind is ErrorKind.USER:
        names = set(error_types) | {t.rsplit(".", 1)[-1] for t in error_types}
        return any(r in names for r in policy.retry_on)
    return True


def retry_delay(policy: RetryPolicy, attempts: int, rng: random.Random) -> float:
    """Seconds to wait before the retry that follows failed attempt number `attempts`."""
    delay = policy.delay * policy.backoff ** (attempts - 1)
    if policy.max_delay is not None:
        delay = min(delay, policy.max_delay)
    if policy.jitter:
        delay *= 1 + rng.uniform(-policy.jitter, policy.jitter)
    return max(delay, 0.0)
