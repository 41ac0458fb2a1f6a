"""The scheduling commands of `baton`: scheduler, backfill, flows list/pause/unpause."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from baton.cli import common, remote

EXIT_FAILED = 1


def add_commands(sub: Any, flows: Any) -> None:
    """Add the scheduling commands to the top-level subparsers `sub` and to `flows`."""
    p = flows.add_parser(
        "list", help="every flow in the store: schedule, next run, paused, last run"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only flows with this tag (repeat it: flows with every one)",
    )
    p.add_argument("--owner", help="only flows of this owner (exactly)")
    remote.add_options(p)
    p.set_defaults(command=cmd_flows_list)
    p = flows.add_parser("pause", help="stop a flow's schedule and triggers creating runs")
    p.add_argument("name", metavar="FLOW")
    p.set_defaults(command=cmd_flows_pause, paused=True)
    p = flows.add_parser(
        "unpause",
        help="let a flow's schedule and triggers create runs again (with catchup: true, the "
        "runs the pause missed; otherwise only the latest)",
    )
    p.add_argument("name", metavar="FLOW")
    p.set_defaults(command=cmd_flows_pause, paused=False)

    p = sub.add_parser(
        "scheduler",
        help="create the runs of deployed flows' schedules and triggers (the timers of "
        "`baton server`, without the rest)",
    )
    common.path_option(p)
    common.wait_for_db_option(p)
    p.set_defaults(command=cmd_scheduler)

    p = sub.add_parser(
        "backfill",
        help="runs of a deployed flow for each logical date of its schedule in a range, or "
        "for each partition key selected",
        description="Either --start and --end (logical dates of the schedule), or "
        "--partitions and/or --missing / --failed (partition keys; one run per key, never "
        "two active runs for one key).",
    )
    p.add_argument("flow", metavar="FLOW")
    p.add_argument("--start", metavar="DATE", help="first logical date (ISO 8601)")
    p.add_argument("--end", metavar="DATE", help="last logical date, inclusive (ISO 8601)")
    p.add_argument(
        "--partitions",
        metavar="KEYS",
        help="partition keys and inclusive ranges: 2024-01-01..2024-01-31, eu,us (default "
        "with --missing or --failed: every key)",
    )
    p.add_argument("--missing", action="store_true", help="only partitions that never ran")
    p.add_argument("--failed", action="store_true", help="only partitions whose newest run failed")
    p.add_argument(
        "--max-parallel",
        type=common.positive_int,
        default=1,
        metavar="N",
        help="how many of its runs may be active at once (default 1: oldest first, in order)",
    )
    p.add_argument(
        "--rerun", action="store_true", help="also run dates that already have a successful run"
    )
    common.path_option(p)
    p.add_argument("--json", action="store_true", help="print the runs as JSON")
    common.wait_for_db_option(p)
    p.set_defaults(command=cmd_backfill)


# -- commands ----------------------------------------------------------------------------


def cmd_flows_list(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton.cli import display, runs
    from baton.model import triggers

    with runs.opened(args, ctx) as chosen:
        data = chosen.list_flows()
    data = [
        d
        for d in data
        if all(t in d["tags"] for t in args.tag) and args.owner in (None, d["owner"])
    ]
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    rows = [
        [
            d["name"],
            "paused" if d["paused"] else "active" if d["deployed"] else "not deployed",
            _schedule_text(d["schedule"]),
            _short(d["next_run_at"]),
            ", ".join(triggers.kind_of(t) for t in d["triggers"]),
            " ".join(_short(v) for v in (d["last_run"] or {}).values()),
            ", ".join(d["tags"]),
            d["owner"] or "",
        ]
        for d in data
    ]
    display.print_table(
        f"{len(data)} flows",
        ["flow", "state", "schedule", "next run (UTC)", "triggers", "last run", "tags", "owner"],
        rows,
        state_col=1,
    )
    return 0


def cmd_flows_pause(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.errors import NotFoundError

    with ctx.store() as store, store.transaction() as tx:
        if not tx.set_paused(args.name, args.paused):
            raise NotFoundError(f"no flow '{args.name}'; `baton flows list` shows the flows")
        common.audit(tx, "flows.pause" if args.paused else "flows.unpause", args.name)
    print(f"flow {args.name} {'paused' if args.paused else 'unpaused'}")
    return 0


def cmd_scheduler(args: argparse.Namespace, ctx: common.Context) -> int:
    return serve_timers(args, ctx, "scheduler")


def serve_timers(args: argparse.Namespace, ctx: common.Context, role: str) -> int:
    """Run the cluster's timers and the scheduler until SIGTERM or Ctrl-C."""
    import os
    import threading

    from baton.engine.service import Engine
    from baton.scheduling import timers
    from baton.scheduling.scheduler import Scheduler

    def say(line: str) -> None:
        print(f"baton {role}: {line}", file=sys.stderr, flush=True)

    stop = threading.Event()
    with ctx.store(args.wait_for_db, f"baton {role}") as store, common.stop_on_signal(stop):
        engine = Engine(store, clock=store.clock)  # the timers' clock (leases, schedules)
        scheduler = Scheduler(engine, project_dir=os.path.abspath(args.path), report=say)
        t = timers.Timers(engine, ctx.settings, scheduler=scheduler)
        say(f"{t.holder} started (timers, schedules, triggers)")
        timers.serve(t, stop)
    return 0


