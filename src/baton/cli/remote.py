"""`--server URL`: `baton runs ...`, `baton flows list` and `baton logs` through a server's
REST API instead of the store, printing the same as they do locally.

The server comes from `--server` or BATON_SERVER, the token from `--token` or BATON_TOKEN.
An error the server answers is printed as it says it (its `detail`): exit 2 for a 4xx, 1
for a server that cannot be reached or fails (5xx). A command following a run to its end
waits for a server that cannot be reached or answers 503 (its database is away) up to
`--wait-for-db` seconds, then exits 3. httpx is imported only when used.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING, Any

from baton.errors import BatonError

if TYPE_CHECKING:
    import httpx

    from baton.execution.local import RunResult

SERVER_ENV = "BATON_SERVER"
TOKEN_ENV = "BATON_TOKEN"
PAGE = 500  # the API's largest page
POLL = 0.2  # seconds between looks at a run being followed
TIMEOUT = 30.0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
TERMINAL = ("succeeded", "failed", "cancelled")


class RemoteError(BatonError):
    """The server refused a call (exit 2) or could not answer it (exit 1)."""

    def __init__(self, message: str, exit_code: int, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.unavailable = unavailable  # not reached, or 503: it may answer if asked again


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        metavar="URL",
        help=f"ask this baton server's API instead of opening the store (default {SERVER_ENV})",
    )
    p.add_argument("--token", help=f"the API token for --server (default {TOKEN_ENV})")


def wanted(args: argparse.Namespace) -> bool:
    """Whether the command is to go through a server."""
    return bool(args.server or os.environ.get(SERVER_ENV))


class Client:
    """The server's API under /api/v1, with the caller's token."""

    def __init__(self, args: argparse.Namespace) -> None:
        import httpx

        self.url = (args.server or os.environ[SERVER_ENV]).rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise RemoteError(
                f"--server {self.url}: expected a URL such as http://127.0.0.1:8080",
                EXIT_BAD_INPUT,
            )
        token = args.token or os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=TIMEOUT)
        self._errors = httpx.TransportError

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str) -> Any:
        return self._send("POST", path)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except self._errors as exc:
            raise RemoteError(
                f"cannot reach the baton server at {self.url}: {exc or type(exc).__name__}",
                EXIT_FAILED,
                unavailable=True,
            ) from None
        if r.status_code >= 400:
            raise RemoteError(
                _detail(r),
                EXIT_BAD_INPUT if r.status_code < 500 else EXIT_FAILED,
                unavailable=r.status_code == 503,
            )
        return r.json()

    def close(self) -> None:
        self._http.close()


def _detail(r: httpx.Response) -> str:
    """What the server said was wrong: its `detail` (FastAPI's list of fields, joined)."""
    try:
        detail = r.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return f"the server answered {r.status_code} {r.reason_phrase}"
    if isinstance(detail, list):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in detail
        )
    if r.status_code == 401:
        detail = f"{detail} (give --token or set {TOKEN_ENV})"
    return str(detail)


# -- the commands ------------------------------------------------------------------------


def runs_list(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The runs `baton runs list` shows, from the server (paging through up to --limit)."""
    client = Client(args)
    items: list[dict[str, Any]] = []
    cursor = None
    try:
        while len(items) < args.limit:
            page = client.get(
                "/runs",
                flow=args.flow_name,
                state=args.state,
                limit=min(args.limit - len(items), PAGE),
                cursor=cursor,
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        client.close()
    return items


def flows_list(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every flow as `baton flows list` has them, from the server."""
    client = Client(args)
    items: list[dict[str, Any]] = []
    cursor = None
    try:
        while True:
            page = client.get("/flows", limit=PAGE, cursor=cursor)
            items += [{k: v for k, v in f.items() if k != "recent_runs"} for f in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return items
    finally:
        client.close()


def run(args: argparse.Namespace, action: str | None = None) -> RunResult:
    """A run from the server, after an action on it (cancel, repair, resume: the run it
    answers, which for a repair is the new one)."""
    from baton.execution.local import RunResult

    client = Client(args)
    try:
        if action is None:
            return RunResult.from_json(client.get(f"/runs/{args.run_id}"))
        return RunResult.from_json(client.post(f"/runs/{args.run_id}/{action}"))
    finally:
        client.close()


def follow(args: argparse.Namespace, run_id: str) -> RunResult:
    """Wait for a run the server's workers run to end; Ctrl-C stops waiting, not the run.
    A server away, or without its database (503), is waited for up to --wait-for-db."""
    from baton.cli.common import say
    from baton.errors import StoreUnavailable
    from baton.execution.local import RunResult
    from baton.store.waiting import Outage

    client = Client(args)
    patience = getattr(args, "wait_for_db", 0.0)
    outage: Outage | None = None
    try:
        while True:
            try:
                data = client.get(f"/runs/{run_id}")
            except RemoteError as exc:
                if not exc.unavailable:
                    raise
                outage = outage or Outage(patience, say("baton"))
                try:
                    outage.wait(str(exc))
                except StoreUnavailable as gave_up:
                    raise RemoteError(str(gave_up), StoreUnavailable.exit_code) from None
                continue
            outage = None
            if data["state"] in TERMINAL:
                break
            time.sleep(POLL)
    except KeyboardInterrupt:
        raise RemoteError(
            f"stopped waiting: run {run_id} goes on on the server "
            f"(`baton runs show {run_id} --server {client.url}`)",
            EXIT_FAILED,
        ) from None
    finally:
        client.close()
    return RunResult.from_json(data)


def logs(args: argparse.Namespace) -> None:
    """Print a run's logs as `baton logs` does, read from the server page by page."""
    from baton.cli import display
    from baton.execution.local import RunResult

    client = Client(args)
    try:
        result = RunResult.from_json(client.get(f"/runs/{args.run_id}"))

        def read(name: str, n: int) -> str | None:
            texts: list[str] = []
            offset = 0
            while True:
                page = client.get(
                    f"/runs/{result.id}/logs/{name}", attempt=n, offset=offset, limit=1 << 20
                )
                texts.append(page["text"])
                if page["complete"] or page["next_offset"] == offset:
                    break
                offset = page["next_offset"]
            return "".join(texts) or None  # as a missing file is locally

        display.logs(result, args.task, args.attempt, read)
    finally:
        client.close()
