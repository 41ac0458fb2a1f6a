"""W1A: W1 where each of the 500 tasks writes an asset and reports metadata, so every
success records a materialization (the issue's bound: < 5 % over W1)."""

from __future__ import annotations

import baton
from baton import flow, task

N = 500


@task(outputs=["bench.w1a"])
def noop(i: int) -> None:
    baton.record_asset("bench.w1a", metadata={"i": i})


@task
def join(results: list[None]) -> int:
    return len(results)


@flow(name="bench_w1_assets")
def w1_assets() -> None:
    join([noop(i) for i in range(N)])
