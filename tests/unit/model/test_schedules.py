from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from baton.errors import DefinitionError
from baton.model.schedules import (
    ALIASES,
    DataInterval,
    Schedule,
    parse_schedule,
)
from baton.model.triggers import validate_triggers

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
TICK = timedelta(microseconds=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """`count` fire times after `after`, by repeated next_after."""
    out: list[datetime] = []
    t: datetime | None = after
    for _ in range(count):
        assert t is not None
        t = schedule.next_after(t)
        assert t is not None
        out.append(t)
    return out


def fires_between(schedule: Schedule, low: datetime, high: datetime) -> list[datetime]:
    out: list[datetime] = []
    t = schedule.next_after(low)
    while t is not None and t <= high:
        out.append(t)
        t = schedule.next_after(t)
    return out


# -- cron and aliases --------------------------------------------------------------------------

WED = utc(2024, 5, 15, 10, 20)  # a Wednesday


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@hourly", utc(2024, 5, 15, 11)),
        ("@daily", utc(2024, 5, 16)),
        ("@midnight", utc(2024, 5, 16)),
        ("@weekly", utc(2024, 5, 19)),  # Sunday
        ("@monthly", utc(2024, 6, 1)),
        ("@yearly", utc(2025, 1, 1)),
        ("@annually", utc(2025, 1, 1)),
        ("@DAILY", utc(2024, 5, 16)),
    ],
)
def test_every_alias(alias: str, expected: datetime) -> None:
    assert Schedule(alias).next_after(WED) == expected


def test_every_alias_is_tested() -> None:
    tested = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
    assert set(ALIASES) == tested


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 3 * * *", utc(2024, 1, 1), [utc(2024, 1, 1, 3), utc(2024, 1, 2, 3)]),
        ("0 3 * * *", utc(2024, 1, 1, 3), [utc(2024, 1, 2, 3), utc(2024, 1, 3, 3)]),  # strictly
        ("*/15 * * * *", utc(2024, 1, 1, 0, 7), [utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30)]),
        ("0 9 * * 1-5", utc(2024, 1, 5, 10), [utc(2024, 1, 8, 9), utc(2024, 1, 9, 9)]),  # Fri
        ("0 0 29 2 *", utc(2024, 3, 1), [utc(2028, 2, 29), utc(2032, 2, 29)]),
    ],
)
def test_cron_fire_times(expression: str, after: datetime, expected: list[datetime]) -> None:
    assert fires(Schedule(expression), after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "t", "expected"),
    [
        ("0 3 * * *", utc(2024, 1, 2, 3), utc(2024, 1, 2, 3)),  # at
        ("0 3 * * *", utc(2024, 1, 2, 2, 59), utc(2024, 1, 1, 3)),
        ("every 15m", utc(2024, 1, 1, 0, 44), utc(2024, 1, 1, 0, 30)),
        ("every 15m", utc(2024, 1, 1, 0, 45), utc(2024, 1, 1, 0, 45)),
    ],
)
def test_previous_at_or_before(expression: str, t: datetime, expected: datetime) -> None:
    assert Schedule(expression).previous_at_or_before(t) == expected


def test_inputs_in_any_zone_outputs_in_utc() -> None:
    t = datetime(2024, 1, 1, 4, 0, tzinfo=ZoneInfo(PARIS))  # 03:00Z
    fire = Schedule("0 3 * * *").next_after(t)
    assert fire == utc(2024, 1, 2, 3)
    assert fire is not None and fire.tzinfo is UTC


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        Schedule("@daily").next_after(datetime(2024, 1, 1))


# -- time zones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2024, 1, 15), utc(2024, 1, 15, 14)),  # EST, UTC-5
        (utc(2024, 7, 15), utc(2024, 7, 15, 13)),  # EDT, UTC-4
        (utc(2024, 3, 8, 15), utc(2024, 3, 11, 13)),  # Fri -> Mon, across the spring change
    ],
)
def test_cron_in_new_york_gives_the_right_utc_instants(after: datetime, expected: datetime) -> None:
    assert Schedule("0 9 * * 1-5", timezone=NEW_YORK).next_after(after) == expected


def test_local_midnight_in_new_york() -> None:
    schedule = Schedule("@daily", timezone=NEW_YORK)
    assert fires(schedule, utc(2024, 11, 2), 3) == [
        utc(2024, 11, 2, 4),  # EDT
        utc(2024, 11, 3, 4),  # the change is at 02:00, after midnight
        utc(2024, 11, 4, 5),  # EST
    ]


