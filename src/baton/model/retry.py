"""Retry policies: made from a task's options (the one place for both Python and YAML), and
the decisions they drive: whether a failed attempt is retried, and after how long."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from baton.model.spec import RetryPolicy
from baton.model.states import ErrorKind

# The task options (Python keyword arguments, YAML fields) that make a task's retry policy.
RETRY_OPTIONS = (
    "retries",
    "retry_delay",
    "retry_backoff",
    "max_retry_delay",
    "retry_jitter",
    "retry_on",
)


@dataclass(frozen=True, kw_only=True)
class Retry:
    """A task's retry policy as one object: `@task(retry=Retry(retries=3, delay=1))`.

    The same as the options retries, retry_delay, retry_backoff, max_retry_delay,
    retry_jitter and retry_on (which a task given `retry=` must not also have), and checked
    as they are when the task is defined: `retries` more attempts after a failure, the n-th
    waiting `delay * backoff ** (n - 1)` seconds (backoff True means 2), capped at
    `max_delay`, spread by up to `jitter` (a fraction) either way; `on` limits retries to
    those exception types (or type names).
    """

    retries: int = 0
    delay: float = 0.0
    backoff: float | bool = 1.0
    max_delay: float | None = None
    jitter: float = 0.0
    on: Iterable[type[BaseException] | str] = ()

    def options(self) -> dict[str, Any]:
        """The same policy as task options."""
        return {
            "retries": self.retries,
            "retry_delay": self.delay,
            "retry_backoff": self.backoff,
            "max_retry_delay": self.max_delay,
            "retry_jitter": self.jitter,
            "retry_on": self.on,
        }


def policy_fields(
    *,
    retries: Any = 0,
    retry_delay: Any = 0.0,
    retry_backoff: Any = 1.0,
    max_retry_delay: Any = None,
    retry_jitter: Any = 0.0,
    retry_on: Iterable[Any] = (),
) -> dict[str, Any]:
    """The fields of a RetryPolicy from the retry options, not yet validated (the caller
    does, to word errors its own way: a YAML field and line, a Python option).

    `retry_backoff` True reads naturally as "exponential", i.e. doubling (False: constant);
    an exception type in `retry_on` becomes its qualified name.
    """
    backoff = 2.0 if retry_backoff is True else 1.0 if retry_backoff is False else retry_backoff
    return {
        "retries": retries,
        "delay": retry_delay,
        "backoff": backoff,
        "max_delay": max_retry_delay,
        "jitter": retry_jitter,
        "retry_on": [
            r if isinstance(r, str) else f"{r.__module__}.{r.__qualname__}" for r in retry_on
        ],
    }


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
