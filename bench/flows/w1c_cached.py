"""W1C: W1 with its 500 tasks cached: after the warm-up run, every run is served from the
cache (no attempt runs), which must cost no more than W1's no-op tasks."""

from __future__ import annotations

from baton import flow, task

N = 500


@task(cache=True)
def noop(i: int) -> None:
    return None


@task
def join(results: list[None]) -> int:
    return len(results)


@flow(name="bench_w1c_cached")
def w1c_cached() -> None:
    join([noop(i) for i in range(N)])