# -- DST: spring forward (Europe/Paris 2024-03-31, 02:00 CET -> 03:00 CEST, at 01:00Z) ------


def test_spring_forward_skipped_wall_time_fires_shifted_by_the_gap() -> None:
    # 02:30 does not exist that day: it fires at 03:30 CEST (01:30Z), the instant 02:30 would
    # have had on the old offset; the day's interval is 23 hours long.
    schedule = Schedule("30 2 * * *", timezone=PARIS)
    assert fires(schedule, utc(2024, 3, 29), 4) == [
        utc(2024, 3, 29, 1, 30),  # 02:30 CET
        utc(2024, 3, 30, 1, 30),  # 02:30 CET
        utc(2024, 3, 31, 1, 30),  # 03:30 CEST
        utc(2024, 4, 1, 0, 30),  # 02:30 CEST
    ]
    assert schedule.data_interval(utc(2024, 4, 1, 0, 30)) == (
        utc(2024, 3, 31, 1, 30),
        utc(2024, 4, 1, 0, 30),
    )


def test_spring_forward_times_landing_on_one_instant_fire_once() -> None:
    # 02:00 is shifted to 03:00 CEST, which the schedule names anyway.
    schedule = Schedule("0 2,3 * * *", timezone=PARIS)
    assert fires(schedule, utc(2024, 3, 30, 22), 3) == [
        utc(2024, 3, 31, 1),
        utc(2024, 4, 1, 0),
        utc(2024, 4, 1, 1),
    ]


def test_spring_forward_from_inside_the_shift() -> None:
    # At 03:10 CEST the shifted 02:30 (03:30 CEST) is still to come.
    schedule = Schedule("30 2 * * *", timezone=PARIS)
    assert schedule.next_after(utc(2024, 3, 31, 1, 10)) == utc(2024, 3, 31, 1, 30)
    assert schedule.previous_at_or_before(utc(2024, 3, 31, 1, 10)) == utc(2024, 3, 30, 1, 30)


# -- DST: fall back (Europe/Paris 2024-10-27, 03:00 CEST -> 02:00 CET, at 01:00Z) -------------


def test_fall_back_repeated_wall_time_fires_once_at_its_first_pass() -> None:
    schedule = Schedule("30 2 * * *", timezone=PARIS)
    assert fires(schedule, utc(2024, 10, 26), 3) == [
        utc(2024, 10, 26, 0, 30),  # 02:30 CEST
        utc(2024, 10, 27, 0, 30),  # 02:30 CEST, the first pass; not again at 01:30Z
        utc(2024, 10, 28, 1, 30),  # 02:30 CET
    ]
    # From inside the second pass, the next one is the next day's.
    assert schedule.next_after(utc(2024, 10, 27, 1, 10)) == utc(2024, 10, 28, 1, 30)
    assert schedule.previous_at_or_before(utc(2024, 10, 27, 1, 45)) == utc(2024, 10, 27, 0, 30)


def test_fall_back_fixed_hour_with_many_minutes_fires_on_the_first_pass_only() -> None:
    schedule = Schedule("*/20 2 * * *", timezone=PARIS)
    assert fires(schedule, utc(2024, 10, 26, 22), 4) == [
        utc(2024, 10, 27, 0, 0),
        utc(2024, 10, 27, 0, 20),
        utc(2024, 10, 27, 0, 40),
        utc(2024, 10, 28, 1, 0),
    ]


@pytest.mark.parametrize("expression", ["0 * * * *", "30 * * * *", "@hourly", "15 0-23 * * *"])
@pytest.mark.parametrize(
    "night",
    [utc(2024, 3, 30, 20), utc(2024, 10, 26, 20)],
    ids=["spring-forward", "fall-back"],
)
def test_hourly_keeps_firing_every_real_hour_across_dst(expression: str, night: datetime) -> None:
    schedule = Schedule(expression, timezone=PARIS)
    got = fires(schedule, night, 10)
    assert [b - a for a, b in itertools.pairwise(got)] == [timedelta(hours=1)] * 9


