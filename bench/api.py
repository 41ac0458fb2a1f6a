"""REST API latency over real HTTP (issue #6's targets) and under load (issue #11's).

Usage:
    python bench/api.py [URL] [--requests N] [--concurrent C] [--profile]

URL is a PostgreSQL server (default BATON_TEST_POSTGRES_URL, else the local test server: a
fresh schema is made and dropped) or `sqlite` (a temp file). The store gets 10,000 runs of
20 flows over 30 days (inserted through the store API, 1,000 per transaction) and one run
of a 1,000-task flow, made the way workers make it (claimed and completed through the
engine). Then `baton server --no-worker` serves it and httpx, in this process, sends N
sequential requests (after 20 unmeasured ones) to each of:

- GET /api/v1/runs?limit=50 (the newest runs), with ?flow= (one flow's), and the second
  page by its cursor: target p95 < 50 ms;
- GET /api/v1/runs/{id} of the 1,000-task run: target p95 < 200 ms;
- GET /metrics (for information).

Then, on a fresh server warmed up by 20 requests, C (500) concurrent GET
/api/v1/runs?limit=50, each on a connection of its own: how many were answered 200, 503
(overloaded: the client should retry after `Retry-After`), anything else, or not at all
within 30 s; p50/p95/max of the answered ones. Then one more request (the server still
answers), and how long SIGTERM takes to stop it.

Prints the tables and writes bench/results/api-latest.json. With --profile, the run-detail
request is also run in-process under pyinstrument: bench/results/api-profile.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from stores import BASE, database, pct

from baton.api.auth import create_token
from baton.api.deps import COOKIE
from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState
from baton.settings import Settings
from baton.store.store import Store

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
RUNS, FLOWS, BIG_TASKS, BATCH = 10_000, 20, 1_000, 1_000
TARGET_LIST_MS, TARGET_RUN_MS = 50.0, 200.0
BATON = str(Path(sys.executable).parent / "baton")
LOAD_TIMEOUT = 30.0  # seconds a concurrent request may take before it counts as unanswered
STOP_TIMEOUT = 60.0  # seconds SIGTERM may take before the server is killed (and reported)


def fill(store: Store) -> tuple[str, str]:
    """10,000 small runs and one of 1,000 tasks; the big run's id and a flow name."""
    now = time.time()
    versions = []
    with store.transaction() as tx:
        for f in range(FLOWS):
            spec = FlowSpec(
                name=f"flow{f:02d}",
                tasks=(TaskSpec(key="work", type="shell", config={"command": "true"}),),
            )
            versions.append((spec.name, tx.save_version(spec, now)))
    for start in range(0, RUNS, BATCH):
        with store.transaction() as tx:
            for i in range(start, start + BATCH):
                flow, version = versions[i % FLOWS]
                created = now - 30 * 86400 * (1 - i / RUNS)
                run_id = f"{i:08d}{uuid.uuid4().hex[:8]}"
                tx.insert_run(
                    {
                        "id": run_id,
                        "flow_name": flow,
                        "version_id": version,
                        "state": "failed" if i % 17 == 0 else "succeeded",
                        "params": json.dumps({"day": i % 30}),
                        "trigger": "schedule",
                        "unfinished": 0,
                        "created_at": created,
                    }
                )
                tx.insert_task_runs(
                    [
                        {
                            "run_id": run_id,
                            "task_key": "work",
                            "map_index": -1,
                            "state": "succeeded",
                            "queue": "default",
                            "pool": None,
                            "priority": 0,
                            "up_total": 0,
                            "started_at": created + 1,
                            "ended_at": created + 2,
                            "attempts": 1,
                        }
                    ],
                    created,
                )
    engine = Engine(store)
    big = FlowSpec(
        name="big",
        tasks=tuple(
            TaskSpec(key=f"t{i:04d}", type="shell", config={"command": "true"})
            for i in range(BIG_TASKS)
        ),
    )
    run_id = engine.create_run(engine.register(big), {})
    claimed = engine.claim(
        worker_id="bench", queues=["default"], limit=BIG_TASKS, run_ids=[run_id], lease=600
    )
    engine.complete(
        [
            Outcome(
                c.attempt_id,
                c.task_run_id,
                c.run_id,
                c.task_key,
                c.attempt,
                AttemptState.SUCCEEDED,
                time.time(),
                result=json.dumps(f"done {c.task_key}"),
            )
            for c in claimed
        ]
    )
    assert store.read().run(run_id).state == "succeeded", "the big run did not finish"
    return run_id, versions[7][0]


