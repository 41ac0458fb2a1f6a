"""Lineage and catalog reads on a large catalog (issue #13's targets).

Usage:
    python bench/lineage.py [URL] [--queries N] [--seed S]

URL is a PostgreSQL server (default BATON_TEST_POSTGRES_URL, else the local test server: a
fresh schema is made and dropped) or `sqlite` (a temp file). The store gets 10,000 assets
and 20,000 lineage links over 100 deployed flows (through `Tx.sync_catalog`, as deploys
write them): 5,000 tasks in 50 layers, each writing 2 assets of its own and reading 2
assets of earlier layers (3 in layers 1 and 2, none in layer 0), a fifth of them from 50
hub assets (so some assets have hundreds of readers, as a warehouse's core tables do), and
3 materializations per asset. Then, in this process, N lineage queries
(`execution.asset_views.lineage`, depth 3 up and down) from random roots, and from the
hubs, and N catalog pages (`asset_list`, 50 assets: the first page, a cursor page, a
search): p50, p95, max and graph sizes. Targets: lineage p95 < 100 ms, a catalog page p95
< 300 ms.

Prints the table and writes bench/results/lineage-latest.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stores import BASE, database, measure, pct

from baton.execution import asset_views
from baton.store.assets import Materialization
from baton.store.records import AssetLinkRow
from baton.store.store import Store

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
FLOWS, LAYERS, TASKS = 100, 50, 5_000  # 10,000 outputs + 10,000 inputs: 20,000 links
HUBS = 50
TARGET_LINEAGE_MS, TARGET_PAGE_MS = 100.0, 300.0


def fill(store: Store, rng: random.Random) -> tuple[list[str], list[str], int]:
    """The catalog; returns every asset name, the hubs and the number of links."""
    per_layer = TASKS // LAYERS
    written: list[str] = []  # assets of the layers done so far
    hubs: list[str] = []
    links: dict[str, list[AssetLinkRow]] = {f"flow{f:03}": [] for f in range(FLOWS)}
    for layer in range(LAYERS):
        made = []
        for t in range(per_layer):
            n = layer * per_layer + t
            flow, key = f"flow{n % FLOWS:03}", f"t{n:05}"
            outs = [f"layer{layer:02}.asset{n:05}_{i}" for i in range(2)]
            made += outs
            links[flow] += [AssetLinkRow(flow, key, a, "output") for a in outs]
            if written:
                ins: set[str] = set()
                while len(ins) < (3 if layer in (1, 2) else 2):
                    pool = hubs if hubs and rng.random() < 0.2 else written
                    ins.add(rng.choice(pool))
                links[flow] += [AssetLinkRow(flow, key, a, "input") for a in sorted(ins)]
        if layer == 0:
            hubs = made[:HUBS]
        written += made
    now = time.time()
    for flow, rows in links.items():
        with store.transaction() as tx:
            tx.sync_catalog(flow, [], rows, now)
    for i in range(0, len(written), 1_000):
        with store.transaction() as tx:
            tx.record_materializations(
                [
                    Materialization(a, "flow000", "r", "t", 1, 1, "a" * 32, '{"rows": 1}', None, t)
                    for a in written[i : i + 1_000]
                    for t in (now - 7_200, now - 3_600, now)
                ]
            )
    return written, hubs, sum(len(rows) for rows in links.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=BASE)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as home, database(args.url, Path(home)) as url:
        store = Store(url)
        start = time.perf_counter()
        names, hubs, n_links = fill(store, rng)
        kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        read = store.read()
        print(
            f"store: {kind}, {len(names):,} assets, {n_links:,} lineage links, "
            f"filled in {time.perf_counter() - start:.1f} s"
        )
        roots = iter(rng.choice(names) for _ in range(args.queries * 2))
        hub_roots = iter(rng.choice(hubs) for _ in range(args.queries * 2))
        # Warm up (statement caches, the OS's page cache), unmeasured.
        for _ in range(20):
            asset_views.lineage(read, rng.choice(names))
        rows = []
        cases: list[tuple[str, Callable[[], Any], float]] = [
            ("lineage random, depth 3", lambda: asset_views.lineage(read, next(roots)), 100.0),
            ("lineage hub, depth 3", lambda: asset_views.lineage(read, next(hub_roots)), 100.0),
            ("catalog page 1 (50)", lambda: asset_views.asset_list(read), TARGET_PAGE_MS),
            (
                "catalog cursor page (50)",
                lambda: asset_views.asset_list(read, after=names[len(names) // 2]),
                TARGET_PAGE_MS,
            ),
            ("catalog search q=layer04", lambda: asset_views.asset_list(read, q="layer04"), 300.0),
        ]
        for label, fn, target in cases:
            took, out = measure(fn, args.queries)
            sizes = [len(g.nodes) for g in out if isinstance(g, asset_views.Lineage)]
            rows.append(
                {
                    "request": label,
                    "p50": statistics.median(took),
                    "p95": pct(took, 95),
                    "max": max(took),
                    "target_p95": target,
                    "nodes_median": statistics.median(sizes) if sizes else None,
                    "nodes_max": max(sizes) if sizes else None,
                }
            )
        store.close()
    print(f"\n{args.queries} queries each, in process (ms)")
    print(f"{'request':<26} {'p50':>7} {'p95':>7} {'max':>7}  {'nodes p50/max':>13}  target p95")
    ok = True
    for r in rows:
        passed = r["p95"] < r["target_p95"]
        ok &= passed
        nodes = "" if r["nodes_max"] is None else f"{r['nodes_median']:.0f}/{r['nodes_max']}"
        print(
            f"{r['request']:<26} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['max']:>7.1f}  "
            f"{nodes:>13}  < {r['target_p95']:.0f} {'pass' if passed else 'FAIL'}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lineage-latest.json").write_text(
        json.dumps({"store": kind, "rows": rows}, indent=1)
    )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
