"""Prometheus metrics at /metrics (a viewer token, like the rest of the API), at the root
where Prometheus looks, not under /api/v1.

The text exposition format is written here by hand: a few gauges, a counter and one
histogram take a few lines, where `prometheus_client` would add a dependency (and a
process-wide default registry to steer around: STYLE.md rule 8) for no more than that.

Every gauge is read from the store at scrape time, one query each, on an index: runs by
state (the state index, one entry per run), live task runs by state and queued ones per queue
(ranges of the claim index, which starts with the state), workers, the scheduler's lock. Task
runs are counted in their live states only: the finished ones are all of history, too many
to count at every scrape; how tasks end is what the duration histogram tells. Asset metrics:
the assets the scheduler last evaluated stale (the freshness state table), and failed check
results per asset and check (recorded results, so the counter survives restarts). The
process's garbage collections, and the objects `baton server` froze out of them.

The histogram `baton_task_duration_seconds` is cumulative, as Prometheus expects: each scrape
reads the state events recorded since the last one (a range of their primary key, so the cost
is what happened since, not all of history) and adds the task runs among them that ended
after running. It counts from the server's first scrape and restarts with the server, like
any process counter; `rate()` and `histogram_quantile()` work on it as usual. The cache
counters `baton_cache_hits_total` and `baton_cache_misses_total` are read from the same
events: a task run that caches and ended served from the cache is a hit, one that ran
(computed its result, or failed) a miss.
"""

from __future__ import annotations

import gc
import math
import threading
from typing import Annotated

from fastapi import Depends, Request, Response

from baton.api.deps import StoreDep, Viewer, audited_router
from baton.api.routes.cluster import queue_table
from baton.model.states import TASK_TERMINAL, TASK_TRANSITIONS, RunState, TaskState
from baton.scheduling import timers
from baton.settings import LIVE_HEARTBEATS, Settings
from baton.store.store import Tx

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Bucket bounds in seconds: tasks take from milliseconds to hours.
_SECONDS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0)
_MINUTES = (1, 5, 15, 30, 60, 120, 360)
BUCKETS = (*_SECONDS, *(60.0 * m for m in _MINUTES))
# Events stamped this recently are left for the next scrape: a transaction still open may
# have numbered an event before them (see Tx.task_ends).
SETTLE = 2.0
SPAN = 200_000  # state events read per scrape at most (~60,000 tasks); more waits its turn
LIVE_TASK_STATES = tuple(s for s in TaskState if s not in TASK_TERMINAL)
# How a task that ran can end: the histogram's `state` label, each shown from the start.
ENDED_STATES = tuple(
    s
    for s in TaskState
    if s in TASK_TERMINAL
    and s in TASK_TRANSITIONS[TaskState.RUNNING] | TASK_TRANSITIONS[TaskState.WAITING]
)

router = audited_router(tags=["metrics"])  # no prefix: at the root


class TaskDurations:
    """The duration histogram, by end state, and the cache counters, fed from the store's
    state events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # scrapes may come at once
        self._after: int | None = None  # the last state event read
        self._buckets = {s.value: [0] * len(BUCKETS) for s in ENDED_STATES}
        self._sums = dict.fromkeys(self._buckets, 0.0)
        self._counts = dict.fromkeys(self._buckets, 0)
        self.cache_hits = 0
        self.cache_misses = 0

    def update(self, read: Tx, now: float) -> None:
        with self._lock:
            if self._after is None:
                self._after = read.last_event_id()
                return
            self._after, rows = read.task_ends(self._after, now - SETTLE, SPAN)
            for r in rows:
                self._observe(r["state"], max(r["ended_at"] - r["started_at"], 0.0))
                if r["cached_from_run"] is not None:
                    self.cache_hits += 1
                elif r["cache_key"] is not None:
                    self.cache_misses += 1

    def _observe(self, state: str, seconds: float) -> None:
        buckets = self._buckets.setdefault(state, [0] * len(BUCKETS))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        self._sums[state] = self._sums.get(state, 0.0) + seconds
        self._counts[state] = self._counts.get(state, 0) + 1

    def lines(self, name: str) -> list[str]:
        with self._lock:
            out = []
            for state, buckets in sorted(self._buckets.items()):
                label = f'state="{_escape(state)}"'
                out += [
                    f'{name}_bucket{{{label},le="{bound}"}} {n}'
                    for bound, n in zip(BUCKETS, buckets, strict=True)
                ]
                out += [
                    f'{name}_bucket{{{label},le="+Inf"}} {self._counts[state]}',
                    f"{name}_sum{{{label}}} {_number(self._sums[state])}",
                    f"{name}_count{{{label}}} {self._counts[state]}",
                ]
            return out


async def task_durations(request: Request) -> TaskDurations:
    """The app's histogram (`app.state.task_durations`), made at its first scrape: a coroutine,
    run on the event loop, so two first scrapes cannot each make one."""
    state = request.app.state
    if not hasattr(state, "task_durations"):
        state.task_durations = TaskDurations()
    durations: TaskDurations = state.task_durations
    return durations


@router.get(
    "/metrics",
    name="metrics.read",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics(
    request: Request,
    store: StoreDep,
    _: Viewer,
    durations: Annotated[TaskDurations, Depends(task_durations)],
) -> Response:
    """baton's metrics in the Prometheus text format."""
    settings: Settings = request.app.state.settings
    text = render(store.read(), durations, settings.heartbeat_seconds)
    return Response(text, media_type=CONTENT_TYPE)