class Served:
    """`baton server --no-worker` in a subprocess, at `url`; `stop_seconds` is how long SIGTERM
    took to stop it (None: it had not stopped after STOP_TIMEOUT and was killed)."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        # Its stderr goes to a file: a pipe nobody reads would block it once full.
        self.log = Path(cwd) / f"server-{uuid.uuid4().hex[:6]}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [BATON, "server", "--port", "0", "--no-worker"], env=env, cwd=cwd, stderr=log
            )
        deadline = time.monotonic() + 60
        while not (found := re.search(r"serving (http://\S+)/ ", self.log.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                sys.exit(f"bench: the server did not start\n{self.log.read_text()}")
            time.sleep(0.05)
        self.url = found.group(1)
        self.stop_seconds: float | None = None

    def stop(self) -> None:
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
            self.stop_seconds = time.monotonic() - t
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def server(env: dict[str, str], cwd: str) -> Iterator[Served]:
    served = Served(env, cwd)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            served.stop()


def measure(client: httpx.Client, path: str, n: int) -> list[float]:
    for _ in range(20):
        client.get(path).raise_for_status()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return times


async def load(base: str, token: str, path: str, n: int) -> dict[str, Any]:
    """`n` concurrent GETs of `path`, each on a connection of its own."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {token}"}
    cookies = {COOKIE: token}  # the UI's pages take the sign-in cookie, not the header
    async with httpx.AsyncClient(
        base_url=base, headers=headers, cookies=cookies, limits=limits, timeout=LOAD_TIMEOUT
    ) as client:

        async def one() -> tuple[int | None, float]:
            t = time.perf_counter()
            try:
                status: int | None = (await client.get(path)).status_code
            except httpx.HTTPError:
                status = None  # a timeout, or the connection refused or dropped
            return status, (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(n)))
        took = time.perf_counter() - t
    answered = [ms for status, ms in results if status is not None]
    statuses = [status for status, _ in results]
    return {
        "concurrent": n,
        "ok": statuses.count(200),
        "busy": statuses.count(503),
        "other": sum(s is not None and s not in (200, 503) for s in statuses),
        "unanswered": statuses.count(None),
        "p50": statistics.median(answered) if answered else None,
        "p95": pct(answered, 95) if answered else None,
        "max": max(answered) if answered else None,
        "seconds": took,
    }