@pytest.mark.parametrize(
    ("expression", "zone"),
    [
        ("30 2 * * *", PARIS),
        ("0 2,3 * * *", PARIS),
        ("*/20 2 * * *", PARIS),
        ("30 * * * *", PARIS),
        ("*/13 * * * *", PARIS),
        ("0 1-3 * * *", NEW_YORK),
        ("45 1 * * *", NEW_YORK),
    ],
)
@pytest.mark.parametrize(
    "day", [utc(2024, 3, 30), utc(2024, 10, 26), utc(2024, 3, 9), utc(2024, 11, 2)]
)
def test_every_way_of_walking_the_fires_agrees_across_dst(
    expression: str, zone: str, day: datetime
) -> None:
    schedule = Schedule(expression, timezone=zone)
    high = day + timedelta(days=3)
    forward = fires_between(schedule, day, high)
    assert forward == sorted(set(forward))  # increasing, no duplicates
    assert schedule.logical_dates(day + TICK, high) == forward
    backward: list[datetime] = []
    t = schedule.previous_at_or_before(high)
    while t is not None and t > day:
        backward.append(t)
        t = schedule.previous_at_or_before(t - TICK)
    assert backward[::-1] == forward
    for earlier, later in itertools.pairwise(forward):
        assert schedule.data_interval(later) == (earlier, later)


# -- fixed intervals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (
            "every 30s",
            utc(2024, 1, 1, 0, 0, 10),
            [utc(2024, 1, 1, 0, 0, 30), utc(2024, 1, 1, 0, 1)],
        ),
        ("every 15m", utc(2024, 1, 1, 0, 7), [utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30)]),
        ("every 2h", utc(2024, 1, 1, 1), [utc(2024, 1, 1, 2), utc(2024, 1, 1, 4)]),
        ("every 1d", utc(2024, 1, 1, 1), [utc(2024, 1, 2), utc(2024, 1, 3)]),
        ("every 90m", utc(2024, 1, 1), [utc(2024, 1, 1, 1, 30), utc(2024, 1, 1, 3)]),
    ],
)
def test_intervals_count_from_the_epoch(
    expression: str, after: datetime, expected: list[datetime]
) -> None:
    assert fires(Schedule(expression), after, 2) == expected


def test_intervals_count_from_start() -> None:
    schedule = Schedule("every 1h", start=utc(2024, 1, 1, 0, 10))
    assert fires(schedule, utc(2023, 6, 1), 2) == [utc(2024, 1, 1, 1, 10), utc(2024, 1, 1, 2, 10)]
    assert schedule.data_interval(utc(2024, 1, 1, 2, 10)) == (
        utc(2024, 1, 1, 1, 10),
        utc(2024, 1, 1, 2, 10),
    )


def test_intervals_are_absolute_durations_across_dst() -> None:
    schedule = Schedule("every 1d", timezone=PARIS, start=datetime(2024, 3, 30))  # 00:00 CET
    assert fires(schedule, utc(2024, 3, 30), 3) == [
        utc(2024, 3, 30, 23),
        utc(2024, 3, 31, 23),  # 01:00 CEST: 24 hours later, not local midnight
        utc(2024, 4, 1, 23),
    ]


def test_interval_spelling_is_canonical() -> None:
    assert Schedule("every  120m").expression == "every 2h"
    assert Schedule("every 90m").expression == "every 90m"
    assert Schedule(" 0  3 * * * ").expression == "0 3 * * *"


# -- start and end -----------------------------------------------------------------------------

BOUNDED = Schedule("@daily", start=utc(2024, 1, 10), end=utc(2024, 1, 12))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2024, 1, 1), utc(2024, 1, 11)),  # the first run covers Jan 10
        (utc(2024, 1, 11), utc(2024, 1, 12)),
        (utc(2024, 1, 12), utc(2024, 1, 13)),  # the last covers Jan 12 (end is inclusive)
        (utc(2024, 1, 13), None),
        (utc(2025, 1, 1), None),
    ],
)
def test_bounds_next_after(after: datetime, expected: datetime | None) -> None:
    assert BOUNDED.next_after(after) == expected


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (utc(2024, 1, 5), None),
        (utc(2024, 1, 10, 23), None),
        (utc(2024, 1, 11), utc(2024, 1, 11)),
        (utc(2024, 1, 12, 5), utc(2024, 1, 12)),
        (utc(2024, 2, 1), utc(2024, 1, 13)),
    ],
)
def test_bounds_previous_at_or_before(t: datetime, expected: datetime | None) -> None:
    assert BOUNDED.previous_at_or_before(t) == expected


def test_unaligned_start_begins_at_the_next_logical_date() -> None:
    schedule = Schedule("@daily", start=utc(2024, 1, 10, 12))
    assert schedule.next_after(utc(2024, 1, 1)) == utc(2024, 1, 12)
    assert schedule.logical_dates(utc(2024, 1, 1), utc(2024, 1, 12)) == [
        utc(2024, 1, 11),
        utc(2024, 1, 12),
    ]


