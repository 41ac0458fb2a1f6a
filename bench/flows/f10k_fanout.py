"""F10k: 10,000 independent no-op tasks, then one join task that depends on all of them."""

from __future__ import annotations

from baton import flow, task

N = 10_000


@task
def noop(i: int) -> None:
    return None


@task
def join(results: list[None]) -> int:
    return len(results)


@flow(name="bench_f10k_fanout")
def f10k_fanout() -> None:
    join([noop(i) for i in range(N)])
