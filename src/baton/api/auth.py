"""API tokens and roles.

A token reads `baton_<id>_<secret>`: the id finds its row, and only the secret's SHA-256 is
stored, so a leaked database does not leak usable tokens (a random 32-byte secret needs no
slow hash). A token carries one role; each role may do what the one below it may, and more:

    viewer    read everything but the audit log and tokens
    operator  + trigger, cancel, repair and resume runs, pause and unpause flows
    editor    + create, update and delete flows
    admin     + tokens, users, pools, the audit log
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from baton.errors import InputError
from baton.store.store import Tx

ROLES = ("viewer", "operator", "editor", "admin")
PREFIX = "baton_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's user and role."""

    user: str
    role: str
    token_id: str

    def may(self, role: str) -> bool:
        """Whether this caller's role is `role` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"unknown role '{role}': expected one of {', '.join(ROLES)}")
    return role


def create_token(
    tx: Tx, user: str, role: str, description: str | None = None, now: float | None = None
) -> tuple[str, str]:
    """Store a new token; its id and its text, which is shown once and never again."""
    check_role(role)
    if not user.strip():
        raise InputError("user: must not be empty")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    tx.insert_token(
        {
            "id": token_id,
            "user_name": user.strip(),
            "role": role,
            "secret_hash": _hash(secret),
            "description": description,
            "created_at": time.time() if now is None else now,
        }
    )
    return token_id, f"{PREFIX}{token_id}_{secret}"


def authenticate(read: Tx, text: str | None) -> Principal | None:
    """The caller a token's text names, or None for a missing, malformed, unknown or revoked
    token (the caller gets the same 401 for each: no hint which)."""
    if not text or not text.startswith(PREFIX):
        return None
    token_id, _, secret = text[len(PREFIX) :].partition("_")
    row = read.token(token_id) if token_id and secret else None
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    return Principal(user=row["user_name"], role=row["role"], token_id=token_id)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
