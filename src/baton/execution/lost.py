"""Lost attempts: finding those whose worker is gone (`lost_attempts`), and saying why one
was lost (`end_lost`): in its error, and in a closing line of its log.

An attempt whose worker died ends without a word from that worker, so whoever fails it
(`baton server`'s timers, a resumed run, an embedded run's own worker) writes the last line
of its log instead: which worker stopped heartbeating, and when. `baton logs RUN TASK
--attempt N` then ends with it, on SQLite (the log file under BATON_HOME) as on PostgreSQL
(the pieces of the log shipped to the store).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from baton.engine.service import Engine
from baton.execution import container_sweep, log_times, logs
from baton.execution.log_times import StampedFile
from baton.model.names import task_run_name
from baton.model.times import iso
from baton.settings import Settings
from baton.store.records import AttemptRow, LiveAttemptRow, WorkerRow
from baton.store.store import Store
from baton.tasks import process


def fail(engine: Engine, settings: Settings, attempts: Sequence[AttemptRow], why: str) -> None:
    """Fail attempts whose worker is gone (error_kind lost), each with an error naming its
    worker and its last heartbeat, and close their logs with it."""
    by_worker: dict[str, list[AttemptRow]] = {}
    for a in attempts:
        by_worker.setdefault(a.worker_id, []).append(a)
    workers = workers_of(engine.store, attempts)
    for worker_id, theirs in by_worker.items():
        error = reason(workers.get(worker_id), worker_id, why)
        engine.fail_lost(theirs, error)
        close_logs(engine.store, settings, theirs, error)


def reason(worker: WorkerRow | None, worker_id: str, why: str) -> str:
    """The error of an attempt lost with its worker (a row of `Tx.workers`, None if gone)."""
    if worker is None:
        return f"lost: worker {worker_id} is gone: {why}"
    return f"lost: worker {worker.name} stopped heartbeating at {iso(worker.heartbeat_at)}: {why}"


def workers_of(store: Store, attempts: Sequence[AttemptRow]) -> dict[str, WorkerRow]:
    """The workers (rows of `Tx.workers`, stopped ones too) that ran these attempts, by id."""
    ids = {a.worker_id for a in attempts}
    return {w.id: w for w in store.read().workers(include_stopped=True) if w.id in ids}


def close_logs(
    store: Store, settings: Settings, attempts: Sequence[AttemptRow], error: str
) -> None:
    """End the logs of these attempts, just failed as lost with `error`, with a line saying
    so; an attempt that ended otherwise (its worker's late report won) is left as it is."""
    read = store.read()
    for a in attempts:
        now = read.attempt(a.task_run_id, a.number)
        if now is None or now.state != "failed" or now.error != error:
            continue
        task_run = read.task_run(a.task_run_id)
        name = task_run_name(task_run.task_key, task_run.map_index)
        line = f"baton: attempt {a.number} {error}\n"
        path = logs.log_path(settings, a.run_id, name, a.number)
        try:
            _append(store, settings, now, path, line)
        except OSError as exc:  # a full disk must not stop the timers: the error has it all
            print(f"baton: could not end the log {path} ({exc})", file=sys.stderr)


def _append(store: Store, settings: Settings, attempt: AttemptRow, path: str, line: str) -> None:
    here = os.path.exists(path)
    shipper = None
    if settings.cluster and here:
        # This machine ran it: the file first gets what the store has beyond its end (a
        # part run elsewhere), then the line; what the dead worker never shipped goes to the
        # store with the line, so both keep the same bytes at the same offsets.
        shipper = logs.Shipper()
        shipper.resume(store, attempt.id, path)
    if here or not settings.cluster:
        with StampedFile(path) as f:
            f.write(line.encode("utf-8"))
    if not settings.cluster:
        return
    if shipper is not None:
        rows = shipper.collect([attempt.id], final=True)
    else:  # another machine ran it: the line follows what the store has
        size = store.read().log_size(attempt.id)
        stamp = log_times.chunk_times([(size, round(time.time() * 1000))])
        rows = [(attempt.id, size, line, stamp)]
    with store.transaction() as tx:
        tx.append_log_chunks(rows)


def lost_attempts(
    store: Store, run_ids: Sequence[str] | None, own_id: str | None
) -> list[LiveAttemptRow]:
    """Running attempts whose worker is gone: its lease expired (by the store's clock, the
    one that set it: see `dialect.clock`), it stopped, or it was a process on this host that
    no longer exists."""
    host = hostname()
    return [
        a
        for a in store.read().lost_candidates(run_ids, host)
        if a.worker_id != own_id
        and (a.lease_expired or a.stopped_at is not None or (a.host == host and not _alive(a.pid)))
    ]


def end_lost(
    engine: Engine, settings: Settings, attempts: Sequence[LiveAttemptRow], reason: str
) -> None:
    """Fail attempts whose worker is gone, first killing the processes they left on this host.
    Each one's error, and a last line of its log, say which worker stopped heartbeating when;
    then the containers of ended attempts are swept from the Docker engine."""
    if not attempts:
        return
    host = hostname()
    for a in attempts:
        if a.host == host:
            process.kill_groups(settings.work_dir, a.id)
    fail(engine, settings, attempts, reason)
    # Their containers on an engine shared with other machines, which no record here names.
    container_sweep.sweep(engine.store)


def hostname() -> str:
    return os.uname().nodename  # what socket.gethostname() says, without importing socket


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
