"""The `baton` command. Thin: parse, call, print, exit code.

Exit codes: 0 success, 1 the run failed, 2 bad definition or input (argparse's own usage
errors are 2 as well), 3 the database could not be reached (for longer than
`--wait-for-db`, or the connection was lost mid-way through a command that cannot wait).
Commands import what they need when they run, and the parser is the standard library's:
together that keeps `baton --help` and a one-task run fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from baton.cli import (
    approvals,
    assets,
    cache,
    common,
    governance,
    grants,
    history,
    imports,
    partitions,
    plugins,
    remote,
    run,
    scheduling,
    server,
)
from baton.model.states import RunState

if TYPE_CHECKING:
    from baton.cli.runs import Runs

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3  # errors.StoreUnavailable.exit_code
# Plain strings: argparse shows the choices with repr().
RUN_STATES = tuple(s.value for s in RunState)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    _refuse_undecodable(args)
    command: Callable[[argparse.Namespace, common.Context], int] | None = getattr(
        args, "command", None
    )
    if command is None:
        parser.print_help()
        sys.exit(0)
    from baton.errors import BatonError

    ctx = common.Context()  # the one place the settings are read (on first use)
    try:
        code = command(args, ctx)
    except BatonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = getattr(exc, "exit_code", EXIT_BAD_INPUT)  # remote.RemoteError says its own
    except BrokenPipeError:  # `baton runs list | head`
        code = 0
    except Exception as exc:
        if not _connection_lost(exc):
            raise
        # A command that cannot wait (it was writing) lost its database: one line, no
        # traceback, and not exit 1, which says that a run failed.
        print(f"error: database error: {_described(exc, ctx)}", file=sys.stderr)
        code = EXIT_UNAVAILABLE
    sys.exit(code)


def _refuse_undecodable(args: argparse.Namespace) -> None:
    """Exit 2 for an argument whose bytes are not UTF-8 (Python reads them as lone
    surrogates): stored, such a value broke every answer and page that showed it."""
    from baton.model import json_text

    path = json_text.not_unicode_at(vars(args))
    if path is not None:
        # Named, not shown: the value may be a token.
        print(f"error: {path[0]}: the value given is not valid UTF-8 text", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def _connection_lost(exc: BaseException) -> bool:
    """Whether `exc` is a database driver's error about the connection, not about SQL."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return True
    psycopg = sys.modules.get("psycopg")  # loaded only if the store is PostgreSQL
    return psycopg is not None and isinstance(
        exc, psycopg.OperationalError | psycopg.InterfaceError
    )


