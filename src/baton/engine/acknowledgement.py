"""Acknowledging a run: someone has seen its failure (or its waiting approval) and is on it.

One place for the CLI (`baton runs ack`, local or `--server`), the API (`POST /api/v1/runs/
{id}/acknowledge`) and the UI's button: the escalation steps `unless: acknowledged` of the
run are not sent any more (`scheduling.escalation`). The first acknowledgement stands;
acknowledging again (or many callers at once) answers that one, changed in nothing. Each
call is audited: by the API's route class, or here for a local command.
"""

from __future__ import annotations

import json
from typing import Any

from baton.errors import InputError
from baton.model.times import iso
from baton.store.store import Store

MAX_COMMENT = 2000  # characters
MAX_BY = 200  # the run_acks.acknowledged_by column


def check_comment(comment: object) -> str | None:
    """The comment, checked (None or empty: none).

    Raises:
        InputError: naming `comment`.
    """
    if comment is None or comment == "":
        return None
    if not isinstance(comment, str):
        raise InputError(f"'comment' must be text, got {type(comment).__name__}")
    if len(comment) > MAX_COMMENT:
        raise InputError(f"'comment' is {len(comment)} characters long; at most {MAX_COMMENT}")
    if "\x00" in comment:
        raise InputError("'comment' must not hold a NUL character")
    return comment


def acknowledge(
    store: Store,
    ref: str,
    by: str,
    comment: str | None,
    now: float,
    *,
    audit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Acknowledge the run `ref` (an id or a unique prefix) as `by`; what is recorded, with
    `already_acknowledged` when an earlier acknowledgement stands. With `audit` (the fields
    of an audit entry but the outcome), the call is audited in the same transaction.

    Raises:
        NotFoundError: no such run. InputError: a bad comment, an ambiguous prefix.
    """
    comment = check_comment(comment)
    with store.transaction() as tx:
        run_id = tx.resolve_run_id(ref)
        first = tx.acknowledge_run(run_id, by[:MAX_BY], comment, now)
        row = tx.run_ack(run_id)
        assert row is not None
        if audit is not None:
            detail = json.dumps({"comment": comment, "first": first})
            tx.add_audit(
                audit | {"object_id": run_id, "outcome": "ok", "status": 0, "detail": detail}
            )
    return {
        "run_id": run_id,
        "acknowledged_at": iso(row["acknowledged_at"]),
        "acknowledged_by": row["acknowledged_by"],
        "comment": row["comment"],
        "already_acknowledged": not first,
    }


def of_run(store: Store, run_id: str) -> dict[str, Any] | None:
    """A run's acknowledgement (None: not acknowledged)."""
    row = store.read().run_ack(run_id)
    if row is None:
        return None
    return {
        "acknowledged_at": iso(row["acknowledged_at"]),
        "acknowledged_by": row["acknowledged_by"],
        "comment": row["comment"],
    }
