"""`baton cache list` and `baton cache clear`: the task results kept for reuse (`cache:`).

Entries live in the store, so these act on what every worker of it shares. Clearing only
makes the next run of a task compute its result again; no run changes.
"""

from __future__ import annotations

import argparse
from typing import Any

from baton.cli import common

LIST_LIMIT = 100


def add_commands(sub: Any) -> None:
    cache = sub.add_parser("cache", help="list or clear cached task results").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    p = cache.add_parser("list", help="cached task results, newest first")
    p.add_argument("--flow", dest="flow_name", help="only this flow's entries")
    p.add_argument(
        "--limit",
        type=common.positive_int,
        default=LIST_LIMIT,
        help=f"how many (default {LIST_LIMIT})",
    )
    common.json_option(p)
    p.set_defaults(command=cmd_cache_list)
    p = cache.add_parser(
        "clear", help="forget cached task results (all, or a flow's, a task's, older ones)"
    )
    p.add_argument("--flow", dest="flow_name", help="only this flow's entries")
    p.add_argument("--task", dest="task_key", help="only this task's entries (a task key)")
    p.add_argument(
        "--older-than",
        type=duration,
        metavar="AGE",
        help="only entries stored more than AGE ago: 30s, 15m, 6h, 1d or seconds",
    )
    common.json_option(p, "print the count as JSON")
    p.set_defaults(command=cmd_cache_clear)


def duration(text: str) -> float:
    """An age as every baton duration is written (`model.durations`); argparse names the
    option in its error."""
    from baton.errors import InputError
    from baton.model import durations

    try:
        return durations.parse(text, "--older-than", error=InputError)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_cache_list(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display
    from baton.execution.views import CacheEntryView

    with ctx.store() as store:
        rows = store.read().cache_entries(flow=args.flow_name, limit=args.limit)
    display.cache_entries([CacheEntryView.of(r) for r in rows], as_json=args.json)
    return 0


def cmd_cache_clear(args: argparse.Namespace, ctx: common.Context) -> int:
    import json
    import time

    # Entries are stamped by their worker's clock (the engine's), not the database's.
    before = None if args.older_than is None else time.time() - args.older_than
    with ctx.store() as store, store.transaction() as tx:
        cleared = tx.clear_cache(flow=args.flow_name, task=args.task_key, before=before)
        scope = {"flow": args.flow_name, "task": args.task_key, "before": before}
        common.audit(tx, "cache.clear", args.flow_name, {**scope, "cleared": cleared})
    if args.json:
        print(json.dumps({"cleared": cleared}))
    else:
        print(f"{cleared} cache entr{'y' if cleared == 1 else 'ies'} cleared")
    return 0
