"""`baton run FILE` and `baton materialize FILE ASSET...`: a run of a flow file, to its end.

Both run here with live progress on an embedded store, or, on a cluster store, create the
run for the workers (followed to its end with `--wait`). Exit 0 the run succeeded, 1 it
failed, 2 bad input (a bad definition or param; for materialize, an asset no task produces
or an upstream task with no success to reuse).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from contextlib import closing
from typing import TYPE_CHECKING, Any

from baton.cli import common

if TYPE_CHECKING:
    from baton.engine.service import Engine
    from baton.execution.loader import LoadedFlow

EXIT_FAILED = 1

Start = Callable[["Engine", "LoadedFlow", Mapping[str, Any]], str]  # the run's id


def add_commands(sub: Any) -> None:
    p = sub.add_parser("run", help="run a flow to the end in this process, with live progress")
    p.add_argument("path", metavar="FILE", help="a .py or .yaml file defining the flow")
    _options(p)
    p.add_argument(
        "--refresh-cache",
        action="store_true",
        help="tasks that cache compute their results again and replace the cached ones",
    )
    p.set_defaults(command=cmd_run)

    p = sub.add_parser(
        "materialize",
        help="run just the tasks producing some assets (reusing upstream results), as a run",
        description="Run the tasks of a flow that produce ASSET... Upstream tasks they "
        "depend on are not run: their result is reused from the latest run where they "
        "succeeded. With --upstream, everything the assets need runs too.",
    )
    p.add_argument("path", metavar="FILE", help="a .py or .yaml file defining the flow")
    p.add_argument("assets", nargs="+", metavar="ASSET", help="an asset a task of it outputs")
    p.add_argument(
        "--upstream",
        action="store_true",
        help="run every task the assets transitively need too, instead of reusing results",
    )
    _options(p)
    p.set_defaults(command=cmd_materialize)


def _options(p: argparse.ArgumentParser) -> None:
    common.flow_option(p)
    p.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a flow param (repeatable)",
    )
    p.add_argument(
        "--partition",
        metavar="KEY",
        help="the partition a run of a partitioned flow processes (e.g. 2024-01-31, eu); a "
        "time-partitioned flow defaults to the one that closed last",
    )
    common.concurrency_option(p)
    p.add_argument(
        "--wait",
        action="store_true",
        help="on a cluster store (PostgreSQL), follow the run to its end; without it the "
        "run is only created, for the workers",
    )
    common.json_option(p, "print the finished run as JSON")
    common.wait_for_db_option(p)


def cmd_run(args: argparse.Namespace, ctx: common.Context) -> int:
    import functools

    from baton.execution import local

    start = functools.partial(
        local.start_run, partition=args.partition, refresh_cache=args.refresh_cache
    )
    return _to_the_end(args, ctx, "baton run", start)


def cmd_materialize(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.execution import local

    def start(engine: Engine, flow: LoadedFlow, given: Mapping[str, Any]) -> str:
        return local.start_materialize(
            engine, flow, given, args.assets, upstream=args.upstream, partition=args.partition
        )

    return _to_the_end(args, ctx, "baton materialize", start)


def _to_the_end(args: argparse.Namespace, ctx: common.Context, who: str, start: Start) -> int:
    from baton.cli import display
    from baton.engine.service import Engine
    from baton.execution import loader, local
    from baton.model.params import parse_cli_params
    from baton.store import waiting

    given = parse_cli_params(args.params)
    flow = loader.pick(loader.load_file(args.path), common.flow_of(args), file=args.path)
    settings = ctx.settings
    say = common.say(who)
    with closing(waiting.open_store(settings.database_url, args.wait_for_db, say)) as store:
        engine = Engine(store)
        run_id = start(engine, flow, given)
        if settings.cluster and not args.wait:
            if args.json:
                display.finished(local.load_result(store, run_id), as_json=True)
            else:
                print(f"run {run_id} created: the workers run it (`baton runs show {run_id}`)")
            return 0
        with display.progress(settings, run_id, enabled=not args.json):
            if settings.cluster:
                # Only reads: safe to repeat after the connection is lost and reopened.
                result = waiting.patiently(
                    store, args.wait_for_db, say, lambda: local.wait(store, run_id)
                )
            else:
                result = local.execute(engine, settings, run_id, flow, concurrency=args.concurrency)
    display.finished(result, as_json=args.json)
    return 0 if result.succeeded else EXIT_FAILED
