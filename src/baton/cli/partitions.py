"""`baton partitions ...`: a flow's partition keys with their status, and the keys of
dynamic partition sets (add, remove, list).

Each command reads or writes the store, or with `--server` / BATON_SERVER a server's API;
both answer the JSON of `execution.partition_views`, so the two print the same.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from baton.cli import common, remote

if TYPE_CHECKING:
    from baton.store.store import Store

STATUSES = ("succeeded", "failed", "running", "missing")  # = partition_views.STATUSES
PAGE = 10_000  # = the API's largest page of partitions (MAX_PARTITION_PAGE)


def add_commands(sub: Any) -> None:
    parts = sub.add_parser(
        "partitions", help="partition keys: a flow's with their status; dynamic sets' keys"
    ).add_subparsers(title="commands", metavar="COMMAND", required=True)

    p = parts.add_parser("show", help="a flow's partition keys, each with its newest run's status")
    p.add_argument("flow", metavar="FLOW")
    p.add_argument(
        "--status",
        action="append",
        choices=STATUSES,
        help="only keys with this status (repeatable)",
    )
    common.json_option(p, "print {flow, type, total, counts, items: [{key, status, ...}]}")
    remote.add_options(p)
    p.set_defaults(command=cmd_show)

    for verb, what in (("add", "add keys to"), ("remove", "remove keys from")):
        p = parts.add_parser(verb, help=f"{what} a dynamic partition set")
        p.add_argument("name", metavar="NAME", help="the set, as in {type: dynamic, name: NAME}")
        p.add_argument("keys", nargs="+", metavar="KEY")
        common.json_option(p)
        remote.add_options(p)
        p.set_defaults(command=cmd_change, verb=verb)

    p = parts.add_parser("keys", help="the keys of a dynamic partition set, as added")
    p.add_argument("name", metavar="NAME")
    common.json_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_keys)


def cmd_show(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with _opened(args, ctx) as source:
        data = source.show(args.flow, args.status)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    rows = [
        [i["key"], i["status"], i["run_id"] or "", _when(i["updated_at"])] for i in data["items"]
    ]
    print_page(data, f"flow {data['flow']}", ["partition", "status", "run", "updated (UTC)"], rows)
    return 0


def print_page(data: dict[str, Any], whose: str, header: list[str], rows: list[list[str]]) -> None:
    """A flow's or an asset's partitions as a table (`rows` of `data["items"]`)."""
    from baton.cli import display

    counts = ", ".join(f"{n} {s}" for s, n in data["counts"].items() if n)
    title = f"{whose}: {data['total']} {data['type']} partitions ({counts or 'none'})"
    display.print_table(title, header, rows, state_col=1)


def all_pages(client: remote.Client, path: str, statuses: list[str] | None) -> dict[str, Any]:
    """Every page of a partition listing (`path`) through a server, as one."""
    data: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        data = client.get(path, status=statuses, limit=PAGE, cursor=cursor)
        items += data["items"]
        cursor = data["next_cursor"]
        if cursor is None:
            return {**data, "items": items}


def cmd_change(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with _opened(args, ctx) as source:
        changed = source.change(args.verb, args.name, args.keys)
    if args.json:
        print(json.dumps({"name": args.name, "keys": changed}, indent=2))
        return 0
    done = "added to" if args.verb == "add" else "removed from"
    unchanged = len(set(args.keys)) - len(changed)
    note = f" ({unchanged} {'already there' if args.verb == 'add' else 'not there'})"
    plural = "" if len(changed) == 1 else "s"
    print(f"{len(changed)} key{plural} {done} {args.name}{note if unchanged else ''}")
    return 0


def cmd_keys(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with _opened(args, ctx) as source:
        found = source.keys(args.name)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print("\n".join(found) if found else f"dynamic partitions {args.name}: no keys")
    return 0


def _opened(args: argparse.Namespace, ctx: common.Context) -> Any:
    return remote.answers(args, ctx.store, _Remote, _Local)


class _Local:
    def __init__(self, store: Store) -> None:
        self.store = store

    def show(self, flow: str, statuses: list[str] | None) -> dict[str, Any]:
        import time

        from baton.errors import InputError, NotFoundError
        from baton.execution import partition_views

        read = self.store.read()
        row = read.flow(flow)
        if row is None:
            raise NotFoundError(f"no flow '{flow}'; `baton flows list` shows the flows")
        spec = read.load_version(row.latest_version)
        if spec.partitions is None:
            raise InputError(f"flow '{flow}' has no partitions")
        views = partition_views.flow_partitions(read, spec, time.time())
        return partition_views.flow_page(spec, views, partition_views.chosen(views, statuses))

    def change(self, verb: str, name: str, keys: list[str]) -> list[str]:
        import time

        from baton.engine import partitions

        if verb == "add":
            changed = partitions.add(self.store, name, keys, time.time())
        else:
            changed = partitions.remove(self.store, name, keys)
        if changed:
            common.audit(self.store, f"partitions.{verb}", name, {"keys": changed[:100]})
        return changed

    def keys(self, name: str) -> list[str]:
        from baton.engine.partitions import checked_keys

        checked_keys(name, ["k"])  # the name only
        return self.store.read().dynamic_partition_keys(name)


class _Remote:
    def __init__(self, client: remote.Client) -> None:
        self.client = client

    def show(self, flow: str, statuses: list[str] | None) -> dict[str, Any]:
        return all_pages(self.client, f"/flows/{_segment(flow)}/partitions", statuses)

    def change(self, verb: str, name: str, keys: list[str]) -> list[str]:
        path = f"/partitions/{_segment(name)}"
        if verb == "add":
            return list(self.client.post(path, body={"keys": keys})["keys"])
        removed: list[str] = []
        for start in range(0, len(keys), remote.PAGE):  # keys in a query: 500 a request
            chunk = keys[start : start + remote.PAGE]
            removed += self.client.delete(path, key=chunk)["keys"]
        return removed

    def keys(self, name: str) -> list[str]:
        items: list[str] = []
        cursor = None
        while True:
            page = self.client.get(
                f"/partitions/{_segment(name)}", limit=remote.PAGE, cursor=cursor
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


def _segment(name: str) -> str:
    """`name` for a URL path: one that could hold `/` or `?` is refused here."""
    from baton.errors import InputError
    from baton.model.assets import NAME_RULE, is_name

    if not is_name(name):
        raise InputError(f"'{name[:300]}' is not a valid name: use {NAME_RULE}")
    return name


def _when(at: str | None) -> str:
    return (at or "")[:19].replace("T", " ")
