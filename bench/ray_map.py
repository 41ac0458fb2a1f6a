"""A 1,000-item map on a local Ray cluster: through baton (`compute: ray`, each item a task
run that waits without a worker slot) against Ray alone (`f.remote` per item + `ray.get`).

    .venv/bin/python bench/ray_map.py [--items 1000] [--reps 3]

The cluster is the tests' (`tests/ray_kit.py`): `ray start --head` with 4 CPUs in a network
namespace with only loopback, where every process of the measurement runs. Each baton
measurement is a whole `baton run --json` process with a fresh BATON_HOME (SQLite), from
spawn to exit, connecting as a Ray client (`ray://`). Ray alone is one client process,
timed inside (with and without its `ray.init`) and as a whole from spawn to exit (Python
and `import ray` too, as `baton run` pays them): the ratios to those are baton's cost
(claim, submit, wake, resume, record per item) with the same fixed costs on both sides.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dask_map import arguments, print_table, time_baton_run

from compute_flows import MANY
from compute_flows import flow as compute_flow
from ray_kit import ENV, RayCluster

# Run in the cluster's namespace; prints "<connect seconds> <map + get seconds>".
ALONE = """
import time, ray, ray_tasks
start = time.perf_counter()
ray.init("{address}", log_to_driver=False)
connected = time.perf_counter()
double = ray.remote(ray_tasks.double)
assert sum(ray.get([double.remote(i) for i in range({items})])) == {items} * ({items} - 1)
print(connected - start, time.perf_counter() - connected)
"""


def main() -> None:
    args = arguments(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        flow = folder / "ray_map.py"
        flow.write_text(compute_flow(MANY, "ray"))
        (folder / "cluster").mkdir()
        cluster = RayCluster(folder / "cluster")
        try:
            cluster.start()
            code = ALONE.format(address=cluster.address, items=args.items)
            alone, whole = [], []
            for _ in range(args.reps):
                start = time.perf_counter()
                alone.append([float(x) for x in cluster.run(code).split()])
                whole.append(time.perf_counter() - start)
            rows = [
                ("Ray alone: f.remote + ray.get (connected)", [m for _, m in alone]),
                ("Ray alone: ray.init + f.remote + ray.get", [c + m for c, m in alone]),
                ("Ray alone: the whole python process", whole),
            ]
            env = ENV | {"BATON_RAY_ADDRESS": cluster.address, "PYTHONPATH": str(cluster.folder)}
            for slots in (2, 16):
                took = [
                    time_baton_run(flow, args.items, slots, env, tuple(cluster.prefix))
                    for _ in range(args.reps)
                ]
                rows.append((f"baton run, {slots} worker slots", took))
        finally:
            cluster.close()
    print_table(rows, args.items, args.reps)
    for name, took in rows[3:]:
        for base, what in ((rows[2][1], "its whole process"), (rows[1][1], "its connection")):
            ratio = statistics.median(took) / statistics.median(base)
            print(f"{name}: {ratio:.2f}x Ray alone with {what}")


if __name__ == "__main__":
    main()