def _described(exc: BaseException, ctx: common.Context) -> str:
    from baton.store import dialect

    try:
        url = ctx.settings.database_url
    except Exception:  # the environment was read once already; this cannot fail
        url = ""
    return dialect.describe(exc, url)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton",
        description="baton: workflow and data orchestration. Define flows in Python "
        "(@flow/@task) or YAML, then `baton run FILE`.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run.add_commands(sub)

    p = sub.add_parser("deploy", help="register the flows of a file or folder, and their triggers")
    p.add_argument("path", metavar="PATH", help="a flow file, or a project folder")
    common.json_option(p)
    p.set_defaults(command=cmd_deploy)

    p = sub.add_parser("worker", help="claim and run ready tasks of the store's runs")
    p.add_argument(
        "--queue",
        dest="queues",
        action="append",
        default=[],
        metavar="Q",
        help="serve this queue (repeatable; default: default)",
    )
    common.concurrency_option(p)
    p.add_argument("--name", help="how `baton workers` shows it (default HOST:PID)")
    p.add_argument(
        "--resources",
        metavar="cpu=N,memory=Q,gpu=N",
        help="the capacity its running tasks share, e.g. cpu=8,memory=32Gi,gpu=2 (kinds not "
        "named: this machine's cores, memory and GPUs listed by nvidia-smi -L)",
    )
    p.add_argument(
        "--path",
        default=".",
        help="the project folder `baton deploy` was given, here (default: .)",
    )
    p.add_argument(
        "--grace",
        type=common.positive_float,
        default=30.0,
        help="on SIGTERM, seconds running tasks have to finish before they are handed "
        "back to other workers (default 30)",
    )
    common.wait_for_db_option(p)
    p.set_defaults(command=cmd_worker)

    server.add_commands(sub)
    governance.add_commands(sub)
    grants.add_commands(sub)

    p = sub.add_parser("workers", help="the workers, with queues, running tasks, heartbeat")
    p.add_argument("--all", action="store_true", help="include stopped workers")
    common.json_option(p)
    p.set_defaults(command=cmd_workers)

    pools = sub.add_parser("pools", help="pools: caps on tasks running at once").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    p = pools.add_parser("set", help="create a pool or change its slots")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--slots", type=common.whole, required=True, help="how many may run at once")
    p.add_argument("--description")
    p.set_defaults(command=cmd_pools_set)
    p = pools.add_parser("list", help="every pool, with its slots taken")
    common.json_option(p)
    p.set_defaults(command=cmd_pools_list)
    p = pools.add_parser("delete", help="delete a pool (its tasks are then not limited)")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(command=cmd_pools_delete)

    flows = sub.add_parser("flows", help="inspect flow definitions").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    p = flows.add_parser("show", help="print the DAG of each flow in a file")
    p.add_argument("path", metavar="FILE")
    common.flow_option(p)
    common.json_option(p, "print the FlowSpec as JSON")
    p.set_defaults(command=cmd_flows_show)
    scheduling.add_commands(sub, flows)

    runs = sub.add_parser(
        "runs", help="list, inspect, cancel, ack, repair, resume, approve and reject runs"
    )
    runs_sub = runs.add_subparsers(title="commands", metavar="COMMAND", required=True)
    p = runs_sub.add_parser("list", help="the latest runs, newest first")
    p.add_argument(
        "--flow", dest="flow_name", help="only runs of this flow (`name` or `namespace/name`)"
    )
    p.add_argument("--namespace", help="only runs of this namespace's flows")
    p.add_argument("--state", choices=RUN_STATES, help="only runs in this state")
    p.add_argument("--partition", metavar="KEY", help="only runs of this partition key")
    p.add_argument("--limit", type=common.positive_int, default=50, help="how many (default 50)")
    common.json_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_runs_list)
    p = runs_sub.add_parser("show", help="a run and each of its task runs")
    _run_argument(p)
    p.add_argument(
        "--wait",
        action="store_true",
        help="follow the run to its end first (exit 1 if it failed)",
    )
    common.json_option(p)
    common.wait_for_db_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_runs_show)
    p = runs_sub.add_parser("cancel", help="cancel a run: running tasks stop, the rest end")
    _run_argument(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_runs_cancel)
    p = runs_sub.add_parser(
        "ack", help="acknowledge a run: its escalation steps `unless: acknowledged` stop"
    )
    _run_argument(p)
    p.add_argument("--comment", help="what you say (who is on it, what is done)")
    common.json_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_runs_ack)
    p = runs_sub.add_parser(
        "repair", help="re-run only what failed in a finished run, as a new run"
    )
    _run_argument(p)
    common.concurrency_option(p)
    common.json_option(p)
    common.wait_for_db_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_runs_repair)
    p = runs_sub.add_parser(
        "resume", help="continue a run whose process died; what finished does not run again"
    )
    _run_argument(p)
    common.concurrency_option(p)
    common.json_option(p)
    common.wait_for_db_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_runs_resume)
    approvals.add_commands(sub, runs_sub)

    db = sub.add_parser("db", help="manage the state database").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    p = db.add_parser("upgrade", help="migrate BATON_DATABASE_URL to this baton's schema")
    p.set_defaults(command=cmd_db_upgrade)
    history.add_commands(db)

    p = sub.add_parser("logs", help="print the logs of a run's attempts")
    _run_argument(p)
    p.add_argument("task", nargs="?", help="a task key (`key.N` for one run of a mapped task)")
    p.add_argument("--attempt", type=common.positive_int, help="only this attempt")
    p.add_argument(
        "-t",
        "--timestamps",
        action="store_true",
        help="each line after the time it was written (ISO 8601, UTC, ms)",
    )
    remote.add_options(p)
    p.set_defaults(command=cmd_logs)
    assets.add_commands(sub)
    partitions.add_commands(sub)
    cache.add_commands(sub)
    plugins.add_commands(sub)
    imports.add_commands(sub)
    return parser


# -- commands ----------------------------------------------------------------------------


