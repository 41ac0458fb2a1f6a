"""JSON for people to read: indented, as `json.dumps(data, indent=2)` writes it."""

from __future__ import annotations

import json
from typing import Any


def indented(data: Any) -> str:
    """`data` as `json.dumps(data, indent=2)` would print it, fast: with an indent, `json`
    runs its pure-Python encoder (~6 ms for the attempts of a 500-task run, ~8 ms for the
    definition of a 1,000-task flow); msgspec takes a tenth of that. The same JSON; the text
    differs only in a float's exponent (`1e16`, not `1e+16`), a NaN (`null`, which json
    writes as invalid `NaN`) and a DEL character (not escaped). Text that is not all ASCII
    goes through json, which escapes it."""
    import msgspec

    try:
        text = msgspec.json.format(msgspec.json.encode(data), indent=2).decode()
    # A type msgspec does not encode, or a lone surrogate (no UTF-8): json writes the
    # surrogate escaped and says what it says of the type.
    except (TypeError, UnicodeEncodeError):
        return json.dumps(data, indent=2)
    return text if text.isascii() else json.dumps(data, indent=2)


def not_unicode_at(value: Any) -> tuple[str | int, ...] | None:
    """Where in `value` (dicts, lists, strings) a string holds a lone surrogate, which no
    UTF-8 store, JSON answer or page can hold: a JSON body's `"\\ud800"`, or an argument's
    bytes that are not UTF-8 (Python reads them as surrogates). The path to one such string
    (its dict keys and list indexes), or None when all is valid."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            if not _is_unicode(v):
                return path
        elif isinstance(v, dict):
            for k, item in v.items():
                if isinstance(k, str) and not _is_unicode(k):
                    return (*path, k)
                stack.append(((*path, k), item))
        elif isinstance(v, list | tuple):
            stack.extend(((*path, i), item) for i, item in enumerate(v))
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
