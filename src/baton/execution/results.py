"""Task results: JSON inline in the store when they can be, else pickled to a file."""

from __future__ import annotations

import json
import os
from typing import Any


def encode(
    value: Any, results_dir: str, attempt_id: str
) -> tuple[str | None, str | None, int | None]:
    """(JSON text, pickle path, len of a list result) for a task's return value."""
    length = len(value) if isinstance(value, list | tuple) else None
    try:
        text = json.dumps(value, allow_nan=False)
        # JSON would turn tuples into lists and int keys into strings: keep it inline only
        # when it reads back equal, so downstream tasks get exactly what was returned.
        if value is None or json.loads(text) == value:
            return text, None, length
    except (TypeError, ValueError):
        pass
    import pickle  # most results are JSON: only the others pay for importing it

    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, f"{attempt_id}.pkl")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)  # a result file is complete or absent
    return None, path, length


def decode(result: str | None, result_ref: str | None) -> Any:
    """A task run's result from its `result` (JSON) and `result_ref` (a pickle's path)
    columns; None when it has none."""
    if result_ref:
        import pickle

        with open(result_ref, "rb") as f:
            return pickle.load(f)
    if result is not None:
        return json.loads(result)
    return None
