"""`baton tokens`, `baton users` and `baton audit`: who may call the API, and who changed what.

Every change a command makes directly on the store is audited by `common.audit` (actor
`cli:<OS user>`); these commands read that log and manage the tokens the API checks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from baton.cli import common, history

if TYPE_CHECKING:
    from baton.store.store import Row


def add_commands(sub: Any) -> None:
    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    p = tokens.add_parser("create", help="a new token for a user (shown once)")
    p.add_argument("--user", required=True, help="who the token is for")
    p.add_argument(
        "--role",
        type=_role,
        help="its global role: viewer, operator, editor or admin (none: only the user's grants)",
    )
    p.add_argument(
        "--expires",
        type=history.duration,
        metavar="DURATION",
        help="it stops working after this long: 30s, 15m, 6h, 30d (default: never)",
    )
    p.add_argument("--namespace", type=_namespace, help="limit it to this one namespace")
    p.add_argument("--description", help="what the token is for")
    common.json_option(p)
    p.set_defaults(command=cmd_tokens_create)
    p = tokens.add_parser(
        "list", help="the active tokens: created, expires, last used (never their secrets)"
    )
    p.add_argument("--all", action="store_true", help="include revoked tokens")
    common.json_option(p)
    p.set_defaults(command=cmd_tokens_list)
    p = tokens.add_parser("revoke", help="revoke a token: it stops working at once")
    p.add_argument("token_id", metavar="ID")
    p.set_defaults(command=cmd_tokens_revoke)

    p = sub.add_parser("users", help="everyone holding a working token, with roles and grants")
    common.json_option(p)
    p.set_defaults(command=cmd_users)

    p = sub.add_parser(
        "audit", help="the audit log: API calls and CLI commands that change something"
    )
    p.add_argument(
        "--since",
        type=_since,
        metavar="AGE|TIME",
        help="only entries of the last AGE (30s, 15m, 6h, 30d) or since an ISO time",
    )
    p.add_argument("--actor", help="only this actor's entries (a user, or cli:<OS user>)")
    p.add_argument("--action", help="only this action, e.g. runs.cancel")
    p.add_argument("--limit", type=common.positive_int, default=50, help="how many (default 50)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print a JSON array")
    shape.add_argument("--jsonl", action="store_true", help="print JSON lines (an export)")
    p.set_defaults(command=cmd_audit)


def _role(text: str) -> str:
    from baton.api.auth import ROLES

    if text not in ROLES:
        raise argparse.ArgumentTypeError(
            f"unknown role '{text}': expected one of {', '.join(ROLES)}"
        )
    return text


def _namespace(text: str) -> str:
    from baton.api.auth import NAMESPACE

    if not NAMESPACE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"'{text[:50]}' is not a namespace name: letters, digits, '_', '.' and '-'"
        )
    return text


def _since(text: str) -> float:
    """A start time: an age (`1h`: that long ago) or an ISO time (UTC unless it says)."""
    import time

    try:
        return time.time() - history.duration(text)
    except argparse.ArgumentTypeError:
        pass
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text[:50]}' is neither an age (30s, 15m, 6h, 30d) nor an ISO time "
            "(2026-12-01T08:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def cmd_tokens_create(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton.api.auth import create_token

    with ctx.store() as store, store.transaction() as tx:
        token_id, text = create_token(
            tx,
            args.user,
            args.role,
            args.description,
            expires_in=args.expires,
            namespace=args.namespace,
        )
        row = tx.token(token_id)
        assert row is not None
        common.audit(tx, "tokens.create", token_id, _audited(row))
    shown = _token(row)
    if args.json:
        print(json.dumps({**shown, "token": text}))
    else:
        print(text)
        role = args.role or "no global role"
        limits = [f"namespace {args.namespace}"] if args.namespace else []
        limits += [f"expires {shown['expires_at']}"] if shown["expires_at"] else []
        more = f"; {', '.join(limits)}" if limits else ""
        print(
            f"token {token_id} for {args.user} ({role}{more}): shown this once, keep it safe",
            file=sys.stderr,
        )
    return 0


def cmd_tokens_list(args: argparse.Namespace, ctx: common.Context) -> int:
    import json
    import time

    from baton.cli import display

    with ctx.store() as store:
        rows = store.read().tokens(include_revoked=args.all)
    data = [_token(r) for r in rows]
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    now = time.time()
    table = [
        [
            d["id"],
            d["user"],
            d["role"] or "-",
            d["namespace"] or "",
            _short(d["created_at"]),
            (_short(d["expires_at"]) or "never")
            + (" (expired)" if r["expires_at"] is not None and r["expires_at"] <= now else ""),
            _short(d["last_used_at"]) or "never",
            _short(d["revoked_at"]),
        ]
        for d, r in zip(data, rows, strict=True)
    ]
    header = ["id", "user", "role", "namespace", "created", "expires", "last used", "revoked"]
    display.print_table(f"{len(data)} tokens", header, table, state_col=0)
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, ctx: common.Context) -> int:
    import time

    from baton.errors import NotFoundError

    with ctx.store() as store, store.transaction() as tx:
        if not tx.revoke_token(args.token_id, time.time()):
            raise NotFoundError(f"no active token '{args.token_id}'; `baton tokens list`")
        common.audit(tx, "tokens.revoke", args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


def cmd_users(args: argparse.Namespace, ctx: common.Context) -> int:
    import json
    import time

    from baton.api.auth import users
    from baton.cli import display

    with ctx.store() as store:
        data = users(store.read(), time.time())
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    table = [
        [str(d["user"]), ", ".join(d["roles"]) or "-", _grants(d["grants"])]  # type: ignore[arg-type]
        for d in data
    ]
    display.print_table(f"{len(data)} users", ["user", "roles", "grants"], table, state_col=0)
    return 0


def cmd_audit(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with ctx.store() as store:
        rows = store.read().audit(
            limit=args.limit, actor=args.actor, action=args.action, since=args.since
        )
    data = [_entry(r) for r in rows]
    if args.jsonl:
        for d in reversed(data):  # oldest first: an export appends in the log's order
            print(json.dumps(d))
    elif args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_audit(data)
    return 0


# -- helpers -----------------------------------------------------------------------------


def _token(r: Row) -> dict[str, Any]:
    from baton.model.times import iso

    return {
        "id": r["id"],
        "user": r["user_name"],
        "role": r["role"],
        "namespace": r["namespace"],
        "description": r["description"],
        "created_at": iso(r["created_at"]),
        "expires_at": iso(r["expires_at"]),
        "last_used_at": iso(r["last_used_at"]),
        "revoked_at": iso(r["revoked_at"]),
    }


def _audited(r: Row) -> dict[str, Any]:
    """What a token's audit entry says of it: never its secret (nor its hash)."""
    return {
        "user": r["user_name"],
        "role": r["role"],
        "namespace": r["namespace"],
        "expires_at": r["expires_at"],
    }


