"""Keeping history bounded: `baton db prune` and `baton server --prune-older-than`.

What goes and what stays is `store.prune`'s to say; this module runs it batch by batch (one
transaction each), removes the log files the pruned runs left under BATON_HOME and the
results they wrote to the result store once their rows are gone, adds up what went, and,
for a server, does it once an hour while it holds the timers' lock (so two servers never
prune at once).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable

from baton.execution import results
from baton.settings import Settings
from baton.store import prune as store_prune
from baton.store.store import Store

BATCH = 100  # families of runs per transaction
INTERVAL = 3600.0  # seconds between a server's prunes
RETRY = 60.0  # seconds before a server tries again after a database error
LEADER_POLL = 1.0  # seconds between looks at whether this server holds the timers' lock
KINDS = (*store_prune.KINDS, "log_files", "result_files")
_SHOWN = (
    "runs",
    "task_runs",
    "attempts",
    "state_events",
    "log_chunks",
    "log_files",
    "result_files",
    "notifications",
    "cache_entries",
)


def prune(
    store: Store,
    settings: Settings,
    *,
    older_than: float,
    flow: str | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
    now: float | None = None,
) -> dict[str, int]:
    """Prune runs that ended more than `older_than` seconds ago (see `store.prune`): how
    many rows of each kind went (or, dry, would go), `log_files`, and `kept` (families
    old enough but kept whole for one of their runs). Cache entries whose ttl ran out go
    too, whatever their age (by the workers' clock, which stamps them)."""
    # The store's clock, which stamps when runs end (one clock for every machine).
    before = (store.clock() if now is None else now) - older_than
    totals = dict.fromkeys((*KINDS, "kept"), 0)
    after = None
    while True:
        if dry_run:
            b = store_prune.prune_batch(
                store.read(), before=before, flow=flow, after=after, limit=batch, dry_run=True
            )
        else:
            with store.transaction() as tx:
                b = store_prune.prune_batch(tx, before=before, flow=flow, after=after, limit=batch)
        for kind, n in b.counts.items():
            totals[kind] += n
        totals["kept"] += b.kept
        # Files go after the commit: a rolled back batch keeps its logs.
        totals["log_files"] += _log_files(settings, b.run_ids, delete=not dry_run)
        if not dry_run:
            for ref in b.result_refs:
                results.remove(ref)
        totals["result_files"] += len(b.result_refs)
        if b.after is None:
            break
        after = b.after
    expired_at = time.time() if now is None else now
    with store.transaction() as tx:
        totals["cache_entries"] += tx.prune_expired_cache(expired_at, dry_run=dry_run)
    return totals


def summary(counts: dict[str, int], *, dry_run: bool = False) -> str:
    """One line: what a prune removed (or, dry, would remove), per kind."""
    what = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in _SHOWN)
    return f"{'would prune' if dry_run else 'pruned'} {what}"


def _log_files(settings: Settings, run_ids: list[str], *, delete: bool) -> int:
    """Count (and delete) the log files of these runs on this machine."""
    count = 0
    for run_id in run_ids:
        folder = os.path.join(settings.logs_dir, run_id)
        for _, _, files in os.walk(folder):
            count += sum(name.endswith(".log") for name in files)  # not their `.times`
        if delete:
            shutil.rmtree(folder, ignore_errors=True)
    return count


def serve(
    settings: Settings,
    older_than: float,
    stop: threading.Event,
    leader: Callable[[], bool],
    report: Callable[[str], None],
) -> None:
    """Prune now and then once an hour, while `leader()` (this server runs the timers), until
    `stop` is set; report what each prune removed. Its own store connection."""
    store: Store | None = None
    try:
        while not stop.is_set():
            if not leader():
                stop.wait(LEADER_POLL)
                continue
            try:
                store = store or Store(settings.database_url)
                counts = prune(store, settings, older_than=older_than)
                wait = INTERVAL
            except Exception as exc:  # the next hour may go better; the server goes on
                print(f"baton: prune failed ({exc}); retrying in {RETRY:.0f}s", file=sys.stderr)
                if store is not None:
                    with contextlib.suppress(Exception):
                        store.reconnect()
                wait = RETRY
            else:
                report(summary(counts))
            stop.wait(wait)
    finally:
        if store is not None:
            store.close()
