"""Partition status at scale (issue #14's target: 50,000 keys answered in < 200 ms).

Usage:
    python bench/partitions.py [URL] [--queries N] [--keys K]

URL is a PostgreSQL server (default BATON_TEST_POSTGRES_URL, else the local test server: a
fresh schema is made and dropped) or `sqlite` (a temp file). A deployed flow with K hourly
partitions (default 50,000, about 5.7 years) gets one run for most keys (90 % succeeded,
5 % failed, 1 % running; the rest never ran) and a materialization of its asset for each
succeeded key; its upstream asset, hourly too, is written once more for a tenth of the keys
after (so those are stale). Then, in this process, N times each: every key's status of
the flow (`partition_views.flow_partitions`, what the API's first page and the UI's strip
compute), a filtered API page (`status=failed`), and every key's status of the asset
(`asset_partitions`): p50, p95, max.

Prints the table and writes bench/results/partitions-latest.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stores import BASE, database, measure, pct, vacuum

from baton.execution import partition_views as pv
from baton.execution.loader import LoadedFlow
from baton.model.yaml_spec import load_yaml_flow
from baton.scheduling.registration import deploy
from baton.store.assets import Materialization
from baton.store.store import Store

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TARGET_MS = 200.0
FLOW = """
name: hourly
partitions: {{type: hourly, start: "{start}"}}
tasks:
  - {{key: up, type: shell, command: x, outputs: [wh.up]}}
  - {{key: load, type: shell, command: x, depends_on: [up], inputs: [wh.up], outputs: [wh.events]}}
"""


def fill(store: Store, keys: int, now: datetime) -> list[str]:
    start = (now - timedelta(hours=keys)).replace(minute=0, second=0, microsecond=0)
    spec = load_yaml_flow(FLOW.format(start=start.strftime("%Y-%m-%dT%H:00")), file="f.yaml")
    deploy(store, [LoadedFlow(spec)])
    version = store.read().flow("hourly").latest_version  # type: ignore[union-attr]
    names = pv.flow_partitions(store.read(), spec, now.timestamp())
    all_keys = [v.key for v in names]
    at = now.timestamp() - keys * 10.0
    with store.transaction() as tx:
        writes = []
        for i, key in enumerate(all_keys):
            if i % 100 < 4:
                continue  # never ran
            state = "failed" if i % 100 < 9 else "running" if i % 100 == 9 else "succeeded"
            run_id = f"r{i:07}"
            tx.insert_run(
                {
                    "id": run_id,
                    "flow_name": "hourly",
                    "version_id": version,
                    "state": state,
                    "params": "{}",
                    "trigger": "backfill",
                    "partition": key,
                    "unfinished": 0,
                    "created_at": at + i,
                }
            )
            if state == "succeeded":
                for asset in ("wh.up", "wh.events"):
                    writes.append(_write(asset, run_id, key, at + i + 1))
        tx.record_materializations(writes)
        tx.record_materializations(
            [_write("wh.up", "late", k, now.timestamp()) for k in all_keys[::10]]
        )
    return all_keys


def _write(asset: str, run_id: str, key: str, at: float) -> Materialization:
    return Materialization(asset, "hourly", run_id, "load", 0, 1, run_id, None, None, at, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=BASE)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--keys", type=int, default=50_000)
    args = parser.parse_args()
    kind = "sqlite" if args.url == "sqlite" else "postgresql"
    rows = []
    with tempfile.TemporaryDirectory() as home, database(args.url, Path(home)) as url:
        store = Store(url)
        now = datetime.now(UTC)
        t = time.perf_counter()
        fill(store, args.keys, now)
        if kind == "postgresql":  # as autovacuum soon would: index-only scans need it
            vacuum(url, "runs", "asset_materializations")
        print(f"{kind}: {args.keys} hourly keys filled in {time.perf_counter() - t:.1f}s")
        read = store.read()
        spec = read.load_version(read.flow("hourly").latest_version)  # type: ignore[union-attr]
        ts = now.timestamp()

        def flow_all() -> Any:
            views = pv.flow_partitions(store.read(), spec, ts)
            return pv.flow_page(spec, views, views[:50])

        def flow_failed() -> Any:
            views = pv.flow_partitions(store.read(), spec, ts)
            return pv.flow_page(spec, views, pv.chosen(views, ["failed"])[:50])

        def asset_all() -> Any:
            _, views = pv.asset_partitions(store.read(), "wh.events", ts)
            return pv.asset_page("wh.events", spec, views, views[:50])

        counts = asset_all()["counts"]
        for name, fn in (
            ("flow: all keys, 1st page", flow_all),
            ("flow: status=failed page", flow_failed),
            ("asset: all keys, 1st page", asset_all),
        ):
            took, _ = measure(fn, args.queries)
            rows.append(
                {
                    "request": name,
                    "p50": statistics.median(took),
                    "p95": pct(took, 95),
                    "max": max(took),
                }
            )
        store.close()
    print(f"asset statuses: {counts}")
    print(f"\n{args.queries} queries each, {args.keys} keys, in process (ms)")
    print(f"{'request':<28} {'p50':>7} {'p95':>7} {'max':>7}  target p95")
    ok = True
    for r in rows:
        passed = r["p95"] < TARGET_MS
        ok &= passed
        print(
            f"{r['request']:<28} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['max']:>7.1f}  "
            f"< {TARGET_MS:.0f} {'pass' if passed else 'FAIL'}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "partitions-latest.json").write_text(
        json.dumps({"store": kind, "keys": args.keys, "rows": rows}, indent=1)
    )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