def test_naive_bounds_are_read_in_the_schedule_zone() -> None:
    schedule = Schedule("@daily", timezone=PARIS, start=datetime(2024, 1, 10))
    assert schedule.start == utc(2024, 1, 9, 23)
    assert schedule.next_after(utc(2024, 1, 1)) == utc(2024, 1, 10, 23)


def test_end_equal_to_start_allows_one_run() -> None:
    schedule = Schedule("@daily", start=utc(2024, 1, 10), end=utc(2024, 1, 10))
    assert schedule.logical_dates(utc(2024, 1, 1), utc(2024, 2, 1)) == [utc(2024, 1, 10)]


# -- data intervals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "zone", "fire", "expected"),
    [
        ("0 3 * * *", "UTC", utc(2024, 1, 2, 3), (utc(2024, 1, 1, 3), utc(2024, 1, 2, 3))),
        ("0 9 * * 1-5", "UTC", utc(2024, 1, 8, 9), (utc(2024, 1, 5, 9), utc(2024, 1, 8, 9))),
        ("@monthly", "UTC", utc(2024, 3, 1), (utc(2024, 2, 1), utc(2024, 3, 1))),
        ("every 2h", "UTC", utc(2024, 1, 1, 4), (utc(2024, 1, 1, 2), utc(2024, 1, 1, 4))),
        # the local day of the spring change is 23 hours long
        ("@daily", PARIS, utc(2024, 3, 31, 22), (utc(2024, 3, 30, 23), utc(2024, 3, 31, 22))),
    ],
)
def test_data_interval_ends_at_the_fire_time(
    expression: str, zone: str, fire: datetime, expected: tuple[datetime, datetime]
) -> None:
    interval = Schedule(expression, timezone=zone).data_interval(fire)
    assert interval == expected
    assert isinstance(interval, DataInterval)
    assert Schedule(expression, timezone=zone).data_interval_starting(interval.start) == interval


@pytest.mark.parametrize("method", ["data_interval", "data_interval_starting"])
def test_data_interval_refuses_other_times(method: str) -> None:
    with pytest.raises(ValueError, match="is not a"):
        getattr(Schedule("0 3 * * *"), method)(utc(2024, 1, 2, 4))


# -- logical dates (backfill, catch-up) --------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "low", "high", "expected"),
    [
        ("@daily", utc(2024, 1, 1), utc(2024, 1, 3), [utc(2024, 1, d) for d in (1, 2, 3)]),
        ("@daily", utc(2024, 1, 1, 1), utc(2024, 1, 2, 23), [utc(2024, 1, 2)]),
        ("@daily", utc(2024, 1, 3), utc(2024, 1, 1), []),
        (
            "every 6h",
            utc(2024, 1, 1),
            utc(2024, 1, 1, 12),
            [utc(2024, 1, 1, h) for h in (0, 6, 12)],
        ),
        (
            "0 0 * * 1",
            utc(2024, 1, 1),
            utc(2024, 1, 31),
            [utc(2024, 1, d) for d in (1, 8, 15, 22, 29)],
        ),
    ],
)
def test_logical_dates(
    expression: str, low: datetime, high: datetime, expected: list[datetime]
) -> None:
    assert Schedule(expression).logical_dates(low, high) == expected


def test_logical_dates_over_a_month_with_a_dst_change() -> None:
    dates = Schedule("@hourly", timezone=PARIS).logical_dates(utc(2024, 3, 1), utc(2024, 4, 1))
    assert len(dates) == 31 * 24 + 1  # every real hour; both ends inclusive


DAILY_FROM_JAN_1 = Schedule("@daily", start=utc(2024, 1, 1))
NOW = utc(2024, 1, 4, 12)  # Jan 3's interval is the latest complete one


@pytest.mark.parametrize(
    ("last", "catchup", "expected"),
    [
        (None, True, [utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3)]),
        (None, False, [utc(2024, 1, 3)]),
        (utc(2024, 1, 1), True, [utc(2024, 1, 2), utc(2024, 1, 3)]),
        (utc(2024, 1, 1), False, [utc(2024, 1, 3)]),
        (utc(2024, 1, 3), True, []),
        (utc(2024, 1, 3), False, []),
        (utc(2024, 1, 4), True, []),  # a run ahead of now (e.g. from a manual trigger)
    ],
)
def test_missed_runs(last: datetime | None, catchup: bool, expected: list[datetime]) -> None:
    assert DAILY_FROM_JAN_1.missed_runs(last, NOW, catchup=catchup) == expected


