"""`baton server` (API, UI, timers, scheduler) and `baton ui`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from baton.cli import common, history

if TYPE_CHECKING:
    import logging
    import socket
    import threading
    from collections.abc import Callable, Iterator

    from baton.settings import Settings


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "server",
        help="serve the REST API and UI, and run the cluster's timers and the scheduler",
    )
    p.add_argument("--host", help="the address to listen on (default BATON_HOST or 127.0.0.1)")
    p.add_argument("--port", type=common.port, help="default BATON_PORT or 8080 (0: any free port)")
    p.add_argument(
        "--worker",
        dest="worker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run tasks in this process (default: with an embedded SQLite store only)",
    )
    p.add_argument(
        "--prune-older-than",
        type=history.duration,
        metavar="AGE",
        help="once an hour, delete finished runs that ended more than AGE (30s, 15m, 6h, 30d) "
        "ago, as `baton db prune` does",
    )
    common.path_option(p)
    common.wait_for_db_option(p)
    p.set_defaults(command=cmd_server)

    p = sub.add_parser(
        "ui",
        help="serve the web UI (and the API) over the local store; runs no tasks itself unless "
        "asked to from a run's page (when no worker is alive)",
    )
    p.add_argument("--host", help="the address to listen on (default BATON_HOST or 127.0.0.1)")
    p.add_argument("--port", type=common.port, help="default BATON_PORT or 8080 (0: any free port)")
    p.set_defaults(command=cmd_ui)


def cmd_server(args: argparse.Namespace, ctx: common.Context) -> int:
    import os
    import threading

    from baton.engine.service import Engine
    from baton.execution.worker import Worker
    from baton.scheduling import timers
    from baton.scheduling.scheduler import Scheduler

    settings = _settings(args, ctx)
    project_dir = os.path.abspath(args.path)
    with_worker = not settings.cluster if args.worker is None else args.worker
    sock = _listen(settings.host, settings.port)

    def say(line: str) -> None:
        print(f"baton server: {line}", file=sys.stderr, flush=True)

    stop = threading.Event()
    threads: list[threading.Thread] = []
    with (  # the stores first: SIGTERM ends a wait for the database at once
        ctx.store(args.wait_for_db, "baton server") as store,
        ctx.store(args.wait_for_db, "baton server") as worker_store,
        common.stop_on_signal(stop),
    ):
        engine = Engine(store, clock=store.clock)  # the timers' clock (leases, schedules)
        scheduler = Scheduler(engine, project_dir=project_dir, report=say)
        t = timers.Timers(engine, settings, scheduler=scheduler)
        threads.append(threading.Thread(target=timers.serve, args=(t, stop), name="timers"))
        if args.prune_older_than:
            from baton.scheduling import retention

            prune = (settings, args.prune_older_than, stop, lambda: t.leader, say)
            threads.append(threading.Thread(target=retention.serve, args=prune, name="prune"))
        if with_worker:
            worker = Worker(Engine(worker_store), settings, project_dir=project_dir)
            threads.append(threading.Thread(target=worker.run, args=(stop,), name="worker"))
        for thread in threads:
            thread.start()
        say(
            f"{t.holder} serving {_url(sock)}/ (API at /api/v1; timers, schedules, triggers"
            f"{'; a worker' if with_worker else ''})"
        )
        try:
            _serve(settings, sock, stop)
        finally:
            stop.set()
            if with_worker:
                worker.wake()
            for thread in threads:
                thread.join()
    return 0


def cmd_ui(args: argparse.Namespace, ctx: common.Context) -> int:
    import os
    import threading
    import time

    from baton.api.auth import create_token

    settings = _settings(args, ctx)
    sock = _listen(settings.host, settings.port)
    # A sign-in for this session only (revoked at exit): whoever can open the store could
    # make a token anyway. The link carries it after '#', which no server or log sees.
    user = os.environ.get("USER") or "local"
    with ctx.store() as store, store.transaction() as tx:
        token_id, text = create_token(tx, user, "admin", "baton ui (revoked when it stops)")
    print(
        f"baton ui: sign in at {_url(sock)}/login#token={text}\n"
        f"baton ui: serving {_url(sock)}/ (runs are started by `baton server` or `baton worker`;"
        " when none is alive, a run's page offers to run it in this process)",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    here = _OnDemandWorker(ctx, settings, os.getcwd(), stop)
    try:
        with common.stop_on_signal(stop):
            _serve(settings, sock, stop, start_worker=here.start)
    finally:
        stop.set()
        here.join()
        with ctx.store() as store, store.transaction() as tx:
            tx.revoke_token(token_id, time.time())
    return 0


class _OnDemandWorker:
    """The worker `baton ui` starts in its own process when asked (POST
    /api/v1/workers/embedded): at most one, stopped with the process."""

    def __init__(self, ctx: common.Context, settings: Settings, project_dir: str, stop: Any):
        import threading

        self._ctx, self._settings, self._dir, self._stop = ctx, settings, project_dir, stop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._worker: Any = None

    def start(self) -> bool:
        import threading

        from baton.engine.service import Engine
        from baton.execution.worker import Worker

        with self._lock:
            if self._thread is not None:
                return False

            def run() -> None:
                with self._ctx.store() as store:
                    self._worker = Worker(Engine(store), self._settings, project_dir=self._dir)
                    self._worker.run(self._stop)

            self._thread = threading.Thread(target=run, name="worker", daemon=True)
            self._thread.start()
            return True

    def join(self) -> None:
        with self._lock:
            thread, worker = self._thread, self._worker
        if thread is None:
            return
        if worker is not None:
            worker.wake()
        thread.join()


def _settings(args: argparse.Namespace, ctx: common.Context) -> Settings:
    import dataclasses

    settings = ctx.settings
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    return dataclasses.replace(settings, host=host, port=port)


def _listen(host: str, port: int) -> socket.socket:
    """The server's listening socket (port 0: any free one), bound before anything starts so
    a port in use is a clear error, and the address printed is the real one."""
    import socket

    from baton.errors import InputError

    try:
        return socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port} ({exc.strerror}): give another --port or --host"
        ) from None


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


SHUTDOWN_GRACE = 10  # seconds requests in flight get to finish when the server stops


def _serve(
    settings: Settings,
    sock: socket.socket,
    stop: threading.Event,
    start_worker: Callable[[], bool] | None = None,
) -> None:
    """Serve the API (and UI) on `sock` until `stop` is set; `start_worker` starts a worker
    in this process when asked (POST /api/v1/workers/embedded)."""
    import gc
    import logging
    import socket
    import threading
    from contextlib import contextmanager

    import uvicorn

    from baton import ui
    from baton.api import create_app

    class Server(uvicorn.Server):
        # uvicorn's own handlers re-raise the signal once it has shut down, so the process
        # would die of it (exit -15) before the timers and worker stopped cleanly. The
        # caller's handlers (installed before anything started) set `stop` instead.
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app = create_app(settings)
    app.state.start_worker = start_worker
    ui.install(app)
    # Once stopped, requests in flight get SHUTDOWN_GRACE seconds to finish; then they are
    # cancelled and the server exits (without a bound, one stuck request kept it forever).
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE
    )
    server = Server(config)
    logging.getLogger("uvicorn.error").addFilter(_no_traceback_when_cancelled)

    def stop_server() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=stop_server, name="stop-server", daemon=True).start()
    # `socket.create_server` leaves the socket's `proto` 0, and asyncio sets TCP_NODELAY only
    # on connections accepted from a socket whose `proto` says TCP: without it each answer,
    # written as a head then a body, waited ~40 ms for the client's delayed ACK. The same
    # socket, its protocol read back from the kernel:
    sockets = [socket.socket(fileno=sock.detach())]
    # What is loaded by now (modules, the app and its routes: ~150,000 objects) lives as long
    # as the process. Out of the collector's sight, a full collection takes milliseconds,
    # not ~80 ms in the middle of a request (the p95 of a 1,000-task flow's page).
    gc.freeze()
    server.run(sockets=sockets)


def _no_traceback_when_cancelled(record: logging.LogRecord) -> bool:
    """A logging filter: requests still running when the grace period ends are cancelled,
    which uvicorn logs as "Exception in ASGI application" with a traceback each; its line
    "Cancel N running task(s)" has said so already."""
    import asyncio

    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))
