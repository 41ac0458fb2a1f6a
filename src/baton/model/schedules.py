"""Schedules (cron, fixed intervals): pure calendar logic. (Event triggers: `model.triggers`.)

A schedule is written as a string, `"0 3 * * *"`, or as a mapping with a time zone, bounds and
a catch-up policy:

    schedule: {cron: "0 3 * * *", timezone: Europe/Paris, start: 2024-01-01, catchup: true}
    schedule: {every: 15m, start: "2024-01-01T00:00:00+00:00"}

`cron` takes 5 fields or an alias (@hourly @daily @midnight @weekly @monthly @yearly
@annually); `every` takes `<n><unit>` with unit s, m, h or d. The plain string form is a cron
expression, an alias or `every <n><unit>`, in UTC, unbounded, without catch-up.

Runs follow Airflow's convention, which users know: a run fires at the END of its data interval
and its logical date is the interval's start. For cron the interval runs from the previous fire
time to this one; for `every` it is `[fire - interval, fire)`. So logical dates are themselves
fire times, and `start`/`end` (both inclusive) bound the logical dates: with `start: 2024-01-01`
a daily schedule's first run covers January 1st and fires at midnight on the 2nd.

Time zones (why the rules below): cron fields are wall-clock times in the schedule's zone.
- A wall time skipped when clocks spring forward fires at the instant it would have had on the
  old offset, i.e. shifted by the gap: `30 2 * * *` fires at 03:30 on Europe/Paris's
  2024-03-31. Times that land on the same instant fire once.
- A wall time repeated when clocks fall back fires once, at its first pass; schedules whose hour
  field is `*` (they run every hour) also fire at the second pass, so they keep running every
  real hour. This is Airflow's rule.
- Intervals are absolute durations, unaffected by DST; they count from `start`, or from
  1970-01-01T00:00Z when there is none (so `every 1d` fires at midnight UTC).

Every time this module returns is in UTC (convert it for display): two datetimes sharing one
zone compare by wall clock and ignore `fold`, which would make the two 02:30s of a fall-back
night equal. Times passed in must be timezone-aware. Parsing a time zone reads the tz database,
a read-only lookup that is the only data this module touches.
"""

from __future__ import annotations

import copy
import heapq
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import takewhile
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

from baton.errors import DefinitionError
from baton.model import names, times
from baton.model.times import DataInterval

ALIASES: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
SCHEDULE_KEYS = ("cron", "every", "timezone", "start", "end", "catchup")

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_EVERY = re.compile(r"every +(\d+)([smhd])")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_EXPECTED = (
    "expected 5 cron fields (minute hour day-of-month month day-of-week), an alias ("
    + ", ".join(ALIASES)
    + ") or an interval such as 'every 15m' (units s, m, h, d)"
)


