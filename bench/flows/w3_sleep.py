"""W3: 16 tasks that each sleep 0.5 s (run with --concurrency 8: ideally 1.0 s)."""

from __future__ import annotations

import time

from baton import flow, task

N = 16


@task
def nap(i: int, seconds: float) -> None:
    time.sleep(seconds)


@flow(name="bench_w3_sleep")
def w3_sleep(seconds: float = 0.5) -> None:
    for i in range(N):
        nap(i, seconds)
