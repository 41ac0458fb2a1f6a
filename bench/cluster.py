"""Cluster-mode benchmark: baton workers on PostgreSQL (issue #4's targets).

Usage:
    python bench/cluster.py [--reps N] [--workers 1,2,4] [--concurrency C]

Needs BATON_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test). Each
measurement gets a fresh schema, N `baton worker` processes (started and registered before
the run exists), and one run created by `baton run FILE` (on a PostgreSQL store it only
creates the run). Measures:

- throughput: the 10,000-task fan-out + join (bench/flows/f10k_fanout.py), tasks per second
  from the run's creation to its end (both stamped by baton in the store);
- latency: the 200-task chain (bench/flows/c_chain200.py): for each task after the first, the
  time its body started (its result: time.time() as the body began) minus its predecessor's
  `ended_at` (when the predecessor's body returned). That covers reporting the outcome to the
  worker loop, the transaction recording it and claiming the successor (PostgreSQL round
  trips and commit), and handing the successor to a task thread.

Prints a table and writes bench/results/cluster-latest.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from stores import BASE, pct

BENCH = Path(__file__).resolve().parent
FLOWS = BENCH / "flows"
RESULTS = BENCH / "results"
BATON = str(BENCH.parent / ".venv" / "bin" / "baton")

TIMEOUT_S = 300.0
TARGET_TPS_2 = 1500.0
TARGET_P50_MS, TARGET_P99_MS = 5.0, 25.0


def sql(url: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


@contextmanager
def cluster(workers: int, concurrency: int, home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh schema and `workers` registered worker processes; everything killed after."""
    schema = f"baton_bench_{uuid.uuid4().hex[:10]}"
    sql(BASE, f"CREATE SCHEMA {schema}")
    url = f"{BASE}{'&' if '?' in BASE else '?'}options=-csearch_path%3D{schema}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env |= {"BATON_DATABASE_URL": url, "BATON_HOME": str(home)}
    subprocess.run([BATON, "db", "upgrade"], env=env, check=True, capture_output=True)
    procs = [
        subprocess.Popen(
            [BATON, "worker", "--concurrency", str(concurrency), "--path", str(FLOWS)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 30
        while sql(url, "SELECT count(*) AS n FROM workers")[0]["n"] < workers:
            if time.monotonic() > deadline:
                sys.exit("bench: workers did not register within 30 s")
            time.sleep(0.05)
        yield url, env
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        sql(BASE, f"DROP SCHEMA {schema} CASCADE")


def run(env: dict[str, str], url: str, flow: str) -> dict[str, Any]:
    """Create a run and wait for its end; its row."""
    out = subprocess.run(
        [BATON, "run", str(FLOWS / flow), "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    run_id = json.loads(out.stdout)["id"]
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        row = sql(url, "SELECT * FROM runs WHERE id = %s", run_id)[0]
        if row["state"] in ("succeeded", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            sys.exit(f"bench: run {run_id} of {flow} did not end within {TIMEOUT_S} s")
        time.sleep(0.05)
    if row["state"] != "succeeded":
        sys.exit(f"bench: run {run_id} of {flow} ended {row['state']}")
    return row


def throughput(workers: int, concurrency: int, home: Path) -> float:
    with cluster(workers, concurrency, home) as (url, env):
        row = run(env, url, "f10k_fanout.py")
        n = sql(url, "SELECT count(*) AS n FROM task_runs WHERE run_id = %s", row["id"])[0]["n"]
        return float(n / (row["ended_at"] - row["created_at"]))


def latencies(workers: int, concurrency: int, home: Path) -> list[float]:
    with cluster(workers, concurrency, home) as (url, env):
        row = run(env, url, "c_chain200.py")
        rows = sql(
            url,
            "SELECT task_key, ended_at, result FROM task_runs WHERE run_id = %s",
            row["id"],
        )
    by_key = {r["task_key"]: r for r in rows}
    keys = ["step"] + [f"step__{i}" for i in range(1, len(rows))]
    return [
        (float(json.loads(by_key[k]["result"])) - by_key[prev]["ended_at"]) * 1000
        for prev, k in itertools.pairwise(keys)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"baton-bench-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"concurrency": args.concurrency, "throughput": {}, "latency": {}}
    print(f"throughput: 10,001 tasks, worker --concurrency {args.concurrency}, {args.reps} reps")
    print("workers  median tasks/s  all")
    for n in (int(x) for x in args.workers.split(",")):
        runs = [throughput(n, args.concurrency, home) for _ in range(args.reps)]
        results["throughput"][n] = {"median": statistics.median(runs), "runs": runs}
        target = f"  (target >= {TARGET_TPS_2:.0f})" if n == 2 else ""
        print(f"{n:>7}  {statistics.median(runs):>14.0f}  {[round(r) for r in runs]}{target}")
    print("\nlatency: 200-task chain, predecessor end -> successor body start (ms)")
    print("workers     p50     p99     max")
    for n in (1, 2):
        lat = [x for _ in range(args.reps) for x in latencies(n, args.concurrency, home)]
        stats = {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat)}
        results["latency"][n] = stats
        print(f"{n:>7}  {stats['p50']:>6.2f}  {stats['p99']:>6.2f}  {stats['max']:>6.2f}")
    print(f"targets: p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster-latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
