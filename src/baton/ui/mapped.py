"""The items mapped task runs ran on, said short ("eu", `{"id": 3, …}`), so a list of
`each.0`, `each.1`... says which is which without opening each one."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from baton.errors import BatonError
from baton.execution import results
from baton.execution.secrets import Secrets
from baton.model.spec import PARAM_KEY, REF_KEY, FlowSpec
from baton.store.store import Tx

SHORT = 40  # characters of an item in a list of task runs
LONG = 2_000  # characters of an item on its task run's page


def items(
    read: Tx, run_id: str, spec: FlowSpec, params: Mapping[str, Any], keys: Iterable[str]
) -> dict[str, list[Any]]:
    """Each mapped task's items (of `keys`), as its task runs got them; a task whose items
    cannot be read (a result gone, not a list) is left out."""
    wanted = set(keys)
    found: dict[str, list[Any]] = {}
    for task in spec.tasks:
        if task.key not in wanted:
            continue
        source = task.map_over
        value: Any = task.config.get("map_items")
        if isinstance(value, dict) and PARAM_KEY in value:
            value = params.get(value[PARAM_KEY])
        elif isinstance(value, dict) and REF_KEY in value:
            source = value[REF_KEY]
        if source is not None:
            try:
                value = results.upstream(read, run_id, [source]).get(source)
            except BatonError:  # the result is gone, or its store unreachable: show none
                continue
        if isinstance(value, list):
            found[task.key] = value
    return found


def text(value: Any, secrets: Secrets, limit: int = SHORT) -> str:
    """An item in a few characters: a string as it is, anything else as compact JSON."""
    value = secrets.mask_json(value)
    shown = value if isinstance(value, str) else json.dumps(value, default=str)
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
