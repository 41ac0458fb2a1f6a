"""The assets UI with a catalog of 10,000 assets (issue #13: the assets page renders in under
300 ms).

Usage:
    python bench/assets_page.py [URL] [--requests N]

URL is `sqlite` (the default: a temp file) or a PostgreSQL server (a fresh schema is made and
dropped). The store gets 10,000 assets declared by 20 deployed flows (`Tx.sync_catalog`: each
with a description, an owner, one of 10 tags, half with a freshness policy and a third with
two checks), 20,000 lineage links (each flow's task i writes asset i and reads asset i-1),
three materializations per asset with numeric metadata (`Tx.record_materializations`), a
result per check (a tenth failing) and a freshness state per policy (a fifth stale). Then
`baton ui` serves it and httpx, in this process, sends N sequential requests (after 10
unmeasured ones) over real HTTP, signed in by cookie, to each of:

- GET /assets (the first page of 50), ?q= (a search; one matching nothing, so every row
  is looked at), ?tag= (a tag filter), ?show=stale, and a page in the middle by its cursor
  (?after=): target p95 < 300 ms;
- GET /assets/{name} (an asset's page) and GET /lineage?asset=..&upstream=3&downstream=3,
  for information.

Prints a table and writes bench/results/assets-page-latest.json.
"""

from __future__ import annotations

import argparse
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
from stores import database

from baton.api.auth import create_token
from baton.api.deps import COOKIE
from baton.model.assets import AssetSpec, CheckSpec, FreshnessSpec
from baton.settings import Settings
from baton.store.assets import CheckRecord, Materialization
from baton.store.records import AssetLinkRow, AssetStateRow
from baton.store.store import Store

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BATON = str(Path(sys.executable).parent / "baton")
ASSETS, FLOWS, TAGS, WRITES, BATCH = 10_000, 20, 10, 3, 2_000
TARGET_MS = 300.0


def name_of(i: int) -> str:
    return f"domain{i % FLOWS:02d}.table_{i:05d}"


def fill(store: Store) -> None:
    """The catalog, its links, its history, check results and freshness states."""
    now = time.time()
    per_flow = ASSETS // FLOWS
    for f in range(FLOWS):
        ids = range(f * per_flow, (f + 1) * per_flow)
        specs = [
            AssetSpec(
                name=name_of(i),
                description=f"Table {i} of domain {f}: one row per event, loaded hourly.",
                owner=f"team{f % 4}@example.com",
                tags=(f"tag{i % TAGS}",),
                freshness=FreshnessSpec(max_lag=6 * 3600) if i % 2 == 0 else None,
                checks=(
                    CheckSpec(name="not_empty", sql="SELECT 1 WHERE 0", conn="wh"),
                    CheckSpec(name="unique_ids", sql="SELECT 1 WHERE 0", conn="wh"),
                )
                if i % 3 == 0
                else (),
            )
            for i in ids
        ]
        links = [AssetLinkRow(f"flow{f:02d}", f"t{i}", name_of(i), "output") for i in ids]
        links += [
            AssetLinkRow(f"flow{f:02d}", f"t{i}", name_of(i - 1), "input") for i in ids if i > 0
        ]
        with store.transaction() as tx:
            tx.sync_catalog(f"flow{f:02d}", specs, links, now)
    writes = [
        Materialization(
            name_of(i),
            f"flow{i % FLOWS:02d}",
            f"run{w:02d}{i:06d}",
            f"t{i}",
            1,
            1,
            uuid.uuid4().hex,
            json.dumps({"rows": 1000 * w + i, "bytes": 12.5 * i, "path": f"s3://b/{i}"}),
            f"v{w}",
            now - (WRITES - w) * 3600,
        )
        for w in range(WRITES)
        for i in range(ASSETS)
    ]
    for start in range(0, len(writes), BATCH):
        with store.transaction() as tx:
            tx.record_materializations(writes[start : start + BATCH])
    checks = [
        CheckRecord(name_of(i), c, "error", (i // 3) % 10 != 0, now - 60, f"run02{i:06d}")
        for i in range(0, ASSETS, 3)
        for c in ("not_empty", "unique_ids")
    ]
    states = [
        AssetStateRow(
            name_of(i),
            "stale" if i % 10 == 0 else "fresh",
            now - 600,
            now - 3600,
            now + 3600,
            now,
        )
        for i in range(0, ASSETS, 2)
    ]
    for start in range(0, len(checks), BATCH):
        with store.transaction() as tx:
            tx.record_check_results(checks[start : start + BATCH])
    with store.transaction() as tx:
        tx.set_asset_states(states)


@contextlib.contextmanager
def served(env: dict[str, str], cwd: str) -> Iterator[str]:
    """`baton ui` in a subprocess; its URL."""
    log = Path(cwd) / "ui.log"
    with log.open("w") as out:
        proc = subprocess.Popen([BATON, "ui", "--port", "0"], env=env, cwd=cwd, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"serving (http://\S+)/ ", log.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"bench: the UI did not start\n{log.read_text()}")
            time.sleep(0.05)
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(client: httpx.Client, path: str, n: int, expect: str) -> dict[str, Any]:
    for _ in range(10):
        r = client.get(path)
        assert r.status_code == 200 and expect in r.text, f"{path}: {r.status_code}"
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, f"{path}: {r.status_code}"
    times.sort()
    return {
        "path": path,
        "p50_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, round(0.95 * len(times)) - 1)],
        "max_ms": times[-1],
        "bytes": len(r.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", default="sqlite")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.url, Path(tmp)) as url:
        settings = Settings.from_env({"BATON_HOME": tmp, "BATON_DATABASE_URL": url})
        store = Store(settings.database_url)
        t = time.perf_counter()
        fill(store)
        print(f"filled {ASSETS:,} assets in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        with store.transaction() as tx:
            token = create_token(tx, "bench", "viewer")[1]
        store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env |= {"BATON_HOME": tmp, "BATON_DATABASE_URL": url}
        middle = name_of(ASSETS // 2)
        pages = [
            ("/assets", "table_", True),
            ("/assets?q=domain07.table_04", "table_04", True),
            ("/assets?q=no-such-thing", "No assets match", True),  # every row looked at
            ("/assets?tag=tag3", "tag3", True),
            ("/assets?show=stale", "Stale", True),
            (f"/assets?after={middle}", "table_", True),
            (f"/assets/{name_of(3)}", "Materializations", False),
            (f"/lineage?asset={middle}&upstream=3&downstream=3", "ln asset", False),
        ]
        with (
            served(env, tmp) as base,
            httpx.Client(base_url=base, cookies={COOKIE: token}, timeout=30) as client,
        ):
            rows = [
                {**measure(client, path, args.requests, expect), "target": target}
                for path, expect, target in pages
            ]
    ok = all(r["p95_ms"] < TARGET_MS for r in rows if r["target"])
    print(f"{'page':<52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KB':>6}  target")
    for r in rows:
        verdict = ("pass" if r["p95_ms"] < TARGET_MS else "FAIL") if r["target"] else "(info)"
        print(
            f"{r['path'][:52]:<52} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f} "
            f"{r['bytes'] / 1024:6.1f}  {verdict}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {"url": args.url, "assets": ASSETS, "requests": args.requests, "pages": rows}
    (RESULTS / "assets-page-latest.json").write_text(json.dumps(out, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
