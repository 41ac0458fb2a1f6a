"""`baton server` (API, UI, timers, scheduler), `baton tokens` and `baton audit`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from baton.cli import common


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "server",
        help="serve the REST API and UI, and run the cluster's timers and the scheduler",
    )
    p.add_argument("--host", help="the address to listen on (default BATON_HOST or 127.0.0.1)")
    p.add_argument("--port", type=common.positive_int, help="default BATON_PORT or 8080")
    p.add_argument(
        "--worker",
        dest="worker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run tasks in this process (default: with an embedded SQLite store only)",
    )
    common.path_option(p)
    p.set_defaults(command=cmd_server)

    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    p = tokens.add_parser("create", help="a new token for a user and role (shown once)")
    p.add_argument("--user", required=True, help="who the token is for")
    p.add_argument("--role", required=True, help="viewer, operator, editor or admin")
    p.add_argument("--description", help="what the token is for")
    common.json_option(p)
    p.set_defaults(command=cmd_tokens_create)
    p = tokens.add_parser("list", help="the active tokens (never their secrets)")
    p.add_argument("--all", action="store_true", help="include revoked tokens")
    common.json_option(p)
    p.set_defaults(command=cmd_tokens_list)
    p = tokens.add_parser("revoke", help="revoke a token: it stops working at once")
    p.add_argument("token_id", metavar="ID")
    p.set_defaults(command=cmd_tokens_revoke)

    p = sub.add_parser("audit", help="the audit log of API calls that change something")
    p.add_argument("--limit", type=common.positive_int, default=50, help="how many (default 50)")
    p.add_argument("--actor", help="only this user's calls")
    p.add_argument("--action", help="only this action, e.g. runs.cancel")
    common.json_option(p)
    p.set_defaults(command=cmd_audit)


def cmd_server(args: argparse.Namespace) -> int:
    import dataclasses
    import os
    import threading

    import uvicorn

    from baton.api import create_app
    from baton.engine.service import Engine
    from baton.execution.worker import Worker
    from baton.scheduling import timers
    from baton.scheduling.scheduler import Scheduler
    from baton.settings import Settings

    settings = Settings.from_env()
    settings = dataclasses.replace(
        settings, host=args.host or settings.host, port=args.port or settings.port
    )
    project_dir = os.path.abspath(args.path)
    with_worker = not settings.cluster if args.worker is None else args.worker

    def say(line: str) -> None:
        print(f"baton server: {line}", file=sys.stderr, flush=True)

    stop = threading.Event()
    threads: list[threading.Thread] = []
    with common.store() as store:
        engine = Engine(store)
        scheduler = Scheduler(engine, project_dir=project_dir, report=say)
        t = timers.Timers(engine, settings, scheduler=scheduler)
        threads.append(threading.Thread(target=timers.serve, args=(t, stop), name="timers"))
        with common.store() as worker_store:
            if with_worker:
                worker = Worker(Engine(worker_store), settings, project_dir=project_dir)
                threads.append(
                    threading.Thread(target=worker.run, args=(stop,), name="worker", daemon=True)
                )
            for thread in threads:
                thread.start()
            say(
                f"{t.holder} serving http://{settings.host}:{settings.port}/ "
                f"(API at /api/v1, timers, schedules, triggers"
                f"{', a worker' if with_worker else ''})"
            )
            try:
                config = uvicorn.Config(
                    create_app(settings),
                    host=settings.host,
                    port=settings.port,
                    log_level="warning",
                    access_log=False,
                )
                uvicorn.Server(config).run()  # until SIGTERM or Ctrl-C
            finally:
                stop.set()
                if with_worker:
                    worker.wake()
                for thread in threads:
                    thread.join(timeout=35)
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from baton.api.auth import create_token

    with common.store() as store, store.transaction() as tx:
        token_id, text = create_token(tx, args.user, args.role, args.description)
    if args.json:
        import json

        print(json.dumps({"id": token_id, "user": args.user, "role": args.role, "token": text}))
    else:
        print(text)
        print(
            f"token {token_id} for {args.user} ({args.role}): shown this once, keep it safe",
            file=sys.stderr,
        )
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from baton.cli import display

    with common.store() as store:
        rows = store.read().tokens(include_revoked=args.all)
    display.tokens(rows, as_json=args.json)
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    import time

    from baton.errors import NotFoundError

    with common.store() as store, store.transaction() as tx:
        if not tx.revoke_token(args.token_id, time.time()):
            raise NotFoundError(f"no active token '{args.token_id}'; `baton tokens list`")
    print(f"token {args.token_id} revoked")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from baton.cli import display

    with common.store() as store:
        rows = store.read().audit(limit=args.limit, actor=args.actor, action=args.action)
    display.audit(rows, as_json=args.json)
    return 0
