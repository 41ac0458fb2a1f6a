"""`@task(retry=Retry(...))`: the same policy as the retry keyword options, checked the same."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Retry
from baton.errors import DefinitionError
from baton.model.decorators import Task
from baton.model.retry import policy_fields
from baton.model.spec import RetryPolicy


def work() -> None:
    return None


def policy(**options: Any) -> RetryPolicy:
    retry = Task(work, **options).spec_fields["retry"]
    assert isinstance(retry, RetryPolicy)
    return retry


def test_a_retry_object_is_the_same_policy_as_the_options() -> None:
    as_object = policy(
        retry=Retry(retries=3, delay=1, backoff=2, max_delay=60, jitter=0.1, on=(OSError, "E"))
    )
    as_options = policy(
        retries=3,
        retry_delay=1,
        retry_backoff=2,
        max_retry_delay=60,
        retry_jitter=0.1,
        retry_on=(OSError, "E"),
    )
    assert (
        as_object
        == as_options
        == RetryPolicy(
            retries=3,
            delay=1,
            backoff=2,
            max_delay=60,
            jitter=0.1,
            retry_on=("builtins.OSError", "E"),
        )
    )
    assert policy(retry=Retry()) == policy() == RetryPolicy()
    assert policy(retry=Retry(backoff=True)).backoff == 2.0


def test_a_wrong_retry_object_fails_as_the_same_options_do() -> None:
    with pytest.raises(DefinitionError) as by_object:
        policy(retry=Retry(retries=-1))
    with pytest.raises(DefinitionError) as by_option:
        policy(retries=-1)
    assert str(by_object.value) == str(by_option.value)
    assert "retries" in str(by_object.value)


def test_a_retry_object_and_retry_options_together_are_refused() -> None:
    with pytest.raises(DefinitionError, match=r"either as retry=Retry\(...\).*retries, retry_on"):
        policy(retry=Retry(retries=1), retries=2, retry_on=[ValueError])


def test_retry_takes_only_a_retry_object() -> None:
    with pytest.raises(DefinitionError, match=r"retry must be a baton.Retry\(...\), not 3"):
        policy(retry=3)


def test_policy_fields_name_exception_types_and_read_a_boolean_backoff() -> None:
    fields = policy_fields(retry_backoff=False, retry_on=[KeyError, "x.Y"])
    assert fields["backoff"] == 1.0
    assert fields["retry_on"] == ["builtins.KeyError", "x.Y"]
