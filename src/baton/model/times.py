"""Times as baton shows them: ISO-8601 in UTC, from the UNIX seconds the store keeps; the
data interval of a run or partition; time zones by name. Light on purpose (no datetime,
croniter or zoneinfo import at load): every view imports it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from datetime import datetime
    from zoneinfo import ZoneInfo


class DataInterval(NamedTuple):
    """The span of data a run or a time partition covers, `[start, end)`; `start` is a
    scheduled run's logical date."""

    start: datetime
    end: datetime


def zone(name: object) -> ZoneInfo | None:
    """The IANA time zone `name`, or None when there is none by that name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    # time.strftime: ISO-8601 like datetime's, without importing datetime
    whole, micro = divmod(round(ts * 1_000_000), 1_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{micro:06d}Z"
