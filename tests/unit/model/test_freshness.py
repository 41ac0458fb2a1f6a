from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from baton.model import freshness
from baton.model.assets import FreshnessSpec
from baton.model.freshness import Freshness
from baton.model.schedules import Schedule

HOUR = 3600.0
DAILY_PARIS = FreshnessSpec(cron="0 7 * * *", timezone="Europe/Paris", max_lag=HOUR)


def utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=UTC).timestamp()


# --- max_lag ---------------------------------------------------------------------------------


def test_never_updated_is_unknown_whatever_the_policy():
    for policy in (FreshnessSpec(max_lag=HOUR), DAILY_PARIS, FreshnessSpec(cron="@hourly")):
        assert freshness.evaluate(policy, None, utc(2024, 1, 1)) == Freshness("unknown", None)


def test_max_lag_is_fresh_up_to_and_at_the_lag_then_stale():
    policy = FreshnessSpec(max_lag=6 * HOUR)
    last = utc(2024, 1, 1, 12)
    due = last + 6 * HOUR
    assert freshness.evaluate(policy, last, last) == Freshness("fresh", due)
    assert freshness.evaluate(policy, last, due) == Freshness("fresh", due)  # not older yet
    assert freshness.evaluate(policy, last, due + 0.001) == Freshness("stale", due)
    assert freshness.evaluate(policy, last, due + 86400) == Freshness("stale", due)


def test_states_are_exactly_the_three_names():
    assert freshness.STATES == ("fresh", "stale", "unknown")


# --- cron ------------------------------------------------------------------------------------
# 2024-03-31 is the spring-forward day in Paris: 07:00 is 06:00 UTC the day before (CET) and
# 05:00 UTC that day (CEST); with 1 h of grace the deadlines are 07:00 UTC on the 30th and
# 06:00 UTC on the 31st.
DEADLINE_30 = utc(2024, 3, 30, 7)
DEADLINE_31 = utc(2024, 3, 31, 6)
DEADLINE_01 = utc(2024, 4, 1, 6)


def test_an_update_before_the_tick_is_on_time_across_the_dst_change():
    last = utc(2024, 3, 31, 4, 30)  # 06:30 in Paris, before the 07:00 tick
    assert freshness.evaluate(DAILY_PARIS, last, DEADLINE_31) == Freshness("fresh", DEADLINE_01)


def test_a_missed_day_is_stale_exactly_at_the_local_deadline_not_the_utc_one():
    last = utc(2024, 3, 30, 5, 30)  # on time for the 30th, nothing on the 31st
    just_before = DEADLINE_31 - 0.001
    assert freshness.evaluate(DAILY_PARIS, last, just_before) == Freshness("fresh", DEADLINE_31)
    assert freshness.evaluate(DAILY_PARIS, last, DEADLINE_31) == Freshness("stale", DEADLINE_31)
    # A UTC reading of the cron would wait until 08:00 UTC.
    assert freshness.evaluate(DAILY_PARIS, last, utc(2024, 3, 31, 7)).state == "stale"


def test_grace_accepts_a_late_update_for_its_own_deadline_only():
    late = utc(2024, 3, 30, 6, 30)  # 07:30 in Paris: after the tick, within the grace
    assert freshness.evaluate(DAILY_PARIS, late, DEADLINE_30) == Freshness("fresh", DEADLINE_31)
    # ... but it does not also stand for the next day's update.
    assert freshness.evaluate(DAILY_PARIS, late, DEADLINE_31) == Freshness("stale", DEADLINE_31)


def test_during_the_grace_an_asset_updated_yesterday_is_still_fresh():
    last = utc(2024, 3, 30, 5)  # 06:00 in Paris on the 30th
    tick_31 = utc(2024, 3, 31, 5)  # 07:00 in Paris: the update is expected, grace runs
    assert freshness.evaluate(DAILY_PARIS, last, tick_31 + HOUR / 2).state == "fresh"


