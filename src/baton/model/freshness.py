"""Freshness: whether an asset is as recent as its policy promises. Pure (no clock read).

States: `fresh`, `stale`, `unknown` (never materialized: nothing to judge yet). `due` is the
instant the asset is (or was) late: while fresh, when it turns stale unless it is updated
again; once stale, the deadline it missed. None when unknown.

- `{max_lag: L}`: stale once the last update is older than L, i.e. iff `now - last > L`
  (at exactly L old it is still fresh); due = last + L.
- `{cron: C, timezone: Z, max_lag: G}` (G defaults to 0): the asset must be updated once per
  cron period. Each tick T of C (read in Z, with `model.schedules`' DST rules) sets a deadline
  `T + G`: the update expected by T may come up to G late. At each deadline the asset must
  have been updated since the previous deadline. So, with T the latest tick such that
  `T + G <= now` and P the tick before it, the asset is fresh iff `last > P + G`. An update
  exactly at a deadline counts for that deadline; at the deadline instant, an update not yet
  made is late. due = the first deadline whose previous deadline is at or after `last`: the
  next deadline after T, or the one after that when the update already covers the next
  period (it came after the latest deadline, as a recovery after being stale does).

Why "since the previous deadline" rather than "since the tick" or "since the previous tick":
for `{cron: "0 7 * * *", max_lag: 1h}` ("updated by 07:00 each day, 1 h grace"), a daily job
finishing at 06:30 must count (it is on time), so "updated after the tick" is too strict; and
an update at 07:30 yesterday (late, in yesterday's grace) must not also satisfy today's
deadline, so "updated after the previous tick" is too loose. Deadlines cut time into
periods, and each update counts for the one period it falls in. (Dagster's cron policy reads
its lag before the tick, as a window the update must fall in; the issue describes an after-
the-tick grace, which this is.)
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from baton.model.assets import FreshnessSpec
from baton.model.schedules import Schedule

State = Literal["fresh", "stale", "unknown"]
STATES: tuple[State, ...] = ("fresh", "stale", "unknown")


class Freshness(NamedTuple):
    """An asset's freshness at one instant: its state and when it is (or was) due."""

    state: State
    due: float | None  # UNIX seconds


def evaluate(policy: FreshnessSpec, last_update: float | None, now: float) -> Freshness:
    """The freshness of an asset last updated at `last_update` (None: never), at `now`.

    Args:
        policy: the asset's freshness policy (from `model.assets`).
        last_update: UNIX time of its latest materialization, or None.
        now: UNIX time to evaluate at (the scheduler's injectable clock).
    """
    if last_update is None:
        return Freshness("unknown", None)
    if policy.cron is None:
        lag = policy.max_lag or 0.0
        due = last_update + lag
        return Freshness("stale" if now - last_update > lag else "fresh", due)
    due = _cron_due(_schedule(policy.cron, policy.timezone), policy.max_lag or 0.0, last_update)
    return Freshness("stale" if now >= due else "fresh", due)


def _cron_due(schedule: Schedule, grace: float, last_update: float) -> float:
    """The deadline after the first deadline at or after `last_update`.

    Equivalent to the module's rule: the asset is stale at `now` iff some deadline D <= now
    has its previous deadline at or after `last_update` (no update in that period), and the
    first such D is this one.
    """
    # The first tick T with T + grace >= last_update: at `last - grace` itself, or after it.
    start = datetime.fromtimestamp(last_update, UTC) - timedelta(seconds=grace)
    tick = schedule.previous_at_or_before(start)
    if tick != start:
        tick = _next(schedule, start)
    return (_next(schedule, tick) + timedelta(seconds=grace)).timestamp()


def _next(schedule: Schedule, t: datetime) -> datetime:
    fire = schedule.next_after(t)
    assert fire is not None  # only a schedule with an `end` runs out of ticks
    return fire


@functools.lru_cache(maxsize=1024)
def _schedule(cron: str, timezone: str) -> Schedule:
    # Parsing a cron costs far more than stepping it; a scheduler evaluates thousands of
    # assets sharing a few policies every tick. Schedules are immutable, so sharing is safe.
    return Schedule(cron, timezone=timezone)