def test_missed_runs_follow_the_schedule_policy_by_default() -> None:
    schedule = Schedule("@daily", start=utc(2024, 1, 1), catchup=True)
    assert schedule.missed_runs(None, NOW) == [utc(2024, 1, d) for d in (1, 2, 3)]
    assert schedule.missed_runs(None, NOW, catchup=False) == [utc(2024, 1, 3)]


def test_missed_runs_without_start_or_history_is_only_the_latest() -> None:
    assert Schedule("@daily").missed_runs(None, NOW, catchup=True) == [utc(2024, 1, 3)]


def test_missed_runs_before_the_first_interval_completes() -> None:
    assert DAILY_FROM_JAN_1.missed_runs(None, utc(2024, 1, 1, 12), catchup=True) == []


def test_missed_runs_stop_at_end() -> None:
    schedule = Schedule("@daily", start=utc(2024, 1, 1), end=utc(2024, 1, 2))
    assert schedule.missed_runs(None, NOW, catchup=True) == [utc(2024, 1, 1), utc(2024, 1, 2)]
    assert schedule.missed_runs(None, NOW, catchup=False) == [utc(2024, 1, 2)]
    assert schedule.missed_runs(utc(2024, 1, 2), NOW, catchup=True) == []


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0 3 * * *", Schedule("0 3 * * *")),
        ("every 15m", Schedule("every 15m")),
        ({"cron": "@daily"}, Schedule("@daily")),
        ({"every": "15m"}, Schedule("every 15m")),
        (
            {
                "cron": "0 3 * * *",
                "timezone": PARIS,
                "start": date(2024, 1, 1),  # as PyYAML reads `start: 2024-01-01`
                "end": "2024-12-31T00:00:00+01:00",
                "catchup": True,
            },
            Schedule(
                "0 3 * * *",
                timezone=PARIS,
                start=utc(2023, 12, 31, 23),
                end=utc(2024, 12, 30, 23),
                catchup=True,
            ),
        ),
        ({"every": "1h", "start": utc(2024, 1, 1)}, Schedule("every 1h", start=utc(2024, 1, 1))),
        ({"cron": "@daily", "start": "2024-01-01"}, Schedule("@daily", start=utc(2024, 1, 1))),
        ({"cron": "@daily", "start": None}, Schedule("@daily")),
    ],
)
def test_parse_schedule(value: Any, expected: Schedule) -> None:
    assert parse_schedule(value) == expected


@pytest.mark.parametrize(
    "schedule",
    [
        Schedule("0 3 * * *"),
        Schedule("every 15m", start=utc(2024, 1, 1, 0, 5)),
        Schedule("@daily", timezone=PARIS, start=datetime(2024, 1, 1), end=datetime(2024, 6, 1)),
        Schedule("0 3 * * *", catchup=True),
    ],
)
def test_to_builtins_round_trips(schedule: Schedule) -> None:
    assert parse_schedule(schedule.to_builtins()) == schedule


