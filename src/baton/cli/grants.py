"""`baton grants` (add, list, remove) and `baton groups` (add-member, remove-member, list):
who holds which role on which namespace or flow. Each change writes an audit row
(`cli:<OS user>`) in the transaction that makes it."""

from __future__ import annotations

import argparse
from typing import Any

from baton.cli import common


def add_commands(sub: Any) -> None:
    grants = sub.add_parser(
        "grants", help="roles of users and groups on a namespace or one flow"
    ).add_subparsers(title="commands", metavar="COMMAND", required=True)
    p = grants.add_parser("add", help="give a user or a group a role on a namespace or flow")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the user (as their tokens name them)")
    who.add_argument("--group", help="a group (`baton groups add-member`)")
    p.add_argument("--role", required=True, help="viewer, operator, editor or admin")
    on = p.add_mutually_exclusive_group(required=True)
    on.add_argument("--namespace", help="every flow of this namespace")
    on.add_argument("--flow", help="one flow: `name` or `namespace/name`")
    common.json_option(p)
    p.set_defaults(command=cmd_add)
    p = grants.add_parser("list", help="the grants, oldest first")
    p.add_argument("--user", "--group", dest="subject", help="only this user's or group's")
    p.add_argument("--namespace", "--flow", dest="scope", help="only those on this")
    common.json_option(p)
    p.set_defaults(command=cmd_list)
    p = grants.add_parser("remove", help="take a grant back (by its id)")
    p.add_argument("grant_id", metavar="ID", type=common.positive_int)
    p.set_defaults(command=cmd_remove)

    groups = sub.add_parser("groups", help="groups of users, to grant roles to").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    p = groups.add_parser("add-member", help="put a user in a group (made by its first member)")
    p.add_argument("group")
    p.add_argument("user")
    p.set_defaults(command=cmd_add_member)
    p = groups.add_parser("remove-member", help="take a user out of a group")
    p.add_argument("group")
    p.add_argument("user")
    p.set_defaults(command=cmd_remove_member)
    p = groups.add_parser("list", help="every group with its members")
    common.json_option(p)
    p.set_defaults(command=cmd_groups)


def cmd_add(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton.api import grants

    with ctx.store() as store, store.transaction() as tx:
        grant_id = grants.add_grant(
            tx,
            role=args.role,
            by=common.actor(),
            user=args.user,
            group=args.group,
            namespace=args.namespace,
            flow=args.flow,
        )
        row = tx.grant(grant_id)
        assert row is not None
        shown = grants.grant_json(row)
        common.audit(tx, "grants.create", str(grant_id), _detail(shown))
    if args.json:
        print(json.dumps(shown))
    else:
        print(f"grant {grant_id}: {_line(shown)}")
    return 0


def cmd_list(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton.api import grants
    from baton.cli import display

    with ctx.store() as store:
        rows = store.read().grants(subject=args.subject, scope=args.scope)
    data = [grants.grant_json(r) for r in rows]
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    table = [
        [
            str(d["id"]),
            f"user {d['user']}" if d["user"] else f"group {d['group']}",
            d["role"],
            f"namespace {d['namespace']}" if d["namespace"] else f"flow {d['flow']}",
            d["created_by"],
        ]
        for d in data
    ]
    header = ["id", "who", "role", "on", "by"]
    display.print_table(f"{len(data)} grants", header, table, state_col=0)
    return 0


def cmd_remove(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.api import grants
    from baton.errors import NotFoundError

    with ctx.store() as store, store.transaction() as tx:
        row = tx.grant(args.grant_id)
        if row is None or not tx.remove_grant(args.grant_id):
            raise NotFoundError(f"no grant {args.grant_id}; `baton grants list` shows them")
        shown = grants.grant_json(row)
        common.audit(tx, "grants.remove", str(args.grant_id), _detail(shown))
    print(f"grant {args.grant_id} removed: {_line(shown)}")
    return 0


def cmd_add_member(args: argparse.Namespace, ctx: common.Context) -> int:
    import time

    from baton.api import grants

    grants.check_subject(args.group, "group")
    grants.check_subject(args.user, "user")
    with ctx.store() as store, store.transaction() as tx:
        added = tx.add_group_member(args.group, args.user, time.time())
        if added:
            common.audit(tx, "groups.add_member", args.group, {"user": args.user})
    print(f"{args.user} {'is now' if added else 'was already'} in group {args.group}")
    return 0


def cmd_remove_member(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.errors import NotFoundError

    with ctx.store() as store, store.transaction() as tx:
        if not tx.remove_group_member(args.group, args.user):
            raise NotFoundError(f"'{args.user}' is not in group '{args.group}'")
        common.audit(tx, "groups.remove_member", args.group, {"user": args.user})
    print(f"{args.user} is no longer in group {args.group}")
    return 0


def cmd_groups(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton.api import grants
    from baton.cli import display

    with ctx.store() as store:
        data = grants.groups_json(store.read().group_members())
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    table = [[d["group"], ", ".join(d["members"])] for d in data]
    display.print_table(f"{len(data)} groups", ["group", "members"], table, state_col=0)
    return 0


def _line(d: dict[str, Any]) -> str:
    who = f"user {d['user']}" if d["user"] else f"group {d['group']}"
    on = f"namespace {d['namespace']}" if d["namespace"] else f"flow {d['flow']}"
    return f"{who} holds {d['role']} on {on}"


def _detail(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in ("id", "created_at") and v is not None}
