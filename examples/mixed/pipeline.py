"""Every task type that runs offline, in one flow: prices come from an HTTP API, orders
from a script, a sensor waits for them, SQL aggregates them, a notebook reports, and a
sub-flow archives the outputs.

    baton run examples/mixed/pipeline.py -p n_orders=500
"""

from __future__ import annotations

import os

import mixed_lib as lib

from baton import (
    flow,
    flow_task,
    http_task,
    notebook_task,
    script_task,
    sensor_task,
    shell_task,
    sql_task,
    task,
)


@task
def serve_prices() -> str:
    """Start the stand-in price API in this worker and return its URL."""
    return lib.serve_prices()


@task
def load_orders(orders: dict, prices: dict, out_dir: str) -> str:
    """Load the orders CSV and the price list into SQLite; returns the database URL."""
    return lib.load_orders(orders["csv"], prices, out_dir)


# Absolute: the notebook runs in its own folder (as Jupyter runs it), the others here.
OUT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../out/mixed"))


@flow(name="mixed")
def mixed(n_orders: int = 200, out_dir: str = OUT_DIR):
    url = serve_prices()
    prices = http_task(url, key="fetch_prices", retries=2, retry_delay=0.2, timeout=10)
    orders = script_task(
        "make_orders.py", key="make_orders", args=[n_orders, out_dir], result_file=True
    )
    ready = sensor_task(
        key="orders_ready", python="mixed_lib:orders_ready", poke_interval=0.2, timeout=30
    )
    db = load_orders(orders, prices, out_dir, wait_for=[ready])
    totals = sql_task(
        "SELECT product, count(*) AS orders, round(sum(qty * price), 2) AS revenue "
        "FROM orders JOIN prices USING (product) GROUP BY product ORDER BY revenue DESC",
        key="totals",
        url=db,
    )
    report = notebook_task(
        "report.ipynb", key="report", parameters={"totals": totals, "out_dir": out_dir}
    )
    archived = flow_task(
        "archive.yaml", key="archive", params={"out_dir": out_dir}, wait_for=[report]
    )
    shell_task("ls {{ params.out_dir }}", key="listing", wait_for=[archived])
