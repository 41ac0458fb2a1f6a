"""An event-triggered flow: it runs each time `warehouse.daily_sales` is updated, i.e. each
time a run of `daily_sales` (daily_sales.yaml) succeeds in its `extract` task.

A task parameter named `trigger` gets what fired the run: here the asset, and the flow, run
and task that updated it. `logical_date`, `data_interval_start` and `data_interval_end` work
the same way for scheduled runs.
"""

from __future__ import annotations

from typing import Any

from baton import flow, task


@task
def report(trigger: dict[str, Any] | None = None, out_dir: str = "out") -> str:
    line = "manual run" if trigger is None else f"{trigger['asset']} from run {trigger['run_id']}"
    with open(f"{out_dir}/reports.txt", "a", encoding="utf-8") as f:
        f.write(line + "\n")
    return line


@flow(triggers=[{"asset": "warehouse.daily_sales"}])
def sales_report(out_dir: str = "out") -> None:
    report(out_dir=out_dir)
