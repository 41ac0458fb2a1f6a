"""/metrics: the Prometheus text format, each metric against the store it reads, on SQLite
and PostgreSQL (`settings` here overrides conftest's; its fixtures follow it)."""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import baton
from baton.api.routes import metrics
from baton.model.states import TaskState
from baton.scheduling import timers
from baton.settings import Settings
from baton.store.store import Store, TaskMove

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse(text: str) -> Samples:
    """The samples of a text exposition, checked the way Prometheus reads it: every sample
    belongs to a family declared (HELP, TYPE) before it, and a histogram's buckets are
    cumulative and end with +Inf = _count."""
    assert text.endswith("\n")
    kinds: dict[str, str] = {}
    samples: Samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter", "histogram") and name not in kinds
            kinds[name] = kind
            continue
        m = _SAMPLE.fullmatch(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in kinds else name
        assert family in kinds, f"{name}: no TYPE before it"
        pairs = frozenset(
            (k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
            for k, v in _LABEL.findall(labels or "")
        )
        assert (name, pairs) not in samples, f"duplicate sample {line!r}"
        samples[name, pairs] = float(value)
    for (name, labels), count in samples.items():
        if kinds.get(name.removesuffix("_count")) == "histogram" and name.endswith("_count"):
            base = name.removesuffix("_count")
            buckets = sorted(
                (float(dict(lb)["le"]), v)
                for (n, lb), v in samples.items()
                if n == f"{base}_bucket" and lb - {("le", dict(lb)["le"])} == labels
            )
            assert buckets[-1] == (math.inf, count)
            assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    env = {"BATON_HOME": str(tmp_path / ".baton"), "BATON_HEARTBEAT_SECONDS": "10"}
    if request.param == "postgresql":
        env["BATON_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return Settings.from_env(env)


@pytest.fixture
def scrape(client_for, app) -> Callable[[], Samples]:
    """GET /metrics with a viewer token; the samples. `scrape.app` is the app."""
    viewer = client_for("viewer")

    def get() -> Samples:
        r = viewer.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse(r.text)

    get.app = app  # type: ignore[attr-defined]
    return get


def test_metrics_need_a_viewer_token(client_for):
    assert client_for(None).get("/metrics").status_code == 401
    bad = {"Authorization": "Bearer baton_nope_nope"}
    assert client_for(None).get("/metrics", headers=bad).status_code == 401
    assert client_for("viewer").get("/api/v1/metrics").status_code == 404  # at the root


def test_runs_task_runs_and_queues_are_counted(scrape, store, add_run):
    add_run("r1", "running", [("a", "queued", "default", None), ("b", "running", "gpu", None)])
    add_run(
        "r2", "running", [("a", "queued", 'we"ird\\q', None), ("b", "pending", "default", None)]
    )
    add_run("r3", "succeeded", [("a", "succeeded", "default", None)])
    add_run("r4", "scheduled", [])
    s = scrape()
    assert value(s, "baton_runs", state="running") == 2
    assert value(s, "baton_runs", state="succeeded") == 1
    assert value(s, "baton_runs", state="scheduled") == 1
    assert value(s, "baton_runs", state="cancelled") == 0  # every state, none missing
    live = {dict(lb)["state"]: v for (n, lb), v in s.items() if n == "baton_task_runs"}
    assert live == {"pending": 1, "queued": 2, "running": 1, "retry_wait": 0, "waiting": 0}
    depth = {dict(lb)["queue"]: v for (n, lb), v in s.items() if n == "baton_queue_depth"}
    assert depth == {"default": 1, "gpu": 0, 'we"ird\\q': 1}


def test_workers_alive_have_heartbeated_within_three_periods(scrape, store):
    now = time.time()
    with store.transaction() as tx:
        for worker_id, started in (("fresh", now - 5), ("late", now - 29), ("dead", now - 31)):
            tx.register_worker(
                {
                    "id": worker_id,
                    "name": worker_id,
                    "host": "h",
                    "pid": 1,
                    "queues": ["default"],
                    "concurrency": 1,
                    "started_at": started,
                }
            )
        tx.register_worker(
            {
                "id": "stopped",
                "name": "stopped",
                "host": "h",
                "pid": 1,
                "queues": ["default"],
                "concurrency": 1,
                "started_at": now,
            }
        )
        tx.stop_worker("stopped", now)
    assert value(scrape(), "baton_workers_alive") == 2  # heartbeat 10 s: within 30 s


def test_scheduler_lag_is_since_the_last_round_or_the_oldest_overdue_wakeup(scrape, store, add_run):
    assert value(scrape(), "baton_scheduler_lag_seconds") == 0  # nothing known to be late
    add_run("r1", "running", [("a", "retry_wait", "default", None)])
    with store.transaction() as tx:
        retry = tx.task_runs("r1")[0].id
        tx._c.execute("UPDATE task_runs SET ready_at = ? WHERE id = ?", (time.time() - 7, retry))
    assert value(scrape(), "baton_scheduler_lag_seconds") == pytest.approx(7, abs=1)
    with store.transaction() as tx:  # a leader whose last round was 60 s ago
        expires = time.time() - 60 + timers.LOCK_TTL  # (acquire_lock uses the database's clock)
        tx._c.execute(
            "INSERT INTO locks (name, holder, expires_at) VALUES (?, ?, ?)",
            (timers.LOCK, "gone", expires),
        )
    assert value(scrape(), "baton_scheduler_lag_seconds") == pytest.approx(60, abs=1)
    with store.transaction() as tx:  # a live leader, which woke the retry
        tx._c.execute("DELETE FROM locks")
        tx.acquire_lock(timers.LOCK, "here", time.time(), timers.LOCK_TTL)
        tx._c.execute("UPDATE task_runs SET ready_at = ? WHERE id = ?", (time.time() + 9, retry))
    assert value(scrape(), "baton_scheduler_lag_seconds") < 1


def _run_task(store: Store, run_id: str, key: str, start: float, end: float, to: str) -> None:
    """Move a queued task run through running to `to`, stamped `start` and `end`."""
    tid = next(r.id for r in store.read().task_runs(run_id) if r.task_key == key)
    with store.transaction() as tx:
        tx.move_tasks(
            [TaskMove(tid, run_id, TaskState.QUEUED, TaskState.RUNNING, {"started_at": start})],
            start,
        )
    with store.transaction() as tx:
        tx.move_tasks(
            [TaskMove(tid, run_id, TaskState.RUNNING, TaskState(to), {"ended_at": end})], end
        )


def test_task_durations_count_what_ended_after_the_first_scrape(scrape, store, add_run):
    t = time.time() - 100
    add_run("r1", "running", [(k, "queued", "default", None) for k in "abcde"])
    add_run("r2", "running", [("z", "pending", "default", None)])
    _run_task(store, "r1", "a", t, t + 0.3, "succeeded")  # before the first scrape
    first = scrape()
    assert value(first, "baton_task_duration_seconds_count", state="succeeded") == 0
    _run_task(store, "r1", "b", t, t + 0.3, "succeeded")
    _run_task(store, "r1", "c", t, t + 0.007, "succeeded")
    _run_task(store, "r1", "d", t, t + 42, "failed")
    with store.transaction() as tx:  # never ran: not a duration
        z = tx.task_runs("r2")[0].id
        tx.move_tasks([TaskMove(z, "r2", TaskState.PENDING, TaskState.SKIPPED)], t)
    s = scrape()
    h = "baton_task_duration_seconds"
    assert value(s, f"{h}_count", state="succeeded") == 2
    assert value(s, f"{h}_sum", state="succeeded") == pytest.approx(0.307)
    assert value(s, f"{h}_bucket", state="succeeded", le="0.01") == 1
    assert value(s, f"{h}_bucket", state="succeeded", le="0.5") == 2
    assert value(s, f"{h}_count", state="failed") == 1
    assert value(s, f"{h}_bucket", state="failed", le="30.0") == 0
    assert value(s, f"{h}_bucket", state="failed", le="60.0") == 1
    assert value(s, f"{h}_count", state="skipped") == 0
    assert _baton_only(scrape()) == _baton_only(s)  # counted once


def _baton_only(series: Samples) -> Samples:
    """baton's own series (the garbage collector's move between two scrapes)."""
    return {k: v for k, v in series.items() if k[0].startswith("baton_")}


def test_an_event_too_recent_to_be_settled_is_counted_at_a_later_scrape(store, add_run):
    durations = metrics.TaskDurations()
    durations.update(store.read(), time.time())
    now = time.time()
    add_run("r1", "running", [("a", "queued", "default", None)])
    _run_task(store, "r1", "a", now - 1, now, "succeeded")
    durations.update(store.read(), now)  # ended less than SETTLE ago: not yet
    assert 'le="+Inf"} 0' in "\n".join(durations.lines("d"))
    durations.update(store.read(), now + metrics.SETTLE)
    assert 'd_count{state="succeeded"} 1' in durations.lines("d")


@baton.task
def ok() -> int:
    return 1


@baton.task
def bad() -> None:
    raise ValueError("no")


@baton.task
def after(_: None) -> None: ...


@baton.flow(name="m")
def two_ends() -> None:
    ok()
    after(bad())


def test_a_real_flow_shows_in_the_histogram(scrape, store, settings):
    scrape()
    assert baton.run_flow(two_ends, settings=settings).state == "failed"
    scrape.app.state.task_durations.update(store.read(), time.time() + metrics.SETTLE)
    s = scrape()
    h = "baton_task_duration_seconds_count"
    assert (value(s, h, state="succeeded"), value(s, h, state="failed")) == (1, 1)
    assert value(s, "baton_runs", state="failed") == 1
    assert sum(v for (n, _), v in s.items() if n == "baton_task_runs") == 0


@baton.task(cache=True)
def cached_one() -> int:
    return 1


@baton.flow(name="mc")
def cached_flow() -> None:
    cached_one()


def test_cache_hits_and_misses_are_counted(scrape, store, settings):
    scrape()
    runs = [baton.run_flow(cached_flow, settings=settings) for _ in range(3)]
    assert [r.tasks["cached_one"].cached for r in runs] == [False, True, True]
    baton.run_flow(cached_flow, settings=settings, refresh_cache=True)  # computes: a miss
    baton.run_flow(two_ends, settings=settings)  # no cache: neither
    scrape.app.state.task_durations.update(store.read(), time.time() + metrics.SETTLE)
    s = scrape()
    assert (value(s, "baton_cache_hits_total"), value(s, "baton_cache_misses_total")) == (2, 2)
