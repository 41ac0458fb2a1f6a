"""API tokens and roles.

A token reads `baton_<id>_<secret>`: the id finds its row, and only the secret's SHA-256 is
stored, so a leaked database does not leak usable tokens (a random 32-byte secret needs no
slow hash). A token may carry one global role; each role may do what the one below it may,
and more:

    viewer    read everything but the audit log and tokens
    operator  + trigger, cancel, repair and resume runs, pause and unpause flows
    editor    + create, update and delete flows
    admin     + tokens, users, pools, the audit log

A token without a global role carries only its user's grants; one with a `namespace` is
limited to that namespace: it holds nothing outside it, not even its role on global routes
(tokens, users, pools, the audit log, workers). A token may expire (`expires_at`): past it,
it is refused like a revoked one, but the refusal is told apart (`Expired`) so that it can
be audited (401 before anything else, whatever the route).

Grants (`model.access`) add roles on a namespace or one flow: a route on one flow (its name,
or a run of it, in the path) asks the caller's effective role on that flow, and a flow the
caller may not see is answered 404, as one that does not exist; a list asks for the role
anywhere and shows only what the caller may see; any other route asks the global role.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

from baton.errors import BatonError, InputError, NotFoundError
from baton.model import access
from baton.model.access import ROLES as ROLES  # noqa: PLC0414 (an explicit re-export)
from baton.store.store import Tx

PREFIX = "baton_"
# Routes that list flows or runs, or make a flow: asked with the role anywhere, they show or
# touch only what the caller may (the route filters, or checks the flow it makes).
LISTS = frozenset(
    {"flows.list", "runs.list", "flows.create", "approvals.list", "flows", "runs", "approvals"}
)
# How stale a token's `last_used_at` may get (seconds): authentication writes it at most this
# often per token, so a busy client costs one read per request, not one write.
TOUCH_EVERY = 60.0
NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's user, its global role (None: only the user's grants), its
    id, the one namespace it is limited to (None: any), and the user's grants."""

    user: str
    role: str | None
    token_id: str
    namespace: str | None = None
    grants: tuple[access.Grant, ...] = ()
    last_used_at: float | None = field(default=None, compare=False)

    @property
    def access(self) -> access.Access:
        return access.Access(self.role, self.namespace, self.grants)

    def may(self, role: str) -> bool:
        """Whether this caller's global role is `role` or above it."""
        return access.at_least(self.access.global_role, role)

    def may_on(self, flow: str, role: str) -> bool:
        """Whether this caller's effective role on the flow `flow` is `role` or above."""
        return access.at_least(self.access.role_on(flow), role)


def scope_of(name: str, path: str) -> str:
    """What the route `name` at `path` is checked against: "flow" (`{name}` under /flows/),
    "run" (a `{run_id}`), "list" (`LISTS`) or "global"."""
    if "{run_id" in path:
        return "run"
    if "/flows/{name" in path:
        return "flow"
    return "list" if name in LISTS else "global"


def role_for(read: Tx, principal: Principal, scope: str, params: dict[str, str]) -> str | None:
    """The caller's role for a route of `scope` with path `params`; a flow (or a run of a
    flow) it may not see raises NotFoundError, worded as for one that does not exist."""
    held = principal.access
    if scope == "global":
        return held.global_role
    if scope == "list":
        return held.highest()
    if scope == "flow":
        flow = params["name"]
        role = held.role_on(flow)
        if role is None:
            raise NotFoundError(no_flow(flow))
        return role
    run_id = params["run_id"]
    missing = NotFoundError(f"no run '{run_id}'; `baton runs list` shows the runs")
    try:  # an id or its prefix, as the routes take it
        run = read.run(read.resolve_run_id(run_id))
    except BatonError:
        if held.visibility().everything:
            return held.role  # sees every run: the route answers for this one
        raise missing from None  # none, or a prefix of several: which, is not for this caller
    role = held.role_on(run.flow_name)
    if role is None:
        raise missing
    return role


def no_flow(name: str) -> str:
    return f"no flow '{name}'; GET /api/v1/flows lists the flows"


@dataclass(frozen=True, slots=True)
class Expired:
    """A genuine token past its expiry: refused, and audited under its user."""

    user: str
    token_id: str
    expires_at: float


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role: unknown role '{role}': expected one of {', '.join(ROLES)}")
    return role


