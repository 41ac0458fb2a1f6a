"""Names a user may have mistyped: the one "did you mean" of every message that lists what
is allowed (flow keys, fields, params, events)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(words: str | Iterable[object], choices: Iterable[object]) -> str | None:
    """The choice that the first of `words` (one word, or several tried in turn) most looks
    like a typo of, or None when none is close."""
    allowed = [str(c) for c in choices]
    for word in [words] if isinstance(words, str) else words:
        close = difflib.get_close_matches(str(word), allowed, n=1)
        if close:
            return close[0]
    return None


def did_you_mean(
    words: str | Iterable[object],
    choices: Iterable[object],
    *,
    lead: str = "; ",
    otherwise: str = "",
) -> str:
    """`; did you mean 'X'?` (after `lead`) for the closest choice, else `otherwise`: a hint
    to put at the end of a message."""
    close = closest(words, choices)
    return f"{lead}did you mean '{close}'?" if close is not None else otherwise


def task_run_name(key: str, map_index: int | None) -> str:
    """A task run's name in URLs, log paths, the API and `baton logs`: its key, `key.N` for
    run N of a mapped task (`map_index` is None or -1 for a task that is not mapped)."""
    return key if map_index is None or map_index < 0 else f"{key}.{map_index}"


def task_label(key: str, map_index: int | None) -> str:
    """A task run as a run's summary shows it (`RunResult.tasks`' keys, the run table, a
    notification, a sub-flow's result): its key, `key[N]` for run N of a mapped task. An
    index, as Python code writes it; where a name must be one path segment (URLs, log
    files) it is `task_run_name`'s `key.N`. Both are accepted wherever a task run is named."""
    return key if map_index is None or map_index < 0 else f"{key}[{map_index}]"
