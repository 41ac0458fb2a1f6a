"""W1: 500 independent no-op tasks, then one join task that depends on all of them."""

from __future__ import annotations

from baton import flow, task

N = 500


@task
def noop(i: int) -> None:
    return None


@task
def join(results: list[None]) -> int:
    return len(results)


@flow(name="bench_w1_fanout")
def w1_fanout() -> None:
    join([noop(i) for i in range(N)])
