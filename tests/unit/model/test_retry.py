from __future__ import annotations

import random

import pytest

from baton.model.retry import retry_delay, should_retry
from baton.model.spec import RetryPolicy
from baton.model.states import ErrorKind

USER = ErrorKind.USER
VALUE_ERROR = ("builtins.ValueError", "builtins.Exception", "builtins.BaseException")
KEY_ERROR = (
    "builtins.KeyError",
    "builtins.LookupError",
    "builtins.Exception",
    "builtins.BaseException",
)


def test_no_retries_by_default() -> None:
    assert not should_retry(RetryPolicy(), attempts=1, error_kind=USER)


@pytest.mark.parametrize("kind", [ErrorKind.USER, ErrorKind.TIMEOUT, ErrorKind.INTERNAL])
def test_retries_count_failed_attempts(kind: ErrorKind) -> None:
    policy = RetryPolicy(retries=2)
    assert should_retry(policy, attempts=1, error_kind=kind)
    assert should_retry(policy, attempts=2, error_kind=kind)
    assert not should_retry(policy, attempts=3, error_kind=kind)


def test_a_lost_attempt_gets_one_retry_more() -> None:
    assert should_retry(RetryPolicy(), attempts=1, error_kind=ErrorKind.LOST)
    assert not should_retry(RetryPolicy(), attempts=2, error_kind=ErrorKind.LOST)
    policy = RetryPolicy(retries=2)
    assert should_retry(policy, attempts=3, error_kind=ErrorKind.LOST)
    assert not should_retry(policy, attempts=4, error_kind=ErrorKind.LOST)


@pytest.mark.parametrize("kind", [ErrorKind.CANCELLED, ErrorKind.UPSTREAM])
def test_cancelled_and_upstream_are_never_retried(kind: ErrorKind) -> None:
    assert not should_retry(RetryPolicy(retries=5), attempts=1, error_kind=kind)


@pytest.mark.parametrize(
    ("retry_on", "error_types", "expected"),
    [
        (("ValueError",), VALUE_ERROR, True),
        (("builtins.ValueError",), VALUE_ERROR, True),
        (("Exception",), VALUE_ERROR, True),  # a base class in the MRO matches
        (("ValueError",), KEY_ERROR, False),
        (("LookupError", "TypeError"), KEY_ERROR, True),
        (("mymod.Boom",), ("mymod.Boom", "builtins.Exception"), True),
        (("othermod.Boom",), ("mymod.Boom", "builtins.Exception"), False),
        (("Boom",), ("mymod.Boom", "builtins.Exception"), True),
        (("ValueError",), (), False),
    ],
)
def test_retry_on_matches_simple_or_qualified_names(
    retry_on: tuple[str, ...], error_types: tuple[str, ...], expected: bool
) -> None:
    policy = RetryPolicy(retries=3, retry_on=retry_on)
    assert should_retry(policy, attempts=1, error_kind=USER, error_types=error_types) is expected


def test_retry_on_still_respects_the_count() -> None:
    policy = RetryPolicy(retries=1, retry_on=("ValueError",))
    assert should_retry(policy, attempts=1, error_kind=USER, error_types=VALUE_ERROR)
    assert not should_retry(policy, attempts=2, error_kind=USER, error_types=VALUE_ERROR)


def test_fixed_delay() -> None:
    policy = RetryPolicy(retries=3, delay=5)
    rng = random.Random(0)
    assert [retry_delay(policy, n, rng) for n in (1, 2, 3)] == [5, 5, 5]


def test_exponential_backoff() -> None:
    policy = RetryPolicy(retries=5, delay=1.5, backoff=2)
    rng = random.Random(0)
    assert [retry_delay(policy, n, rng) for n in (1, 2, 3, 4)] == [1.5, 3, 6, 12]


def test_backoff_capped_by_max_delay() -> None:
    policy = RetryPolicy(retries=10, delay=1, backoff=3, max_delay=20)
    rng = random.Random(0)
    assert [retry_delay(policy, n, rng) for n in (1, 2, 3, 4, 8)] == [1, 3, 9, 20, 20]


def test_zero_delay() -> None:
    assert retry_delay(RetryPolicy(retries=1), 1, random.Random(0)) == 0


def test_jitter_stays_within_bounds_and_varies() -> None:
    policy = RetryPolicy(retries=3, delay=10, jitter=0.25)
    rng = random.Random(42)
    delays = [retry_delay(policy, 1, rng) for _ in range(500)]
    assert all(7.5 <= d <= 12.5 for d in delays)
    assert min(delays) < 8.5
    assert max(delays) > 11.5
    assert len(set(delays)) > 100


def test_jitter_applies_after_the_cap() -> None:
    policy = RetryPolicy(retries=10, delay=1, backoff=10, max_delay=100, jitter=0.1)
    rng = random.Random(7)
    delays = [retry_delay(policy, 6, rng) for _ in range(200)]
    assert all(90 <= d <= 110 for d in delays)


def test_jitter_is_reproducible_with_a_seed() -> None:
    policy = RetryPolicy(retries=3, delay=10, jitter=0.5)
    first = [retry_delay(policy, n, random.Random(3)) for n in (1, 2, 3)]
    second = [retry_delay(policy, n, random.Random(3)) for n in (1, 2, 3)]
    assert first == second