def check_namespace(namespace: str) -> str:
    if not NAMESPACE.fullmatch(namespace):
        raise InputError(
            f"namespace: '{namespace[:50]}' is not a namespace name: letters, digits, '_', "
            "'.' and '-', starting with a letter or digit, at most 200"
        )
    return namespace


def create_token(
    tx: Tx,
    user: str,
    role: str | None,
    description: str | None = None,
    now: float | None = None,
    *,
    expires_in: float | None = None,
    namespace: str | None = None,
) -> tuple[str, str]:
    """Store a new token; its id and its text, which is shown once and never again.

    `role` None: the token carries only its user's grants. `expires_in`: seconds from `now`
    until it stops working (None: never). `namespace`: the one namespace it may act in.
    """
    if role is not None:
        check_role(role)
    if namespace is not None:
        check_namespace(namespace)
    if not user.strip():
        raise InputError("user: must not be empty")
    if len(user.strip()) > 200:
        raise InputError("user: at most 200 characters")
    if expires_in is not None and not expires_in > 0:
        raise InputError(f"expires: must be a duration > 0, got {expires_in:g} seconds")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    created = time.time() if now is None else now
    tx.insert_token(
        {
            "id": token_id,
            "user_name": user.strip(),
            "role": role,
            "secret_hash": _hash(secret),
            "description": description,
            "created_at": created,
            "expires_at": None if expires_in is None else created + expires_in,
            "namespace": namespace,
        }
    )
    return token_id, f"{PREFIX}{token_id}_{secret}"


def identify(read: Tx, text: str | None, now: float) -> Principal | Expired | None:
    """The caller a token's text names; `Expired` for a genuine token past its expiry; None
    for a missing, malformed, unknown or revoked token (the caller gets the same 401 for
    each: no hint which)."""
    if not text or not text.startswith(PREFIX):
        return None
    token_id, _, secret = text[len(PREFIX) :].partition("_")
    row = read.token(token_id) if token_id and secret else None
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return Expired(user=row["user_name"], token_id=token_id, expires_at=row["expires_at"])
    return Principal(
        user=row["user_name"],
        role=row["role"],
        token_id=token_id,
        namespace=row["namespace"],
        grants=read.grants_of(row["user_name"]),
        last_used_at=row["last_used_at"],
    )


def authenticate(read: Tx, text: str | None, now: float | None = None) -> Principal | None:
    """The caller a token's text names, or None for any token that does not work now."""
    found = identify(read, text, time.time() if now is None else now)
    return found if isinstance(found, Principal) else None


def needs_touch(principal: Principal, now: float) -> bool:
    """Whether this use should be recorded (`Tx.touch_token`): the last one recorded is
    older than `TOUCH_EVERY`. Checked on the row already read, so most requests write
    nothing."""
    return principal.last_used_at is None or now - principal.last_used_at >= TOUCH_EVERY


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def users(read: Tx, now: float) -> list[dict[str, object]]:
    """Everyone holding a token that works at `now`, with the global roles their tokens carry
    (highest first) and their grants: what `baton users` and `GET /api/v1/users` show.

    A user's grants are their own and those of their groups (`group`: the group it comes
    through; None: their own), each `{id, role, namespace, flow, group}`, oldest first.
    """
    found: dict[str, set[str]] = {}
    for r in read.users(now):
        roles = found.setdefault(r["user_name"], set())
        if r["role"] is not None:
            roles.add(r["role"])
    members: dict[str, set[str]] = {}
    for m in read.group_members():
        members.setdefault(m["group_name"], set()).add(m["user_name"])
    held: dict[str, list[dict[str, object]]] = {u: [] for u in found}
    for g in read.grants():
        group = g["subject"] if g["subject_kind"] == "group" else None
        holders = members.get(g["subject"], set()) if group else {g["subject"]}
        for u in sorted(holders & found.keys()):
            held[u].append(
                {
                    "id": g["id"],
                    "role": g["role"],
                    "namespace": g["scope"] if g["scope_kind"] == "namespace" else None,
                    "flow": g["scope"] if g["scope_kind"] == "flow" else None,
                    "group": group,
                }
            )
    return [
        {"user": u, "roles": sorted(found[u], key=ROLES.index, reverse=True), "grants": held[u]}
        for u in sorted(found)
    ]