@dataclass(frozen=True)
class _Cron:
    cron: str  # five fields, aliases expanded
    zone: ZoneInfo
    every_hour: bool
    parsed: croniter = field(compare=False, repr=False)

    def after(self, t: datetime) -> Iterator[datetime]:
        """Fire times strictly after `t`, oldest first."""
        # Near a DST change, wall times a little before t's can map to instants after it, and
        # later wall times to earlier instants: scan from earlier and hold candidates back
        # until no later wall time can come before them.
        walls = self._walls(_wall(t, self.zone) - _slack(self.zone, t) - _MINUTE)
        pending: list[datetime] = []
        last = t
        while True:
            wall = walls.get_next(datetime)
            for instant in self._instants(wall):
                if instant > last:
                    heapq.heappush(pending, instant)
            while pending and wall >= _wall(pending[0], self.zone) + _slack(self.zone, pending[0]):
                instant = heapq.heappop(pending)
                if instant > last:
                    last = instant
                    yield instant

    def at_or_before(self, t: datetime) -> Iterator[datetime]:
        """Fire times at or before `t`, newest first."""
        walls = self._walls(_wall(t, self.zone) + _slack(self.zone, t) + _MINUTE)
        pending: list[tuple[timedelta, datetime]] = []  # a max-heap: keyed by -(instant)
        last: datetime | None = None
        while True:
            wall = walls.get_prev(datetime)
            for instant in self._instants(wall):
                if instant <= t:
                    heapq.heappush(pending, (_EPOCH - instant, instant))
            while pending:
                instant = pending[0][1]
                if wall > _wall(instant, self.zone) - _slack(self.zone, instant):
                    break
                heapq.heappop(pending)
                if last is None or instant < last:
                    last = instant
                    yield instant

    def _walls(self, start: datetime) -> croniter:
        # Parsing costs three times a step; a copy shares only tables croniter never changes.
        walls = copy.copy(self.parsed)
        walls.set_current(start, force=True)
        return walls

    def _instants(self, wall: datetime) -> list[datetime]:
        # fold=0 is the first pass of a repeated time and, for a skipped time, the old offset.
        first = wall.replace(tzinfo=self.zone)
        instants = [first.astimezone(UTC)]
        second = wall.replace(tzinfo=self.zone, fold=1)
        if self.every_hour and _offset(second) < _offset(first):  # repeated: clocks fell back
            instants.append(second.astimezone(UTC))
        return instants


@dataclass(frozen=True)
class _Interval:
    every: timedelta
    anchor: datetime

    def after(self, t: datetime) -> Iterator[datetime]:
        fire = self._floor(t)
        while True:
            fire += self.every
            yield fire

    def at_or_before(self, t: datetime) -> Iterator[datetime]:
        fire = self._floor(t)
        while True:
            yield fire
            fire -= self.every

    def _floor(self, t: datetime) -> datetime:
        return self.anchor + (t - self.anchor) // self.every * self.every


