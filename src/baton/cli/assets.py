"""`baton assets ...`: the asset catalog, an asset's history and lineage, reporting a write
made outside baton, running an asset's checks.

Each command reads the store (`_Local`) or, with `--server` / BATON_SERVER, a server's API
(`_Remote`); both answer the JSON of `execution.asset_views`, so the two print the same.
`check` runs the checks' code here, so it always uses the store.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from baton.cli import common, partitions, remote

if TYPE_CHECKING:
    from baton.store.store import Store

MAX_DEPTH = 10  # = asset_views.MAX_DEPTH (not imported: `baton --help` stays light)
MAX_LIST = 10_000
ASSET_STATUSES = ("materialized", "failed", "missing", "stale")  # = partition_views'


def add_commands(sub: Any) -> None:
    assets = sub.add_parser(
        "assets", help="the asset catalog: list, show, history, lineage, report, check"
    ).add_subparsers(title="commands", metavar="COMMAND", required=True)

    p = assets.add_parser("list", help="catalogued assets by name, with freshness and checks")
    p.add_argument("--tag", help="only assets with this tag")
    p.add_argument("--stale", action="store_true", help="only assets evaluated stale")
    p.add_argument("--search", metavar="TEXT", help="only names or descriptions with TEXT")
    p.add_argument(
        "--limit",
        type=_limit,
        default=1000,
        help=f"at most this many (default 1000, <= {MAX_LIST})",
    )
    common.json_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_list)

    p = assets.add_parser("show", help="an asset: producers, consumers, last write, checks")
    _name(p)
    p.add_argument(
        "--partitions",
        action="store_true",
        help="instead, each partition key with its status: materialized, failed, missing, stale",
    )
    p.add_argument(
        "--status",
        action="append",
        choices=ASSET_STATUSES,
        help="with --partitions, only keys with this status (repeatable)",
    )
    common.json_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_show)

    p = assets.add_parser("history", help="an asset's materializations, newest first")
    _name(p)
    p.add_argument("--limit", type=_limit, default=20, help="how many (default 20)")
    common.json_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_history)

    p = assets.add_parser(
        "lineage", help="the assets upstream and downstream of one, and the tasks between"
    )
    _name(p)
    for way in ("upstream", "downstream"):
        p.add_argument(
            f"--{way}",
            type=_depth,
            default=3,
            metavar="N",
            help=f"asset hops {way} (0-{MAX_DEPTH}, default 3)",
        )
    common.json_option(p, "print {root, nodes: [{id, kind, ...}], edges: [{from, to}]}")
    remote.add_options(p)
    p.set_defaults(command=cmd_lineage)

    p = assets.add_parser(
        "report",
        help="record a write of an asset made outside baton (fires its asset triggers)",
    )
    _name(p)
    p.add_argument(
        "--metadata",
        action="append",
        default=[],
        type=_metadata_item,
        metavar="KEY=VALUE",
        help="metadata (repeatable); VALUE is read as JSON if it is JSON, else as text",
    )
    p.add_argument("--partition", help="the partition written")
    p.add_argument("--data-version", help="a version of the data written (a hash, a date)")
    common.json_option(p, "print the materialization recorded")
    remote.add_options(p)
    p.set_defaults(command=cmd_report)

    p = assets.add_parser("check", help="run an asset's checks now on its last write (recorded)")
    _name(p)
    common.path_option(p)
    common.json_option(p, "print the results as JSON")
    p.set_defaults(command=cmd_check)


# -- commands ----------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with _opened(args, ctx) as source:
        items = source.catalog(
            tag=args.tag, stale=args.stale or None, q=args.search, limit=args.limit
        )
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    from baton.cli.display import print_table

    rows = [
        [
            a["name"],
            a["freshness"] or "-",
            _when(a["last_materialization_at"]),
            f"{a['checks_failing']} failing / {a['checks']}" if a["checks"] else "-",
            a["owner"] or "",
            ", ".join(a["tags"]),
        ]
        for a in items
    ]
    print_table(
        f"{len(items)} assets",
        ["asset", "freshness", "last written (UTC)", "checks", "owner", "tags"],
        rows,
        state_col=1,
    )
    return 0


def cmd_show(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    if args.partitions:
        return _show_partitions(args, ctx)
    if args.status:
        from baton.errors import InputError

        raise InputError("--status goes with --partitions")
    with _opened(args, ctx) as source:
        a = source.show(args.name)
    if args.json:
        print(json.dumps(a, indent=2))
        return 0
    print(f"asset {a['name']}")
    for label, value in (
        ("description", a["description"]),
        ("owner", a["owner"]),
        ("tags", ", ".join(a["tags"])),
        ("declared by", a.get("declared_by") and f"flow {a['declared_by']}"),
    ):
        if value:
            print(f"  {label}: {value}")
    for label in ("producers", "consumers"):
        refs = ", ".join(f"{r['flow']}/{r['task']}" for r in a[label]) or "none"
        print(f"  {label}: {refs}")
    m = a["last_materialization"]
    if m is None:
        print("  last written: never")
    else:
        by = f"run {m['run_id']} task {m['task']}" if m["run_id"] else "reported"
        print(f"  last written: {_when(m['at'])} UTC by {by}")
        if m["data_version"]:
            print(f"    data version: {m['data_version']}")
        if m["metadata"]:
            print(f"    metadata: {json.dumps(m['metadata'])}")
    f = a["freshness"]
    if f is not None:
        due = f" (due {_when(f['due'])} UTC)" if f["due"] else ""
        print(f"  freshness: {f['state']}{due}")
    for c in a["checks"]:
        last = c["last"]
        result = (
            "never run"
            if last is None
            else f"{'passed' if last['passed'] else 'FAILED'} at {_when(last['at'])} UTC"
        )
        print(f"  check {c['name']} ({c['severity']}): {result}")
    return 0


def _show_partitions(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with _opened(args, ctx) as source:
        data = source.partitions(args.name, args.status)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    rows = [
        [i["key"], i["status"], _when(i["materialized_at"]), i["run_id"] or ""]
        for i in data["items"]
    ]
    whose = f"asset {data['asset']} (flow {data['flow']})"
    partitions.print_page(data, whose, ["partition", "status", "written (UTC)", "run"], rows)
    return 0


def cmd_history(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with _opened(args, ctx) as source:
        items = source.history(args.name, args.limit)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    from baton.cli.display import print_table

    rows = [
        [
            str(m["id"]),
            _when(m["at"]),
            m["source"],
            m["run_id"] or (m["reported_by"] or ""),
            m["task"] or "",
            m["partition"] or "",
            m["data_version"] or "",
            _short(json.dumps(m["metadata"])) if m["metadata"] else "",
        ]
        for m in items
    ]
    print_table(
        f"{len(items)} materializations of {args.name}",
        ["id", "at (UTC)", "source", "run / by", "task", "partition", "version", "metadata"],
        rows,
        state_col=2,
    )
    return 0


def cmd_lineage(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    with _opened(args, ctx) as source:
        g = source.lineage(args.name, args.upstream, args.downstream)
    if args.json:
        print(json.dumps(g, indent=2))
        return 0
    shown = {
        n["id"]: n["name"] if n["kind"] == "asset" else f"[{n['flow']}/{n['task']}]"
        for n in g["nodes"]
    }
    assets = sum(1 for n in g["nodes"] if n["kind"] == "asset")
    print(
        f"lineage of {g['root']}: {assets} assets, {len(g['nodes']) - assets} tasks "
        f"(--upstream {args.upstream}, --downstream {args.downstream})"
    )
    for e in g["edges"]:
        print(f"  {shown[e['from']]} -> {shown[e['to']]}")
    if g.get("truncated"):
        print("  ... (truncated: ask for fewer hops)")
    return 0


def cmd_report(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    metadata: dict[str, Any] = {}
    for key, value in args.metadata:
        metadata[key] = value
    with _opened(args, ctx) as source:
        m = source.report(args.name, metadata, args.partition, args.data_version)
    if args.json:
        print(json.dumps(m, indent=2))
    else:
        print(f"materialization {m['id']} of {m['asset']} recorded")
    return 0


def cmd_check(args: argparse.Namespace, ctx: common.Context) -> int:
    import json
    import os
    import time

    from baton.execution.checks import check_on_demand
    from baton.execution.secrets import Secrets

    if not os.path.isdir(args.path):
        from baton.errors import InputError

        raise InputError(f"--path {args.path}: no such folder")
    with ctx.store() as store:
        rows = check_on_demand(
            store,
            args.name,
            time.time(),
            secrets=Secrets.load(ctx.settings),
            project_dir=os.path.abspath(args.path),
            log=None,  # the results, printed below, say it all
        )
    from baton.execution.asset_views import CheckResultView

    results = [CheckResultView.of(r).to_json() for r in rows]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            verdict = "passed" if r["passed"] else "FAILED"
            why = f": {r['error']}" if r["error"] else ""
            if r["failing_rows"]:
                why = f": {len(r['failing_rows'])} failing row(s)"
            took = f" in {r['duration']:.3f}s" if r["duration"] is not None else ""
            print(f"check {r['check']} ({r['severity']}): {verdict}{took}{why}")
    # A failed error-severity check is a failure, as it fails the task that writes the asset.
    return 1 if any(not r["passed"] and r["severity"] == "error" for r in results) else 0


# -- where the answers come from ---------------------------------------------------------


def _opened(args: argparse.Namespace, ctx: common.Context) -> Any:
    return remote.answers(args, ctx.store, _Remote, lambda store: _Local(store, ctx))


class _Local:
    def __init__(self, store: Store, ctx: common.Context) -> None:
        self.store, self.ctx = store, ctx

    def catalog(self, **filters: Any) -> list[dict[str, Any]]:
        from baton.execution import asset_views

        return [a.to_json() for a in asset_views.asset_list(self.store.read(), **filters)]

    def show(self, name: str) -> dict[str, Any]:
        import time

        from baton.execution import asset_views

        found = asset_views.asset_show(self.store.read(), name, time.time())
        if found is None:
            raise _unknown(name)
        return found.to_json()

    def partitions(self, name: str, statuses: list[str] | None) -> dict[str, Any]:
        import time

        from baton.execution import partition_views as pv

        spec, views = pv.asset_partitions(self.store.read(), _checked(name), time.time())
        return pv.asset_page(name, spec, views, pv.chosen(views, statuses, pv.ASSET_STATUSES))

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        from baton.execution import asset_views

        read = self.store.read()
        if read.asset(name) is None and not read.asset_links([name]):
            raise _unknown(name)
        return [m.to_json() for m in asset_views.asset_history(read, name, limit=limit)]

    def lineage(self, name: str, upstream: int, downstream: int) -> dict[str, Any]:
        from baton.execution import asset_views

        g = asset_views.lineage(self.store.read(), name, upstream=upstream, downstream=downstream)
        if g is None:
            raise _unknown(name)
        return g.to_json()

    def report(
        self, name: str, metadata: dict[str, Any], partition: str | None, version: str | None
    ) -> dict[str, Any]:
        import getpass
        import time

        from baton.execution import asset_views
        from baton.execution.secrets import Secrets

        secrets = Secrets.load(self.ctx.settings)
        try:
            user: str | None = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a container)
            user = None
        with self.store.transaction() as tx:
            m = asset_views.report(
                tx,
                name,
                metadata,
                partition=partition,
                data_version=version,
                reported_by=user,
                mask=secrets.mask_json,
                now=time.time(),
            )
            common.audit(tx, "assets.report", name, {"partition": partition})
        return m.to_json()


class _Remote:
    def __init__(self, client: remote.Client) -> None:
        self.client = client

    def catalog(
        self, *, tag: str | None, stale: bool | None, q: str | None, limit: int
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < limit:
            page = self.client.get(
                "/assets",
                tag=tag,
                stale=None if stale is None else str(stale).lower(),
                q=q,
                limit=min(limit - len(items), remote.PAGE),
                cursor=cursor,
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return items

    def show(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get(f"/assets/{_checked(name)}")
        return data

    def partitions(self, name: str, statuses: list[str] | None) -> dict[str, Any]:
        return partitions.all_pages(self.client, f"/assets/{_checked(name)}/partitions", statuses)

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < limit:
            page = self.client.get(
                f"/assets/{_checked(name)}/materializations",
                limit=min(limit - len(items), remote.PAGE),
                cursor=cursor,
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return items

    def lineage(self, name: str, upstream: int, downstream: int) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get(
            "/lineage", asset=_checked(name), upstream=upstream, downstream=downstream
        )
        return data

    def report(
        self, name: str, metadata: dict[str, Any], partition: str | None, version: str | None
    ) -> dict[str, Any]:
        body = {"metadata": metadata, "partition": partition, "data_version": version}
        data: dict[str, Any] = self.client.post(
            f"/assets/{_checked(name)}/materializations", body=body
        )
        return data


# -- helpers -----------------------------------------------------------------------------


def _name(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="an asset name, e.g. warehouse.orders")


def _checked(name: str) -> str:
    """`name` for a URL path: a bad one is refused here (it could hold `/` or `?`)."""
    from baton.errors import InputError
    from baton.model.assets import NAME_RULE, is_name

    if not is_name(name):
        raise InputError(f"asset name '{name[:300]}' is not valid: use {NAME_RULE}")
    return name


def _unknown(name: str) -> Exception:
    from baton.errors import NotFoundError

    return NotFoundError(
        f"no asset '{name[:300]}': `baton assets list` shows the catalog (assets of "
        "deployed flows, and assets ever written)"
    )


def _depth(text: str) -> int:
    value = common.whole(text)
    if value > MAX_DEPTH:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_DEPTH} hops, got {value}")
    return value


def _limit(text: str) -> int:
    value = common.positive_int(text)
    if value > MAX_LIST:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_LIST}, got {value}")
    return value


def _metadata_item(text: str) -> tuple[str, Any]:
    import json

    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    try:
        parsed: Any = json.loads(value, parse_constant=_no_constant)
    except ValueError:  # text, or NaN / Infinity, which are not JSON
        parsed = value
    return key.strip(), parsed


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _when(at: str | None) -> str:
    return (at or "")[:19].replace("T", " ")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
