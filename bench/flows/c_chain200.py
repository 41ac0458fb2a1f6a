"""C-chain: 200 no-op tasks in a chain; each returns the time its body started, so the
cluster benchmark can measure predecessor end -> successor start."""

from __future__ import annotations

import time

from baton import flow, task

N = 200


@task
def step(previous: float | None) -> float:
    return time.time()


@flow(name="bench_c_chain200")
def c_chain200() -> None:
    ref = step(None)
    for _ in range(N - 1):
        ref = step(ref)