@dataclass(frozen=True)
class Schedule:
    """When a flow runs by itself. Build one with `parse_schedule`, or directly.

    Args:
        expression: a 5-field cron expression, an alias such as `@daily`, or `every 15m`.
        timezone: the IANA zone cron fields are read in.
        start: the first logical date allowed (inclusive); naive means in `timezone`.
        end: the last logical date allowed (inclusive); naive means in `timezone`.
        catchup: after downtime, create every missed run rather than only the latest.

    Raises:
        DefinitionError: for a bad expression, an unknown zone, or `end` before `start`.
    """

    expression: str
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    catchup: bool = False
    _timing: _Cron | _Interval = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        zone = _zone(self.timezone)
        start, end = _localise(self.start, zone), _localise(self.end, zone)
        if start is not None and end is not None and end < start:
            raise DefinitionError(
                f"schedule end {end.isoformat()} is before its start {start.isoformat()}"
            )
        expression = " ".join(str(self.expression).split())
        timing: _Cron | _Interval
        if expression.startswith("every"):
            every = _interval(expression)
            expression = f"every {_spell(every)}"
            timing = _Interval(every, start or _EPOCH)
        else:
            expression = expression.lower() if expression.lower() in ALIASES else expression
            timing = _cron(expression, zone)
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "_timing", timing)

    def next_after(self, t: datetime) -> datetime | None:
        """The first fire time strictly after `t`; None once past `end`."""
        logical = next(self._timing.at_or_before(_utc(t)))  # the fire before the next fire
        first = self._first_logical_date()
        if first is not None and logical < first:
            logical = first
        if self.end is not None and logical > self.end:
            return None
        return next(self._timing.after(logical))

    def previous_at_or_before(self, t: datetime) -> datetime | None:
        """The latest fire time at or before `t`; None before the first one."""
        fires = self._timing.at_or_before(_utc(t))
        fire, logical = next(fires), next(fires)
        if self.end is not None and logical > self.end:
            logical = next(self._timing.at_or_before(self.end))
            fire = next(self._timing.after(logical))
        first = self._first_logical_date()
        if first is not None and logical < first:
            return None
        return fire

    def data_interval(self, fire_time: datetime) -> DataInterval:
        """The interval a run fired at `fire_time` covers: from the previous fire to this one.

        Raises:
            ValueError: `fire_time` is not a fire time of this schedule.
        """
        fire = _utc(fire_time)
        fires = self._timing.at_or_before(fire)
        if next(fires) != fire:
            raise ValueError(f"{fire_time.isoformat()} is not a fire time of {self.expression!r}")
        return DataInterval(next(fires), fire)

    def data_interval_starting(self, logical_date: datetime) -> DataInterval:
        """The interval whose logical date (start) is `logical_date`, e.g. for a backfill run.

        Raises:
            ValueError: `logical_date` is not a logical date of this schedule.
        """
        logical = _utc(logical_date)
        if next(self._timing.at_or_before(logical)) != logical:
            raise ValueError(
                f"{logical_date.isoformat()} is not a logical date of {self.expression!r}"
            )
        return DataInterval(logical, next(self._timing.after(logical)))

    def logical_dates(self, start: datetime, end: datetime) -> list[datetime]:
        """Every logical date from `start` to `end` (both inclusive) within the bounds, oldest
        first. Intervals need not be complete yet: the caller caps `end` if it must."""
        low, high = _utc(start), _utc(end)
        if self.start is not None:
            low = max(low, self.start)
        if self.end is not None:
            high = min(high, self.end)
        return list(takewhile(lambda d: d <= high, self._timing.after(low - _TICK)))

    def missed_runs(
        self, last_logical_date: datetime | None, now: datetime, catchup: bool | None = None
    ) -> list[datetime]:
        """Logical dates of complete intervals that have no run yet, oldest first.

        With catch-up (default: the schedule's own policy), every one after
        `last_logical_date`, or from `start` when there has been no run (only the latest when
        there is no `start` either); without it, only the latest complete one.
        """
        fire = self.previous_at_or_before(now)
        if fire is None:
            return []
        latest = self.data_interval(fire).start
        last = None if last_logical_date is None else _utc(last_logical_date)
        if last is not None and latest <= last:
            return []
        if not (self.catchup if catchup is None else catchup):
            return [latest]
        if last is not None:
            return self.logical_dates(last + _TICK, latest)
        if self.start is not None:
            return self.logical_dates(self.start, latest)
        return [latest]

    def to_builtins(self) -> str | dict[str, Any]:
        """The canonical spec form: `parse_schedule(s.to_builtins()) == s`."""
        if self.timezone == "UTC" and self.start is self.end is None and not self.catchup:
            return self.expression
        data: dict[str, Any] = (
            {"every": self.expression.removeprefix("every ")}
            if isinstance(self._timing, _Interval)
            else {"cron": self.expression}
        )
        if self.timezone != "UTC":
            data["timezone"] = self.timezone
        if self.start is not None:
            data["start"] = self.start.isoformat()
        if self.end is not None:
            data["end"] = self.end.isoformat()
        if self.catchup:
            data["catchup"] = True
        return data

    def _first_logical_date(self) -> datetime | None:
        return None if self.start is None else next(self._timing.after(self.start - _TICK))


def parse_schedule(value: str | Mapping[str, Any]) -> Schedule:
    """A Schedule from a flow's `schedule` field: a string, or a mapping (module docstring).

    Raises:
        DefinitionError: naming the bad expression, zone, bound or key.
    """
    if isinstance(value, str):
        return Schedule(value)
    if not isinstance(value, Mapping):
        raise DefinitionError(
            f"'schedule' must be a string or a mapping, got {type(value).__name__}"
        )
    _reject_unknown("schedule", value, SCHEDULE_KEYS)
    if ("cron" in value) == ("every" in value):
        raise DefinitionError(
            "a schedule mapping needs exactly one of 'cron' (e.g. cron: '0 3 * * *')"
            " or 'every' (e.g. every: 15m)"
        )
    if "cron" in value:
        expression = _text(value, "cron")
        if expression.strip().startswith("every"):
            raise DefinitionError(
                f"schedule cron {expression!r} is an interval: write it as every: 15m"
            )
    else:
        expression = "every " + _text(value, "every")
    catchup = value.get("catchup", False)
    if not isinstance(catchup, bool):
        raise DefinitionError(f"schedule 'catchup' must be true or false, got {catchup!r}")
    return Schedule(
        expression,
        timezone=_text(value, "timezone") if "timezone" in value else "UTC",
        start=_when(value, "start"),
        end=_when(value, "end"),
        catchup=catchup,
    )