def test_to_builtins_forms() -> None:
    assert Schedule("@daily").to_builtins() == "@daily"
    assert Schedule("every 15m", timezone=PARIS, catchup=True).to_builtins() == {
        "every": "15m",
        "timezone": PARIS,
        "catchup": True,
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0 3 * *", "bad schedule '0 3 * *': expected 5 cron fields"),
        ("0 3 * * * *", "bad schedule '0 3 * * * *': expected 5 cron fields"),
        ("", "bad schedule '': expected 5 cron fields"),
        ("@often", "bad schedule '@often': expected 5 cron fields (minute hour day-of-month"),
        ("@every 15m", "an interval such as 'every 15m'"),
        ("0 25 * * *", "bad cron expression '0 25 * * *' ("),
        ("61 * * * *", "bad cron expression '61 * * * *'"),
        ("0 3 * * funday", "bad cron expression '0 3 * * funday'"),
        ("0 0 31 2 *", "cron expression '0 0 31 2 *' never fires"),
        ("every 0m", "bad interval 'every 0m': expected 'every <n><unit>'"),
        ("every 15", "bad interval 'every 15'"),
        ("every 15w", "bad interval 'every 15w'"),
        ("every 1.5h", "bad interval 'every 1.5h'"),
        ("every -1h", "bad interval 'every -1h'"),
        ("every 999999999999d", "bad interval 'every 999999999999d'"),
        ({"cron": "@daily", "timezone": "Europe/Pariss"}, "unknown time zone 'Europe/Pariss'"),
        ({"cron": "@daily", "timezone": "America"}, "unknown time zone 'America'"),
        ({"cron": "@daily", "timezone": "../etc/passwd"}, "unknown time zone '../etc/passwd'"),
        ({"cron": "@daily", "timezone": 3}, "schedule 'timezone' must be a string, got 3"),
        (
            {"cron": "@daily", "start": "2024-02-01", "end": "2024-01-01"},
            "schedule end 2024-01-01T00:00:00+00:00 is before its start 2024-02-01",
        ),
        ({"cron": "@daily", "start": "tomorrow"}, "schedule 'start' must be a date or datetime"),
        ({"cron": "@daily", "end": 20240101}, "schedule 'end' must be a date or datetime"),
        ({"cron": "@daily", "catchup": "yes"}, "schedule 'catchup' must be true or false"),
        (
            {"cron": "@daily", "timzone": PARIS},
            "schedule has unknown field(s) 'timzone' (allowed: cron, every, timezone, start,"
            " end, catchup); did you mean 'timezone'?",
        ),
        ({"timezone": PARIS}, "needs exactly one of 'cron'"),
        ({"cron": "@daily", "every": "1h"}, "needs exactly one of 'cron'"),
        ({"cron": "every 15m"}, "is an interval: write it as every: 15m"),
        ({"cron": 3}, "schedule 'cron' must be a string, got 3"),
        ({"every": "15x"}, "bad interval 'every 15x'"),
        (["@daily"], "'schedule' must be a string or a mapping, got list"),
    ],
)
def test_parse_schedule_errors(value: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_schedule(value)
    assert message in str(caught.value)


def test_timezone_error_says_what_to_use() -> None:
    with pytest.raises(DefinitionError, match="use an IANA name such as 'Europe/Paris'"):
        Schedule("@daily", timezone="CEST")


# -- triggers ----------------------------------------------------------------------------------


def test_valid_triggers() -> None:
    validate_triggers(
        [
            {"file": "data/in/*.csv"},
            {"asset": "raw.events"},
            {"assets": ["raw.events", "raw.users"]},
            {"flow": "ingest"},
            {"flow": "ingest", "states": ["succeeded", "failed", "cancelled"]},
            {"webhook": True},
        ]
    )
    validate_triggers([])


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("data/*.csv", "trigger 1 must be a mapping such as {file: 'data/*.csv'}, got str"),
        ({}, "trigger 1 has no known kind (keys: none); expected one of file, asset, assets"),
        ({"cron": "@daily"}, "trigger 1 has no known kind (keys: 'cron')"),
        ({"asets": ["a"]}, "did you mean 'assets'?"),
        ({"type": "asset", "asset": "a"}, "trigger 1 (asset) has unknown field(s) 'type'"),
        ({"file": "a", "asset": "b"}, "trigger 1 declares file and asset: one kind per trigger"),
        ({"file": ""}, "trigger 1: 'file' must be a glob such as 'data/*.csv', got ''"),
        ({"file": 3}, "'file' must be a glob"),
        ({"asset": None}, "trigger 1: 'asset' must be an asset name, got None"),
        ({"assets": []}, "'assets' must be a non-empty list of asset names, got []"),
        ({"assets": "a"}, "'assets' must be a non-empty list of asset names, got 'a'"),
        ({"assets": ["a", 3]}, "'assets' must be a non-empty list of asset names"),
        ({"assets": ["a", "a"]}, "'assets' names an asset twice"),
        ({"flow": ""}, "trigger 1: 'flow' must be a flow name, got ''"),
        ({"flow": "a", "states": "failed"}, "'states' must be a non-empty list of run states"),
        ({"flow": "a", "states": []}, "'states' must be a non-empty list of run states"),
        (
            {"flow": "a", "states": ["running"]},
            "unknown run state 'running' in 'states' (allowed: cancelled, failed, succeeded)",
        ),
        ({"flow": "a", "state": ["failed"]}, "(flow) has unknown field(s) 'state'"),
        ({"webhook": "yes"}, "trigger 1: 'webhook' must be true, got 'yes'"),
        ({"webhook": True, "path": "/x"}, "(webhook) has unknown field(s) 'path'"),
    ],
)
def test_trigger_errors(trigger: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_triggers([trigger])
    assert message in str(caught.value)


def test_trigger_errors_name_the_trigger() -> None:
    with pytest.raises(DefinitionError, match=r"^trigger 2 "):
        validate_triggers([{"webhook": True}, {"fiel": "x"}])
