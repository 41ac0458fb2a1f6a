"""W2: a chain of 100 no-op tasks, each depending on the previous one."""

from __future__ import annotations

from baton import flow, task

N = 100


@task
def step(previous: int | None) -> int:
    return 0 if previous is None else previous + 1


@flow(name="bench_w2_chain")
def w2_chain() -> None:
    ref = step(None)
    for _ in range(N - 1):
        ref = step(ref)
