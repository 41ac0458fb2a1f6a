"""What `baton runs ...`, `baton flows list` and `baton logs` ask for, behind one interface:
`LocalRuns` reads and changes the store, `remote.RemoteRuns` a server's API (`--server` or
BATON_SERVER). `opened` chooses once per command; the commands print the same either way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from baton.cli import common, remote

if TYPE_CHECKING:
    from baton.engine.service import Engine
    from baton.execution.local import RunResult
    from baton.store.store import Store

# `read(name, n)`: the log of attempt n of the task run `name` (`key` or `key.N`), or None.
LogReader = Callable[[str, int], "str | None"]


class Runs(Protocol):
    """The runs and flows of a store, wherever it is. `ref` is a run id or a unique prefix."""

    def list_runs(
        self,
        flow: str | None,
        state: str | None,
        limit: int,
        partition: str | None = None,
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:
        """The latest runs, newest first, as `baton runs list` shows them."""
        ...

    def list_flows(self) -> list[dict[str, Any]]:
        """Every flow, as `baton flows list` shows them."""
        ...

    def show(self, ref: str, *, wait: bool) -> RunResult:
        """A run, as it is now or (with `wait`) once it has ended."""
        ...

    def cancel(self, ref: str) -> tuple[str, str]:
        """Cancel a run: its id and the state it is in after."""
        ...

    def ack(self, ref: str, comment: str | None) -> dict[str, Any]:
        """Acknowledge a run (`engine.acknowledgement`): what is recorded."""
        ...

    def repair(self, ref: str) -> str:
        """Start a run re-running what failed in a finished one: the new run's id."""
        ...

    def resume(self, ref: str) -> str:
        """Check that a run can be resumed: its id (`follow` does the work)."""
        ...

    def follow(self, run_id: str, *, concurrency: int, quiet: bool) -> RunResult:
        """The run once it has ended: worked on in this process with progress (locally), or
        waited for while the server's workers run it."""
        ...

    def logs(self, ref: str, *, times: bool = False) -> tuple[RunResult, LogReader]:
        """A run and the reader of its attempts' logs (usable while `opened` is); with
        `times`, each line after the time it was written (`display.stamped`)."""
        ...


@contextmanager
def opened(args: argparse.Namespace, ctx: common.Context, who: str = "baton") -> Iterator[Runs]:
    """The runs through the server if the command was given one, else the store's (opened
    waiting up to `--wait-for-db` for commands that have it; failed tries are told as `who`)."""
    patience: float = getattr(args, "wait_for_db", 0.0)
    if remote.wanted(args):
        client = remote.Client(args)
        try:
            yield remote.RemoteRuns(client, patience)
        finally:
            client.close()
        return
    with ctx.store(patience, who) as store:
        yield LocalRuns(store, ctx, patience, common.say(who))


def audit(chosen: Runs, action: str, run_id: str, detail: dict[str, Any] | None = None) -> None:
    """Audit a change made on the store itself (`common.audit`); through a server, its API
    has audited it already."""
    if isinstance(chosen, LocalRuns):
        common.audit(chosen.store, action, run_id, detail)


class LocalRuns:
    """The runs of the store this process opened; repair and resume run in this process."""

    def __init__(
        self, store: Store, ctx: common.Context, patience: float, say: Callable[[str], None]
    ) -> None:
        self.store = store
        self.ctx = ctx
        self.patience = patience
        self.say = say

    @cached_property
    def engine(self) -> Engine:
        from baton.engine.service import Engine

        return Engine(self.store)

    def list_runs(
        self,
        flow: str | None,
        state: str | None,
        limit: int,
        partition: str | None = None,
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:

        rows = self.store.read().runs(
            flow=flow, state=state, limit=limit, partition=partition, namespace=namespace
        )
        from baton.execution.views import RunView

        return [RunView.of(r).summary_json() for r in rows]

    def list_flows(self) -> list[dict[str, Any]]:
        import time

        from baton.scheduling.overview import flow_summary

        return [flow_summary(r, time.time()) for r in self.store.read().flows_overview()]

    def show(self, ref: str, *, wait: bool) -> RunResult:
        from baton.execution import local
        from baton.store import waiting

        store = self.store
        # Only reads: each is repeated if the connection is lost and reopened meanwhile.
        run_id = waiting.patiently(
            store, self.patience, self.say, lambda: store.read().resolve_run_id(ref)
        )
        look = local.wait if wait else local.load_result
        return waiting.patiently(store, self.patience, self.say, lambda: look(store, run_id))

    def cancel(self, ref: str) -> tuple[str, str]:
        from baton.execution import local

        run_id = self.store.read().resolve_run_id(ref)
        return run_id, local.cancel(self.engine, self.ctx.settings, run_id)

    def ack(self, ref: str, comment: str | None) -> dict[str, Any]:
        import getpass
        import time

        from baton.engine import acknowledgement

        user = getpass.getuser()
        audit = {
            "at": time.time(),
            "actor": user,
            "token_id": None,
            "role": None,
            "action": "runs.acknowledge",
            "object_type": "runs",
            "remote": "local",
        }
        return acknowledgement.acknowledge(
            self.store, ref, user, comment, self.store.clock(), audit=audit
        )

    def repair(self, ref: str) -> str:
        return self.engine.repair(self.store.read().resolve_run_id(ref))

    def resume(self, ref: str) -> str:
        from baton.execution import local

        run_id = self.store.read().resolve_run_id(ref)
        local.check_resumable(self.store, run_id)
        return run_id

    def follow(self, run_id: str, *, concurrency: int, quiet: bool) -> RunResult:
        from baton.cli import display
        from baton.execution import local

        settings = self.ctx.settings
        with display.progress(settings, run_id, enabled=not quiet):
            return local.execute(self.engine, settings, run_id, concurrency=concurrency)

    def logs(self, ref: str, *, times: bool = False) -> tuple[RunResult, LogReader]:
        from baton.cli import display
        from baton.execution import local

        result = local.load_result(self.store, self.store.read().resolve_run_id(ref))
        return result, display.log_reader(self.store, self.ctx.settings, result.id, times=times)
