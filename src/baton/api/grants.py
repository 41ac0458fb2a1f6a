"""Grants and groups as the API and the CLI make and show them: one check of what a user
gives (who, which role, on what), one shape of a grant in JSON."""

from __future__ import annotations

import time
from typing import Any

from baton.errors import InputError
from baton.model import namespaces
from baton.model.access import ROLES
from baton.store.store import Row, Tx

MAX_SUBJECT = 200


def check_subject(value: object, field: str) -> str:
    """A user's or group's name: 1 to 200 printable characters, none of them blank."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_SUBJECT
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise InputError(
            f"{field}: a name of 1 to {MAX_SUBJECT} printable characters without spaces, "
            f"got {value!r}"
        )
    return value


def add_grant(
    tx: Tx,
    *,
    role: str,
    by: str,
    user: str | None = None,
    group: str | None = None,
    namespace: str | None = None,
    flow: str | None = None,
    now: float | None = None,
) -> int:
    """Give `role` on a namespace or one flow to a user or a group (exactly one of each);
    the new grant's id. The same grant twice is a ConflictError."""
    if (user is None) == (group is None):
        raise InputError("user, group: give exactly one of them")
    if (namespace is None) == (flow is None):
        raise InputError("namespace, flow: give exactly one of them")
    if role not in ROLES:
        raise InputError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    subject_kind, subject = ("user", user) if user is not None else ("group", group)
    check_subject(subject, subject_kind)
    if namespace is not None:
        scope_kind, scope = "namespace", namespaces.check_namespace(namespace)
    else:
        scope_kind, scope = "flow", namespaces.check_flow_name(flow)
    return tx.add_grant(
        {
            "subject_kind": subject_kind,
            "subject": subject,
            "role": role,
            "scope_kind": scope_kind,
            "scope": scope,
            "created_at": time.time() if now is None else now,
            "created_by": by,
        }
    )


def grant_json(r: Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "user": r["subject"] if r["subject_kind"] == "user" else None,
        "group": r["subject"] if r["subject_kind"] == "group" else None,
        "role": r["role"],
        "namespace": r["scope"] if r["scope_kind"] == "namespace" else None,
        "flow": r["scope"] if r["scope_kind"] == "flow" else None,
        "created_at": r["created_at"],
        "created_by": r["created_by"],
    }


def groups_json(rows: list[Row]) -> list[dict[str, Any]]:
    """Group members (by group, then user) as [{group, members}]."""
    found: dict[str, list[str]] = {}
    for r in rows:
        found.setdefault(r["group_name"], []).append(r["user_name"])
    return [{"group": g, "members": m} for g, m in found.items()]
