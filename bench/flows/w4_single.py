"""W4: a flow of one no-op task (the fixed cost of `baton run`)."""

from __future__ import annotations

from baton import flow, task


@task
def noop() -> None:
    return None


@flow(name="bench_w4_single")
def w4_single() -> None:
    noop()
