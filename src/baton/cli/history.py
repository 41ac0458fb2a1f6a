"""`baton db prune`: forget finished runs older than an age (and `duration`, the age option's
type, which `baton server --prune-older-than` shares)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from baton.cli import common

_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """An age such as 30s, 15m, 6h or 30d, in seconds (argparse names the option if not)."""
    found = _DURATION.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a duration: give a whole number of s, m, h or d, e.g. 30d"
        )
    return float(int(found.group(1)) * _UNIT[found.group(2)])


def add_commands(db: Any) -> None:
    """`prune` under `baton db`."""
    p = db.add_parser(
        "prune",
        help="delete finished runs older than an age, with their tasks, attempts, events, "
        "logs and notifications (never a running run, nor a flow's latest run)",
    )
    p.add_argument(
        "--older-than",
        required=True,
        type=duration,
        metavar="AGE",
        help="runs that ended more than AGE ago: 30s, 15m, 6h, 30d",
    )
    p.add_argument("--flow", dest="flow_name", help="only this flow's runs")
    p.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    common.json_option(p, "print the counts as JSON")
    p.set_defaults(command=cmd_db_prune)


def cmd_db_prune(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton.scheduling import retention

    settings = ctx.settings
    with ctx.store() as store:
        counts = retention.prune(
            store,
            settings,
            older_than=args.older_than,
            flow=args.flow_name,
            dry_run=args.dry_run,
        )
        if not args.dry_run:
            detail = {"older_than": args.older_than, "counts": counts}
            common.audit(store, "db.prune", args.flow_name, detail)
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, **counts}, indent=2))
    else:
        print(retention.summary(counts, dry_run=args.dry_run))
    return 0
