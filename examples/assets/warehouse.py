"""Assets: two tables of a small SQLite warehouse, defined with `@asset`.

`raw.orders` has no upstream; `warehouse.revenue` reads it (its parameter is named after
the function that makes it). Each task reports metadata (`baton.record_asset`), and the
revenue table is checked after every write: a SQL check (the dbt convention: the query
returns the failing rows) that fails the task, and a Python check that only warns.

    baton deploy examples/assets/warehouse.py    # catalogues its assets, checks, freshness
    baton run examples/assets/warehouse.py       # records a materialization per asset
    baton assets list
    baton assets show warehouse.revenue
    baton materialize examples/assets/warehouse.py warehouse.revenue --upstream
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import baton
from baton import asset, asset_flow

DB = Path(__file__).resolve().parent.parent / "out" / "assets" / "warehouse.db"


@asset(
    name="raw.orders",
    description="Orders as the shop exports them, one row per order.",
    owner="shop-team@example.com",
    tags=["sales"],
)
def orders(n_orders: int = 40) -> int:
    DB.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(DB) as db:
        db.execute("DROP TABLE IF EXISTS orders")
        db.execute("CREATE TABLE orders (id INTEGER, customer TEXT, amount REAL)")
        rows = [(i, f"customer-{i % 5}", 10.0 + i % 7) for i in range(n_orders)]
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", rows)
    baton.record_asset("raw.orders", metadata={"rows": n_orders})
    return n_orders


@asset(
    name="warehouse.revenue",
    description="Revenue per customer.",
    owner="finance@example.com",
    tags=["sales", "finance"],
    freshness={"max_lag": "1d"},
    checks=[
        {
            "name": "no_negative_revenue",
            "sql": "SELECT customer, total FROM revenue WHERE total < 0",
            "url": f"sqlite:///{DB}",
            "description": "Refunds never exceed sales.",
        },
        {
            "name": "five_customers",
            "python": "warehouse:five_customers",
            "severity": "warn",
        },
    ],
)
def revenue(orders: int) -> dict[str, float]:
    with sqlite3.connect(DB) as db:
        db.execute("DROP TABLE IF EXISTS revenue")
        db.execute(
            "CREATE TABLE revenue AS SELECT customer, SUM(amount) AS total "
            "FROM orders GROUP BY customer"
        )
        totals = dict(db.execute("SELECT customer, total FROM revenue ORDER BY customer"))
    baton.record_asset(
        "warehouse.revenue",
        metadata={"customers": len(totals), "total": round(sum(totals.values()), 2)},
    )
    return totals


def five_customers(asset: str, metadata: dict[str, Any], partition: str | None) -> bool:
    """A warn check: the shop has five customers."""
    return metadata.get("customers") == 5


warehouse = asset_flow("warehouse", [orders, revenue])