def _cron(expression: str, zone: ZoneInfo) -> _Cron:
    cron = ALIASES.get(expression, expression)
    if cron.startswith("@") or len(cron.split()) != 5:
        raise DefinitionError(f"bad schedule {expression!r}: {_EXPECTED}")
    try:
        walls = croniter(cron, datetime(2000, 1, 1))
        walls.get_next(datetime)
    except CroniterBadDateError:
        raise DefinitionError(
            f"cron expression {expression!r} never fires: no date matches it"
        ) from None
    except CroniterError as exc:
        raise DefinitionError(f"bad cron expression {expression!r} ({exc}); {_EXPECTED}") from None
    hours = walls.expanded[1]
    return _Cron(cron, zone, every_hour=hours == ["*"] or len(set(hours)) == 24, parsed=walls)


def _interval(expression: str) -> timedelta:
    match = _EVERY.fullmatch(expression)
    try:
        every = timedelta(**{_UNITS[match[2]]: int(match[1])}) if match else timedelta(0)
    except OverflowError:
        every = timedelta(0)
    if every <= timedelta(0):
        raise DefinitionError(
            f"bad interval {expression!r}: expected 'every <n><unit>' with a whole number"
            " n >= 1 and a unit s, m, h or d, e.g. 'every 15m'"
        )
    return every


def _spell(every: timedelta) -> str:
    """The interval in its largest whole unit: 120m is spelled 2h, 90m stays 90m."""
    seconds = int(every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _zone(name: object) -> ZoneInfo:
    found = times.zone(name)
    if found is not None:
        return found
    raise DefinitionError(
        f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris',"
        " 'America/New_York' or 'UTC'"
    )


def _localise(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _when(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise DefinitionError(
        f"schedule '{key}' must be a date or datetime in ISO 8601 (e.g. 2024-01-01 or"
        f" 2024-01-01T00:00:00+01:00), got {value!r}"
    )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise DefinitionError(f"schedule '{key}' must be a string, got {value!r}")
    return value


def _reject_unknown(where: str, data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise DefinitionError(
            f"{where} has unknown field(s) {', '.join(repr(k) for k in unknown)}"
            f" (allowed: {', '.join(allowed)}){names.did_you_mean(unknown, allowed)}"
        )


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{t.isoformat()} has no time zone; schedules need aware datetimes")
    return t.astimezone(UTC)


def _wall(t: datetime, zone: ZoneInfo) -> datetime:
    """What a clock in `zone` reads at instant `t`, as a naive datetime."""
    return t.astimezone(zone).replace(tzinfo=None)


def _offset(t: datetime) -> timedelta:
    return t.utcoffset() or timedelta(0)


def _slack(zone: ZoneInfo, t: datetime) -> timedelta:
    """How far the zone's clock moves within that much time of `t`: 0 away from a DST change.

    Assumes at most one change within a day of `t`, which holds for every zone today.
    """
    offsets = [_offset((t + d).astimezone(zone)) for d in (-_DAY, timedelta(0), _DAY)]
    spread = max(offsets) - min(offsets)
    near = spread + _MINUTE
    if _offset((t - near).astimezone(zone)) == _offset((t + near).astimezone(zone)):
        return timedelta(0)  # the change is further away than it is long
    return spread