def cmd_deploy(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display
    from baton.execution import loader
    from baton.scheduling.registration import deploy

    with ctx.store() as store:
        deployed = deploy(store, loader.load_project(args.path))
        names = [d.spec.name for d in deployed]
        common.audit(store, "flows.deploy", ",".join(names), {"path": args.path, "flows": names})
    display.deployed(deployed, as_json=args.json)
    return 0


def cmd_worker(args: argparse.Namespace, ctx: common.Context) -> int:
    import os
    import threading

    from baton.engine.service import Engine
    from baton.errors import InputError
    from baton.execution import capacity
    from baton.execution.worker import Worker
    from baton.model.resources import parse_capacity
    from baton.model.spec import DEFAULT_QUEUE

    if not os.path.isdir(args.path):
        raise InputError(f"--path {args.path}: no such folder")
    named = parse_capacity(args.resources) if args.resources is not None else {}
    settings = ctx.settings
    stop = threading.Event()
    with ctx.store(args.wait_for_db, "baton worker") as store:
        worker = Worker(
            Engine(store),
            settings,
            concurrency=args.concurrency,
            queues=args.queues or [DEFAULT_QUEUE],
            name=args.name,
            project_dir=os.path.abspath(args.path),
            resources=capacity.machine(named),
        )
        with common.stop_on_signal(stop, worker.wake):
            print(
                f"baton worker {worker.name}: queues {', '.join(worker.queues)}, "
                f"concurrency {worker.concurrency}, resources "
                f"{worker.ledger.capacity.describe()}",
                file=sys.stderr,
                flush=True,
            )
            worker.run(stop, grace=args.grace)
    return 0


def cmd_workers(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display

    with ctx.store() as store:
        display.workers(store.read().workers(include_stopped=args.all), as_json=args.json)
    return 0


def cmd_pools_set(args: argparse.Namespace, ctx: common.Context) -> int:
    import time

    with ctx.store() as store, store.transaction() as tx:
        tx.set_pool(args.name, args.slots, args.description, time.time())
        common.audit(tx, "pools.set", args.name, {"slots": args.slots})
    print(f"pool {args.name}: {args.slots} slots")
    return 0


def cmd_pools_list(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display

    with ctx.store() as store:
        display.pools(store.read().pools(), as_json=args.json)
    return 0


def cmd_pools_delete(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.errors import NotFoundError

    with ctx.store() as store, store.transaction() as tx:
        if not tx.delete_pool(args.name):
            raise NotFoundError(f"no pool '{args.name}'; `baton pools list` shows the pools")
        common.audit(tx, "pools.delete", args.name)
    print(f"pool {args.name} deleted")
    return 0


def cmd_flows_show(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display
    from baton.execution import loader

    found = loader.load_file(args.path)
    flow = common.flow_of(args)
    chosen = [loader.pick(found, flow, file=args.path)] if flow else found
    display.flow_dags([f.spec for f in chosen], as_json=args.json)
    return 0


def cmd_runs_list(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display, runs
    from baton.model import namespaces

    flow, namespace = args.flow_name, args.namespace
    if namespace is not None:
        namespaces.check_namespace(namespace, "--namespace")
        flow = flow and namespaces.full_name(namespace, flow)
    with runs.opened(args, ctx) as chosen:
        data = chosen.list_runs(flow, args.state, args.limit, args.partition, namespace)
    display.run_list(data, as_json=args.json)
    return 0


def cmd_runs_show(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display, runs

    with runs.opened(args, ctx, "baton runs show") as chosen:
        result = chosen.show(args.run_id, wait=args.wait)
    display.finished(result, as_json=args.json)
    return 0 if result.succeeded or not args.wait else EXIT_FAILED


def cmd_runs_cancel(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import runs
    from baton.execution import local

    with runs.opened(args, ctx) as chosen:
        run_id, state = chosen.cancel(args.run_id)
        runs.audit(chosen, "runs.cancel", run_id)
    print(local.cancel_text(run_id, state))
    return 0


def cmd_runs_ack(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton.cli import runs
    from baton.engine.acknowledgement import check_comment

    comment = check_comment(args.comment)  # before any store or server is reached
    with runs.opened(args, ctx) as chosen:
        ack = chosen.ack(args.run_id, comment)
    if args.json:
        print(json.dumps(ack, indent=2))
    elif ack["already_acknowledged"]:
        print(
            f"run {ack['run_id']} was already acknowledged by {ack['acknowledged_by']}"
            f" at {ack['acknowledged_at']}"
        )
    else:
        print(f"run {ack['run_id']} acknowledged: its escalation steps `unless: acknowledged` stop")
    return 0


def cmd_runs_repair(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import runs

    with runs.opened(args, ctx, "baton runs repair") as chosen:
        new_id = chosen.repair(args.run_id)
        runs.audit(chosen, "runs.repair", args.run_id, {"new_run_id": new_id})
        if not args.json:
            print(f"repair run {new_id}")
        return _follow(chosen, new_id, args)


def cmd_runs_resume(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import runs

    with runs.opened(args, ctx, "baton runs resume") as chosen:
        run_id = chosen.resume(args.run_id)
        runs.audit(chosen, "runs.resume", run_id)
        return _follow(chosen, run_id, args)


def cmd_db_upgrade(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.store import migrate

    url = ctx.settings.database_url
    revision = migrate.upgrade(url)
    with ctx.store() as store:  # the URL is not audited: it may hold a password
        common.audit(store, "db.upgrade", revision)
    print(f"database at schema revision {revision}")
    return 0


def cmd_logs(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.cli import display, runs

    with runs.opened(args, ctx) as chosen:
        result, read = chosen.logs(args.run_id, times=args.timestamps)
        display.logs(result, args.task, args.attempt, read)
    return 0


# -- helpers -----------------------------------------------------------------------------


def _follow(chosen: Runs, run_id: str, args: argparse.Namespace) -> int:
    """Follow a run to its end (here, or on the server); print it; the exit code."""
    from baton.cli import display

    result = chosen.follow(run_id, concurrency=args.concurrency, quiet=args.json)
    display.finished(result, as_json=args.json)
    return 0 if result.succeeded else EXIT_FAILED


def _run_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN", help="a run id, or any unique prefix of it")


class _Version(argparse.Action):
    """Looks the version up only when asked: importlib.metadata costs ~50 ms to import."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import version

        print(f"baton {version('baton')}")
        parser.exit()