def render(read: Tx, durations: TaskDurations, heartbeat: float) -> str:
    now = read.now()  # leases, heartbeats and the leader lock are stamped by the store's clock
    durations.update(read, now)
    runs = read.run_state_counts()
    tasks = read.task_state_counts(LIVE_TASK_STATES)
    out: list[str] = []
    _family(out, "baton_runs", "gauge", "Runs by state.")
    out += [f'baton_runs{{state="{s}"}} {runs.get(s, 0)}' for s in RunState]
    _family(out, "baton_task_runs", "gauge", "Task runs in each live (unfinished) state.")
    out += [f'baton_task_runs{{state="{s}"}} {tasks.get(s, 0)}' for s in LIVE_TASK_STATES]
    _family(out, "baton_queue_depth", "gauge", "Task runs queued (ready, not claimed) per queue.")
    out += [
        f'baton_queue_depth{{queue="{_escape(q["queue"])}"}} {q["queued"]}'
        for q in queue_table(read)
    ]
    _family(
        out,
        "baton_workers_alive",
        "gauge",
        f"Workers that heartbeated within {LIVE_HEARTBEATS} x BATON_HEARTBEAT_SECONDS.",
    )
    out.append(f"baton_workers_alive {read.live_worker_count(now - LIVE_HEARTBEATS * heartbeat)}")
    _family(
        out,
        "baton_scheduler_lag_seconds",
        "gauge",
        "How late the timers are: the time since the scheduler's last round, or since the "
        "oldest retry or wait it has not yet woken was due, whichever is longer.",
    )
    out.append(f"baton_scheduler_lag_seconds {_number(scheduler_lag(read, now))}")
    _family(
        out,
        "baton_task_duration_seconds",
        "histogram",
        "How long the task runs that ran took (first attempt's start to end), counted from "
        "this server's first scrape.",
    )
    out += durations.lines("baton_task_duration_seconds")
    _family(
        out,
        "baton_cache_hits_total",
        "counter",
        "Task runs served from the cache (no attempt ran), from this server's first scrape.",
    )
    out.append(f"baton_cache_hits_total {durations.cache_hits}")
    _family(
        out,
        "baton_cache_misses_total",
        "counter",
        "Task runs of caching tasks that ran (no entry, expired, or refreshed), from this "
        "server's first scrape.",
    )
    out.append(f"baton_cache_misses_total {durations.cache_misses}")
    _family(
        out,
        "baton_asset_stale",
        "gauge",
        "1 for an asset the scheduler last found stale, 0 fresh or never written (unknown); "
        "assets without a freshness policy have no series.",
    )
    out += [
        f'baton_asset_stale{{asset="{_escape(a)}"}} {int(stale)}'
        for a, stale in read.freshness_flags()
    ]
    _family(
        out,
        "baton_asset_check_failures_total",
        "counter",
        "Failed results of each asset check, as recorded (all of history).",
    )
    out += [
        f'baton_asset_check_failures_total{{asset="{_escape(a)}",check="{_escape(c)}"}} {n}'
        for a, c, n in read.check_failure_counts()
    ]
    _gc(out)
    return "\n".join(out) + "\n"


def _gc(out: list[str]) -> None:
    """The collector's work in this process, as Prometheus' Python client names it: a full
    (generation 2) collection pauses every request, and how long depends on how many
    objects it sees; those `baton server` froze at start it does not."""
    stats = gc.get_stats()
    _family(out, "python_gc_collections_total", "counter", "Collections, per generation.")
    out += [
        f'python_gc_collections_total{{generation="{g}"}} {s["collections"]}'
        for g, s in enumerate(stats)
    ]
    _family(out, "python_gc_objects_frozen", "gauge", "Objects kept out of every collection.")
    out.append(f"python_gc_objects_frozen {gc.get_freeze_count()}")


def scheduler_lag(read: Tx, now: float) -> float:
    """How late the timers are (0 when on time).

    The scheduler's leader renews its lock at the start of every round (at least every
    `timers.POLL` seconds), so now minus (expiry - TTL) is the time since its last round: it
    grows without bound when no server runs the timers, or the one that does is stuck. With no
    lock at all (no server has run the timers, or the last one stopped cleanly), what is late
    shows in the retries and waiting tasks whose time has passed and that nobody has woken.
    """
    lag = 0.0
    expires = read.lock_expiry(timers.LOCK)
    if expires is not None:
        lag = now - (expires - timers.LOCK_TTL)
    due = read.next_wakeup_at()
    if due is not None:
        lag = max(lag, now - due)
    return max(lag, 0.0)


def _family(out: list[str], name: str, kind: str, text: str) -> None:
    out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else ("+Inf" if value > 0 else "NaN")