def after_load(base: str, token: str) -> str:
    """Whether the server still answers, once the load is over."""
    try:
        r = httpx.get(
            f"{base}/api/v1/runs?limit=1", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})"
    return str(r.status_code)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def profile(settings: Settings, token: str, run_id: str) -> None:
    from fastapi.testclient import TestClient
    from pyinstrument import Profiler

    from baton.api import create_app

    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        client.get(f"/api/v1/runs/{run_id}").raise_for_status()
        profiler = Profiler(interval=0.0005)
        with profiler:
            for _ in range(20):
                client.get(f"/api/v1/runs/{run_id}").raise_for_status()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api-profile.txt").write_text(profiler.output_text(unicode=True, show_all=False))
    print(f"profile of 20 run-detail requests: {RESULTS / 'api-profile.txt'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=BASE, help="a PostgreSQL URL, or sqlite")
    parser.add_argument("--requests", type=int, default=200, help="per endpoint (default 200)")
    parser.add_argument(
        "--concurrent",
        default="500",
        help="concurrent requests, or several loads (a fresh server each): 60,200,500",
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    loads = [int(n) for n in args.concurrent.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as tmp, database(args.url, Path(tmp)) as url:
        settings = Settings.from_env({"BATON_HOME": tmp, "BATON_DATABASE_URL": url})
        store = Store(url)
        t = time.perf_counter()
        big, flow = fill(store)
        kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        took = time.perf_counter() - t
        print(f"store: {kind}, {RUNS:,} runs + one of {BIG_TASKS:,} tasks, filled in {took:.1f} s")
        with store.transaction() as tx:
            token = create_token(tx, "bench", "viewer")[1]
        store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env |= {"BATON_HOME": tmp, "BATON_DATABASE_URL": url}
        rows: list[dict[str, Any]] = []
        with (
            server(env, tmp) as served,
            httpx.Client(
                base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client,
        ):
            cursor = client.get("/api/v1/runs?limit=50").json()["next_cursor"]
            cases = [
                ("runs, newest 50", "/api/v1/runs?limit=50", TARGET_LIST_MS),
                (f"runs of {flow}", f"/api/v1/runs?limit=50&flow={flow}", TARGET_LIST_MS),
                ("runs, page 2 (cursor)", f"/api/v1/runs?limit=50&cursor={cursor}", TARGET_LIST_MS),
                (f"run of {BIG_TASKS:,} tasks", f"/api/v1/runs/{big}", TARGET_RUN_MS),
                ("metrics", "/metrics", None),
            ]
            for name, path, target in cases:
                times = measure(client, path, args.requests)
                rows.append(
                    {
                        "request": name,
                        "path": path,
                        "p50": statistics.median(times),
                        "p95": pct(times, 95),
                        "max": max(times),
                        "target_p95": target,
                    }
                )
        print(f"\n{args.requests} sequential requests each, over HTTP (ms)")
        print(f"{'request':<24} {'p50':>7} {'p95':>7} {'max':>7}  target p95")
        ok = True
        for r in rows:
            verdict = ""
            if r["target_p95"] is not None:
                passed = r["p95"] < r["target_p95"]
                ok &= passed
                verdict = f"< {r['target_p95']:.0f}  {'pass' if passed else 'FAIL'}"
            print(
                f"{r['request']:<24} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['max']:>7.1f}  {verdict}"
            )
        loaded = []
        for n in loads:
            with server(env, tmp) as served:
                for _ in range(20):  # warm up: imports, the pool's connections
                    after_load(served.url, token)
                result = asyncio.run(load(served.url, token, "/api/v1/runs?limit=50", n))
                result["after"] = after_load(served.url, token)
                served.stop()
            result["stop_seconds"] = served.stop_seconds
            # Every request answered (200, or 503 to retry), the server still answering, and
            # a clean stop: anything else is a hang.
            passed = (
                result["ok"] + result["busy"] == n
                and result["after"] == "200"
                and served.stop_seconds is not None
            )
            ok &= passed
            loaded.append(result | {"pass": passed})
        print("\nconcurrent GET /api/v1/runs?limit=50, each on its own connection (ms)")
        print(
            f"{'concurrent':>10} {'200':>5} {'503':>5} {'other':>5} {'none':>5} {'p50':>8} "
            f"{'p95':>8} {'max':>8}  {'then':>9}  {'SIGTERM':>8}"
        )
        for r in loaded:
            stop = "hung" if r["stop_seconds"] is None else f"{r['stop_seconds']:.1f} s"
            print(
                f"{r['concurrent']:>10} {r['ok']:>5} {r['busy']:>5} {r['other']:>5} "
                f"{r['unanswered']:>5} {_ms(r['p50']):>8} {_ms(r['p95']):>8} {_ms(r['max']):>8}  "
                f"{r['after']:>9}  {stop:>8}  {'pass' if r['pass'] else 'FAIL'}"
            )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "api-latest.json").write_text(
            json.dumps({"sequential": rows, "concurrent": loaded}, indent=2)
        )
        if args.profile:
            profile(settings, token, big)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