def test_an_update_exactly_at_a_deadline_counts_for_that_deadline():
    assert freshness.evaluate(DAILY_PARIS, DEADLINE_30, DEADLINE_30).state == "fresh"
    assert freshness.evaluate(DAILY_PARIS, DEADLINE_30, DEADLINE_31) == Freshness(
        "stale", DEADLINE_31
    )
    after = DEADLINE_30 + 0.001  # the next period's update
    assert freshness.evaluate(DAILY_PARIS, after, DEADLINE_31) == Freshness("fresh", DEADLINE_01)


def test_a_stale_asset_is_fresh_again_once_updated():
    last = utc(2024, 3, 30, 5)
    assert freshness.evaluate(DAILY_PARIS, last, DEADLINE_31 + 60).state == "stale"
    again = DEADLINE_31 + 30
    assert freshness.evaluate(DAILY_PARIS, again, DEADLINE_31 + 60) == Freshness(
        "fresh",
        utc(2024, 4, 2, 6),  # it covers the 1st's period: due at the 2nd's deadline
    )


def test_no_max_lag_means_no_grace():
    policy = FreshnessSpec(cron="0 7 * * *", timezone="Europe/Paris")
    tick_31 = utc(2024, 3, 31, 5)
    last = utc(2024, 3, 30, 4)
    assert freshness.evaluate(policy, last, tick_31 - 1) == Freshness("fresh", tick_31)
    assert freshness.evaluate(policy, last, tick_31) == Freshness("stale", tick_31)
    assert freshness.evaluate(policy, tick_31, tick_31) == Freshness("fresh", utc(2024, 4, 1, 5))


def test_a_tick_in_the_skipped_hour_fires_shifted_by_the_gap():
    # 02:30 does not exist in Paris on 2024-03-31: the tick is 03:30 CEST (01:30 UTC).
    policy = FreshnessSpec(cron="30 2 * * *", timezone="Europe/Paris")
    last = utc(2024, 3, 30, 1)  # 02:00 CET, before the 30th's tick (02:30 CET)
    tick_31 = utc(2024, 3, 31, 1, 30)
    assert freshness.evaluate(policy, last, tick_31 - 1) == Freshness("fresh", tick_31)
    assert freshness.evaluate(policy, last, tick_31).state == "stale"


def test_grace_longer_than_the_period():
    policy = FreshnessSpec(cron="0 * * * *", max_lag=1.5 * HOUR)  # deadlines at hh:30
    last = utc(2024, 1, 1, 10, 15)  # in the period ending at 10:30 (the 09:00 tick's)
    assert freshness.evaluate(policy, last, utc(2024, 1, 1, 11, 29)) == Freshness(
        "fresh", utc(2024, 1, 1, 11, 30)
    )
    assert freshness.evaluate(policy, last, utc(2024, 1, 1, 11, 30)).state == "stale"


def brute_force(policy: FreshnessSpec, last: float, now: float) -> str:
    """The module docstring's rule, read literally: T = the latest tick with T + G <= now, P
    the tick before it; fresh iff last > P + G."""
    schedule = Schedule(policy.cron or "", timezone=policy.timezone)
    grace = timedelta(seconds=policy.max_lag or 0)
    tick = schedule.previous_at_or_before(datetime.fromtimestamp(now, UTC) - grace)
    assert tick is not None
    previous = schedule.previous_at_or_before(tick - timedelta(microseconds=1))
    assert previous is not None
    return "fresh" if last > (previous + grace).timestamp() else "stale"


@pytest.mark.parametrize(
    "policy",
    [
        DAILY_PARIS,
        FreshnessSpec(cron="0 * * * *", max_lag=1.5 * HOUR),
        FreshnessSpec(cron="*/20 1-3 * * *", timezone="Europe/Paris", max_lag=600),
        FreshnessSpec(cron="30 2 * * *", timezone="Europe/Paris"),
    ],
)
def test_the_due_shortcut_agrees_with_the_rule_around_both_dst_changes(policy):
    for day in (utc(2024, 3, 30), utc(2024, 10, 26)):
        moments = [day + i * 47 * 60.0 for i in range(2 * 24 * 60 // 47)]
        for last in moments[::7]:
            for now in moments:
                if now >= last:
                    assert freshness.evaluate(policy, last, now).state == brute_force(
                        policy, last, now
                    ), (policy, last, now)
