from __future__ import annotations

import pytest

from baton.errors import DefinitionError, InputError
from baton.model import durations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("15m", 900.0),
        ("6h", 21600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93784.0),
        ("1.5h", 5400.0),
        (" 6h ", 21600.0),
        (90, 90.0),
        (0.25, 0.25),
        ("90", 90.0),
        ("2.5", 2.5),
    ],
)
def test_spellings(value: object, seconds: float) -> None:
    assert durations.parse(value, "max_lag") == seconds


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "",
        "6 h",  # no space inside
        "6H",  # units are lower case, as in schedules' `every 15m`
        "1w",
        "-1s",
        "1m1h",  # units largest first
        "1h1h",
        "1e3",
        "h",
        ".5h",
        -1,
        -0.5,
        True,
        False,
        None,
        float("inf"),
        float("nan"),
        10**400,
        [6],
        {"h": 6},
    ],
)
def test_what_is_no_duration(value: object) -> None:
    with pytest.raises(DefinitionError, match=r"'freshness\.max_lag' must be a duration > 0"):
        durations.parse(value, "freshness.max_lag")


def test_the_error_names_the_field_the_value_and_the_spellings() -> None:
    with pytest.raises(DefinitionError) as caught:
        durations.parse("soon", "freshness.max_lag")
    assert str(caught.value) == (
        "'freshness.max_lag' must be a duration > 0 such as 30s, 15m, 6h, 1d, 1h30m or a number"
        " of seconds, got 'soon'"
    )


@pytest.mark.parametrize("value", [0, 0.0, "0", "0s", "0h0m"])
def test_zero_only_where_the_caller_allows_it(value: object) -> None:
    with pytest.raises(DefinitionError, match="> 0 "):
        durations.parse(value, "x")
    assert durations.parse(value, "x", allow_zero=True) == 0.0


def test_negative_is_refused_even_where_zero_is_allowed() -> None:
    with pytest.raises(DefinitionError, match=r">= 0 .* got -1"):
        durations.parse(-1, "x", allow_zero=True)


def test_a_hundred_years_at_most() -> None:
    assert durations.parse("36500d", "x") == durations.MAX_SECONDS
    with pytest.raises(DefinitionError, match=r"at most 100 years.* got '36501d'"):
        durations.parse("36501d", "x")


def test_the_error_class_is_the_callers_choice() -> None:
    with pytest.raises(InputError, match="'--since' must be a duration"):
        durations.parse("yesterday", "--since", error=InputError)


@pytest.mark.parametrize(
    ("seconds", "spelled"),
    [(30, "30s"), (900, "15m"), (5400, "1h30m"), (86400, "1d"), (93784, "1d2h3m4s"), (0.5, "0.5s")],
)
def test_spell_is_read_back(seconds: float, spelled: str) -> None:
    assert durations.spell(seconds) == spelled
    assert durations.parse(spelled, "x") == seconds