def cmd_backfill(args: argparse.Namespace, ctx: common.Context) -> int:
    import os
    import time

    from baton.engine.service import Engine
    from baton.errors import InputError
    from baton.scheduling import backfill

    by_keys = args.partitions is not None or args.missing or args.failed
    if by_keys and (args.start or args.end or args.rerun):
        raise InputError("give either --partitions / --missing / --failed, or --start and --end")
    if not by_keys and not (args.start and args.end):
        raise InputError(
            "give --start and --end (logical dates), or --partitions / --missing / --failed"
        )
    statuses = [s for s in ("missing", "failed") if getattr(args, s)]
    settings = ctx.settings
    with ctx.store(args.wait_for_db, "baton backfill") as store:
        engine = Engine(store)
        if by_keys:
            plan = backfill.plan_partitions(
                engine, args.flow, args.partitions, statuses=statuses, now=time.time()
            )
        else:
            plan = backfill.plan(
                engine, args.flow, args.start, args.end, rerun=args.rerun, now=time.time()
            )
        # Audited once planned, before the runs start: a backfill interrupted midway has
        # still changed the store.
        planned = sum(1 for i in plan.items if i.skipped is None)
        common.audit(store, "flows.backfill", args.flow, {"runs": planned})
        backfill.execute(
            engine,
            settings,
            plan,
            max_parallel=args.max_parallel,
            project_dir=os.path.abspath(args.path),
            patience=args.wait_for_db,
            say=common.say("baton backfill"),
        )
    _print_backfill(plan.items, as_json=args.json)
    ran = [i for i in plan.items if i.skipped is None]
    return 0 if all(i.state == "succeeded" for i in ran) else EXIT_FAILED


# -- helpers -----------------------------------------------------------------------------


def _print_backfill(items: Sequence[Any], *, as_json: bool) -> None:
    import json

    from baton.cli import display
    from baton.model.times import iso

    by_keys = any(i.partition is not None for i in items)
    data = [
        {
            **(
                {"partition": i.partition}
                if by_keys
                else {"logical_date": iso(i.logical_date.timestamp() if i.logical_date else None)}
            ),
            "run_id": i.run_id,
            "state": i.state,
            "parent_run_id": i.parent_run_id,
            "skipped": i.skipped,
        }
        for i in items
    ]
    if as_json:
        print(json.dumps(data, indent=2))
        return
    rows = [
        [
            d["partition"] if by_keys else _short(d["logical_date"]),
            d["state"] or "",
            d["run_id"] or "",
            f"skipped: {d['skipped']}"
            if d["skipped"]
            else f"rerun of {d['parent_run_id']}"
            if d["parent_run_id"]
            else "",
        ]
        for d in data
    ]
    created = sum(1 for i in items if i.skipped is None)
    display.print_table(
        f"backfill: {created} runs, {len(items) - created} skipped",
        ["partition" if by_keys else "logical date (UTC)", "state", "run", ""],
        rows,
        state_col=1,
    )


def _schedule_text(schedule: str | dict[str, Any] | None) -> str:
    if schedule is None or isinstance(schedule, str):
        return schedule or ""
    what = schedule.get("cron") or f"every {schedule['every']}"
    extra = [f"{k} {v}" for k, v in schedule.items() if k not in ("cron", "every")]
    return f"{what} ({', '.join(extra)})" if extra else what


def _short(value: Any) -> str:
    """An ISO time as the tables show it (to the second, a space for the T); else as is."""
    text = "" if value is None else str(value)
    if len(text) > 19 and text[10:11] == "T":
        return text[:19].replace("T", " ")
    return text
