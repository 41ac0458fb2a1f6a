"""Durations as users write them: `30s`, `15m`, `6h`, `1d`, `1h30m`, or a number of seconds.

One parser for every duration of a definition (an asset's freshness `max_lag`, ...), so they
all accept the same spellings and fail with the same message. Units: s, m, h, d; each at most
once, largest first; a part may have decimals (`1.5h`). A plain number, or a string holding
one (`"90"`, as a CLI argument arrives), counts seconds.
"""

from __future__ import annotations

import math
import re

from baton.errors import DefinitionError, InputError
from baton.model.yaml_fields import show

UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
# A typo, not a policy: past this, date arithmetic on the value overflows (timedelta, SQL).
MAX_SECONDS = 100 * 365 * 86400.0
EXAMPLES = "30s, 15m, 6h, 1d, 1h30m or a number of seconds"

_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})([dhms])")
_TEXT = re.compile(rf"(?:{_NUMBER}[dhms])+|{_NUMBER}")


def parse(
    value: object,
    field: str,
    *,
    allow_zero: bool = False,
    error: type[DefinitionError] | type[InputError] = DefinitionError,
) -> float:
    """The seconds `value` stands for.

    Args:
        value: an int or float of seconds, or a string such as `6h` or `90`.
        field: how the value is named in an error (`freshness.max_lag`).
        allow_zero: whether 0 is a valid duration (never a negative one).
        error: what to raise: a DefinitionError for a definition, an InputError for a CLI
            argument or an API payload.

    Raises:
        DefinitionError | InputError: naming `field`, the value and the accepted forms.
    """
    seconds = _seconds(value)
    if seconds is None or seconds > MAX_SECONDS or (seconds == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        if seconds is not None and seconds > MAX_SECONDS:
            bound = f"{bound} and at most 100 years"
        raise error(f"'{field}' must be a duration {bound} such as {EXAMPLES}, got {show(value)}")
    return seconds


def spell(seconds: float) -> str:
    """The shortest spelling `parse` reads back: 5400 -> `1h30m`, 0.5 -> `0.5s`."""
    if seconds <= 0 or seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in UNITS.items():
        count, rest = divmod(rest, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _seconds(value: object) -> float | None:
    """The value in seconds, or None when it is no duration (a negative one included)."""
    if isinstance(value, bool):  # True is an int to Python, never a duration to a user
        return None
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _TEXT.fullmatch(text):
        return None
    parts = _PART.findall(text)
    if not parts:
        return float(text)
    units = [unit for _, unit in parts]
    order = list(UNITS)
    if units != sorted(set(units), key=order.index):  # `1m1h` or `1h1h`: surely a typo
        return None
    return sum(float(number) * UNITS[unit] for number, unit in parts)
