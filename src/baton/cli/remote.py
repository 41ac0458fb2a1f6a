"""`--server URL`: `baton runs ...`, `baton flows list`, `baton logs` and `baton assets ...`
through a server's REST API instead of the store (`RemoteRuns`, one side of `runs.Runs`;
`cli.assets` for the assets), printing the same as they do locally.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from baton.errors import BatonError
from baton.model.urls import masked, redacted

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


T = TypeVar("T")


@contextmanager
def answers(
    args: argparse.Namespace,
    store: Callable[[], Any],
    through: Callable[[Client], T],
    here: Callable[[Any], T],
) -> Iterator[T]:
    """Where a command's answers come from: `through(client)` of the server when the command
    was given one, else `here(store)` of the store the context manager `store()` opens."""
    if wanted(args):
        client = Client(args)
        try:
            yield through(client)
        finally:
            client.close()
        return
    with store() as opened:
        yield here(opened)


class Client:
    """The server's API under /api/v1, with the caller's token."""

    def __init__(self, args: argparse.Namespace) -> None:
        import httpx

        self.url = (args.server or os.environ[SERVER_ENV]).rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise RemoteError(
                f"--server {redacted(self.url)}: expected a URL such as http://127.0.0.1:8080",
                EXIT_BAD_INPUT,
            )
        token = args.token or os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=TIMEOUT)
        self._errors = httpx.TransportError

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self._send("POST", path) if body is None else self._send("POST", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self._send("DELETE", path, params={k: v for k, v in params.items() if v is not None})

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except self._errors as exc:
            raise RemoteError(
                f"cannot reach the baton server at {redacted(self.url)}: "
                f"{masked(str(exc), self.url) or type(exc).__name__}",
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


# -- the runs through the server ---------------------------------------------------------


class RemoteRuns:
    """`runs.Runs` through the server's API: what `--server` commands print is what they
    print locally. `patience`: how long `follow` waits for a server that is away."""

    def __init__(self, client: Client, patience: float) -> None:
        self.client = client
        self.patience = patience

    def list_runs(
        self,
        flow: str | None,
        state: str | None,
        limit: int,
        partition: str | None = None,
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < limit:  # paging through up to `limit`
            page = self.client.get(
                "/runs",
                flow=flow,
                state=state,
                partition=partition,
                namespace=namespace,
                limit=min(limit - len(items), PAGE),
                cursor=cursor,
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return items

    def list_flows(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.client.get("/flows", limit=PAGE, cursor=cursor)
            items += [{k: v for k, v in f.items() if k != "recent_runs"} for f in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    def show(self, ref: str, *, wait: bool) -> RunResult:
        from baton.execution.local import RunResult

        result = RunResult.from_json(self.client.get(f"/runs/{ref}"))
        return self._wait(result.id) if wait else result

    def cancel(self, ref: str) -> tuple[str, str]:
        result = self._act(ref, "cancel")
        return result.id, result.state

    def ack(self, ref: str, comment: str | None) -> dict[str, Any]:
        body = {"comment": comment} if comment is not None else {}
        answer: dict[str, Any] = self.client.post(f"/runs/{ref}/acknowledge", body)
        return answer

    def repair(self, ref: str) -> str:
        return self._act(ref, "repair").id  # the new run

    def resume(self, ref: str) -> str:
        return self._act(ref, "resume").id

    def _act(self, ref: str, action: str) -> RunResult:
        from baton.execution.local import RunResult

        return RunResult.from_json(self.client.post(f"/runs/{ref}/{action}"))

    def follow(self, run_id: str, *, concurrency: int, quiet: bool) -> RunResult:
        # The server's workers run it, with their own concurrency; no progress is shown.
        return self._wait(run_id)

    def _wait(self, run_id: str) -> RunResult:
        """Wait for a run the server's workers run to end; Ctrl-C stops waiting, not the run.
        A server away, or without its database (503), is waited for up to `patience`."""
        from baton.cli.common import say
        from baton.errors import StoreUnavailable
        from baton.execution.local import RunResult
        from baton.store.waiting import Outage

        outage: Outage | None = None
        try:
            while True:
                try:
                    data = self.client.get(f"/runs/{run_id}")
                except RemoteError as exc:
                    if not exc.unavailable:
                        raise
                    outage = outage or Outage(self.patience, say("baton"))
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
                f"(`baton runs show {run_id} --server {self.client.url}`)",
                EXIT_FAILED,
            ) from None
        return RunResult.from_json(data)

    def logs(
        self, ref: str, *, times: bool = False
    ) -> tuple[RunResult, Callable[[str, int], str | None]]:
        """A run, and a reader of its logs from the server page by page."""
        from baton.cli.display import joined
        from baton.execution.local import RunResult

        client = self.client
        result = RunResult.from_json(client.get(f"/runs/{ref}"))
        wanted = "true" if times else None

        def read(name: str, n: int) -> str | None:
            pages: list[tuple[str, list[int | None]]] = []
            offset = 0
            while True:
                page = client.get(
                    f"/runs/{result.id}/logs/{name}",
                    attempt=n,
                    offset=offset,
                    limit=1 << 20,
                    times=wanted,
                )
                pages.append((page["text"], page.get("times") or []))
                if page["complete"] or page["next_offset"] == offset:
                    break
                offset = page["next_offset"]
            return joined(pages, times=times)  # None when empty, as a missing file is locally

        return result, read
