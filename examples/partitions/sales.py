"""Partitioned assets: each run of `daily_sales` processes one day, and each day's data is
seen, backfilled and re-run on its own.

    baton deploy examples/partitions/sales.py
    baton run examples/partitions/sales.py --partition 2024-03-01
    baton backfill daily_sales --partitions 2024-03-01..2024-03-07 --max-parallel 2 \
        --path examples/partitions                 # where the deployed flow's code is
    baton partitions show daily_sales              # succeeded, failed, running, missing
    baton assets show sales.daily_total --partitions   # materialized, missing, stale
    baton backfill daily_sales --missing --partitions 2024-03-01..2024-03-10 \
        --path examples/partitions
"""

from baton import asset, asset_flow, daily, record_asset


@asset(name="sales.orders", description="The day's orders (made up here).")
def orders(partition: str) -> list[dict[str, object]]:
    day = int(partition[-2:])
    rows = [{"day": partition, "amount": (day * 7 + i * 3) % 50} for i in range(10)]
    record_asset("sales.orders", metadata={"rows": len(rows)})
    return rows


@asset(name="sales.daily_total", description="The day's revenue.")
def daily_total(orders: list[dict[str, object]], data_interval_start: str) -> float:
    total = float(sum(int(str(r["amount"])) for r in orders))
    record_asset("sales.daily_total", metadata={"total": total, "from": data_interval_start})
    return total


daily_sales = asset_flow(
    "daily_sales", [orders, daily_total], partitions=daily("2024-03-01", timezone="Europe/Paris")
)