def _entry(r: Row) -> dict[str, Any]:
    import json

    from baton.model.times import iso

    return {
        "id": r["id"],
        "at": iso(r["at"]),
        "actor": r["actor"],
        "token_id": r["token_id"],
        "role": r["role"],
        "action": r["action"],
        "object_type": r["object_type"],
        "object_id": r["object_id"],
        "outcome": r["outcome"],
        "status": r["status"],
        "remote": r["remote"],
        "detail": json.loads(r["detail"]) if r["detail"] else None,
    }


def _print_audit(data: Sequence[dict[str, Any]]) -> None:
    from baton.cli import display

    table = [
        [
            _short(d["at"]),
            d["actor"],
            d["action"],
            d["object_id"] or "",
            d["outcome"],
            str(d["status"]),
        ]
        for d in data
    ]
    header = ["at", "actor", "action", "object", "outcome", "status"]
    display.print_table(f"{len(data)} audit entries", header, table, state_col=4)


def _grants(grants: Sequence[dict[str, Any]]) -> str:
    """A user's grants in a table cell: `operator on namespace finance (group ops)`."""
    return ", ".join(
        f"{g['role']} on "
        + (f"namespace {g['namespace']}" if g["namespace"] else f"flow {g['flow']}")
        + (f" (group {g['group']})" if g["group"] else "")
        for g in grants
    )


def _short(value: str | None) -> str:
    """An ISO time as tables show it: to the second, a space for the T."""
    return "" if value is None else value[:19].replace("T", " ")
