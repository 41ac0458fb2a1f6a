"""A 1,000-item map on a local Dask cluster: through baton (`compute: dask`, each item a task
run that waits without a worker slot) against Dask alone (`client.map` + `gather`).

    .venv/bin/python bench/dask_map.py [--items 1000] [--reps 3]

The cluster is the tests' (`tests/dask_kit.py`): a scheduler and two workers of two threads
on 127.0.0.1. Each baton measurement is a whole `baton run --json` process with a fresh
BATON_HOME (SQLite), from spawn to exit; Dask's is `client.map` + `gather` on a connected
client, so the gap is baton's cost per item (claim, submit, wake, resume, record).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from compute_flows import MANY
from compute_flows import flow as compute_flow
from dask_kit import DaskCluster

BATON = str(Path(sys.executable).parent / "baton")


def through_baton(cluster: DaskCluster, folder: Path, items: int, concurrency: int) -> float:
    return time_baton_run(
        folder / "dask_map.py",
        items,
        concurrency,
        {"BATON_DASK_ADDRESS": cluster.address, "PYTHONPATH": str(cluster.folder)},
    )


def time_baton_run(
    flow: Path, items: int, concurrency: int, env: dict[str, str], prefix: tuple[str, ...] = ()
) -> float:
    """Seconds of one `baton run FLOW -p n=ITEMS --json` process with a fresh BATON_HOME
    (beside FLOW) and `env`, under `prefix` (`nsenter -n` into a namespace)."""
    home = tempfile.mkdtemp(dir=flow.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")} | env
    env["BATON_HOME"] = home
    args = ["run", str(flow), "-p", f"n={items}", "--json", f"--concurrency={concurrency}"]
    start = time.perf_counter()
    proc = subprocess.run(
        [*prefix, BATON, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    if proc.returncode != 0 or json.loads(proc.stdout)["state"] != "succeeded":
        raise SystemExit(f"baton run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return took


def print_table(rows: list[tuple[str, list[float]]], items: int, reps: int) -> None:
    print(f"\n{items} items, median of {reps} (min-max), seconds\n")
    print("| how | median | min | max | per item |")
    print("| --- | --- | --- | --- | --- |")
    for name, took in rows:
        median = statistics.median(took)
        print(
            f"| {name} | {median:.2f} | {min(took):.2f} | {max(took):.2f} "
            f"| {median / items * 1000:.1f} ms |"
        )


def dask_alone(cluster: DaskCluster, items: int) -> float:
    import distributed

    sys.path.insert(0, str(cluster.folder))
    import dask_tasks

    with distributed.Client(cluster.address, set_as_default=False) as client:
        start = time.perf_counter()
        futures = client.map(dask_tasks.double, range(items), pure=False)
        assert sum(client.gather(futures)) == items * (items - 1)
        return time.perf_counter() - start


def arguments(doc: str) -> argparse.Namespace:
    """--items and --reps of a map benchmark (`doc`: its module's docstring)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "dask_map.py").write_text(compute_flow(MANY, "dask"))
        (folder / "cluster").mkdir()
        cluster = DaskCluster(folder / "cluster")
        cluster.start()
        try:
            rows = []
            alone = [dask_alone(cluster, args.items) for _ in range(args.reps)]
            rows.append(("Dask alone: client.map + gather", alone))
            for slots in (2, 16):
                took = [through_baton(cluster, folder, args.items, slots) for _ in range(args.reps)]
                rows.append((f"baton run, {slots} worker slots", took))
        finally:
            cluster.kill()
    print_table(rows, args.items, args.reps)


if __name__ == "__main__":
    main()
