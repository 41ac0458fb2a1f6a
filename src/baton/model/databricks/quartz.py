"""Quartz cron (Databricks' `schedule.quartz_cron_expression`) -> a 5-field cron. Pure.

Quartz has seconds first, an optional year last, `?` for "no specific value" in one of the
day fields, days of the week numbered 1 (Sunday) to 7, and `L`, `W`, `#` and `C`, which a
5-field cron does not have. What has no 5-field equivalent is an error naming it: a schedule
that fires at other times than it says would be worse than none.
"""

from __future__ import annotations

import re
from typing import NoReturn

from baton.errors import DefinitionError

_FIELD = "schedule.quartz_cron_expression"
_PLAIN = re.compile(r"[0-9A-Za-z*,/#-]+")
_NAMES = re.compile(r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT")
_SPECIAL = {"L": "last", "W": "nearest weekday", "#": "nth weekday", "C": "calendar"}
_BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day of month": (1, 31), "month": (1, 12)}


def to_cron(expression: str) -> str:
    """The 5-field cron that fires at the times `expression` does.

    Raises:
        DefinitionError: naming the field (and the part of it) that cannot be converted.
    """
    parts = expression.split()
    if len(parts) not in (6, 7):
        _fail(expression, f"has {len(parts)} fields; Quartz takes 6 or 7 (seconds first)")
    second, minute, hour, dom, month, dow = parts[:6]
    if len(parts) == 7 and parts[6] not in ("*", "?"):
        _fail(expression, f"names years ({parts[6]!r}); a 5-field cron repeats every year")
    if second != "0":
        _fail(expression, f"fires at second {second!r}; baton's cron fires on whole minutes")
    for name, value in (
        ("minute", minute),
        ("hour", hour),
        ("day of month", dom),
        ("month", month),
        ("day of week", dow),
    ):
        if value == "?":
            continue
        if not _PLAIN.fullmatch(value):
            _fail(expression, f"has {value!r} as its {name}")
        rest = _NAMES.sub("", value.upper())
        for special, meaning in _SPECIAL.items():
            if special in rest:
                _fail(
                    expression, f"uses {special} ({meaning}) in its {name}: a 5-field cron cannot"
                )
    if dom != "?" and dow != "?" and "*" not in (dom, dow):
        # Quartz refuses both; a 5-field cron would fire on either, not on both.
        _fail(expression, "gives both a day of month and a day of week")
    fields = [
        _range(minute, "minute"),
        _range(hour, "hour"),
        "*" if dom == "?" else _range(dom, "day of month"),
        _range(month, "month"),
        "*" if dow in ("?", "*") else _weekdays(dow, expression),
    ]
    return " ".join(fields)


def _range(value: str, name: str) -> str:
    """Quartz's `a/n` (from a, every n) is `a-max/n` in a 5-field cron."""
    low, high = _BOUNDS[name]
    out = []
    for item in value.split(","):
        start, slash, step = item.partition("/")
        if slash and "-" not in start:
            start = f"{low if start == '*' else start}-{high}"
        out.append(start + slash + step)
    return ",".join(out)


def _weekdays(value: str, expression: str) -> str:
    """Quartz numbers days 1 (SUN) to 7 (SAT); cron 0 (SUN) to 6. Names stay names."""

    def day(token: str) -> str:
        if token.isdigit():
            n = int(token)
            if not 1 <= n <= 7:
                _fail(expression, f"has day of week {n}; Quartz days are 1 (SUN) to 7 (SAT)")
            return str(n - 1)
        return token

    out = []
    for item in value.split(","):
        span, slash, step = item.partition("/")
        if slash and "-" not in span:
            span = f"{'1' if span == '*' else span}-7"
        if span == "*":
            out.append("*" + slash + step)
            continue
        out.append("-".join(day(t) for t in span.split("-")) + slash + step)
    return ",".join(out)


def _fail(expression: str, problem: str) -> NoReturn:
    raise DefinitionError(f"{_FIELD} {expression!r} {problem}")
