"""What the UI's live pages cost the server (issue #18, item 8): each open tab refetches its
whole page every 5 s (`live.js`), so a page's latency sets how many tabs one server carries.

Usage:
    python bench/live_pages.py [URL] [--requests N] [--concurrent C]

URL is a PostgreSQL server (default BATON_TEST_POSTGRES_URL, else the local test server) or
`sqlite`. The store is bench/api.py's: 10,000 runs of 20 flows and one run of a 1,000-task
flow. `baton server --no-worker` serves it; httpx sends N sequential GETs (after 20
unmeasured ones) of each page the poller refetches: the flows list, a flow's page (its runs
grid) for a small and for the 1,000-task flow, the runs list, the workers page, and a task's
page. Then C concurrent GETs of the big flow's page, as C tabs polling at once. A page's
p50 gives the polls a second one server process answers (1000 / p50): at one poll every
5 s, five times that many tabs. Target: every page's p95 < 300 ms.

Prints a table and writes bench/results/live-pages-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from stores import BASE, database, pct

from api import fill, load, measure, server
from baton.api.auth import create_token
from baton.api.deps import COOKIE
from baton.settings import Settings
from baton.store.store import Store

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_P95_MS = 300.0
POLL_SECONDS = 5.0  # live.js: LIVE_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=BASE, help="a PostgreSQL URL, or sqlite")
    parser.add_argument("--requests", type=int, default=100, help="per page (default 100)")
    parser.add_argument("--concurrent", type=int, default=100, help="tabs at once (100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.url, Path(tmp)) as url:
        store = Store(url)
        big_run, flow = fill(store)
        with store.transaction() as tx:
            token = create_token(tx, "bench", "viewer")[1]
        store.close()
        kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        Settings.from_env({"BATON_HOME": tmp, "BATON_DATABASE_URL": url})  # checks the URL
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env |= {"BATON_HOME": tmp, "BATON_DATABASE_URL": url}
        pages = [
            ("flows list", "/flows"),
            (f"flow page ({flow}, 500 runs)", f"/flows/{flow}"),
            ("flow page (1,000 tasks)", "/flows/big"),
            ("runs list (10,001 runs)", "/runs"),
            ("workers", "/workers"),
            ("task page", f"/runs/{big_run}/tasks/t0500"),
        ]
        rows: list[dict[str, Any]] = []
        with (
            server(env, tmp) as served,
            httpx.Client(base_url=served.url, cookies={COOKIE: token}, timeout=30) as client,
        ):
            for name, path in pages:
                times = measure(client, path, args.requests)
                p50 = statistics.median(times)
                rows.append(
                    {
                        "page": name,
                        "path": path,
                        "p50": p50,
                        "p95": pct(times, 95),
                        "max": max(times),
                        "tabs": int(1000 / p50 * POLL_SECONDS),
                    }
                )
            burst = asyncio.run(load(served.url, token, "/flows/big", args.concurrent))
    print(f"store: {kind}; {args.requests} sequential GETs per page, over HTTP (ms)")
    print(f"{'page':<30} {'p50':>7} {'p95':>7} {'max':>7}  tabs at 1 poll/5 s  p95 < 300")
    ok = True
    for r in rows:
        passed = r["p95"] < TARGET_P95_MS
        ok &= passed
        print(
            f"{r['page']:<30} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['max']:>7.1f}"
            f"  {r['tabs']:>18,}  {'pass' if passed else 'FAIL'}"
        )
    print(
        f"\n{burst['concurrent']} tabs polling /flows/big at once: {burst['ok']} answered 200, "
        f"{burst['busy']} 503, {burst['other']} other, {burst['unanswered']} unanswered; "
        f"p50 {burst['p50']:.0f} ms, p95 {burst['p95']:.0f} ms, all in {burst['seconds']:.1f} s"
    )
    RESULTS.mkdir(exist_ok=True)
    out = {"store": kind, "at": time.time(), "pages": rows, "burst": burst, "pass": ok}
    (RESULTS / "live-pages-latest.json").write_text(json.dumps(out, indent=2))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
