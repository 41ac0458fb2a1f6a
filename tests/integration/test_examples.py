"""The examples run offline on a fresh machine, as `./dev demo` runs them."""

from __future__ import annotations

import csv
import json
import shutil
import tarfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_features_example_runs_in_python_and_yaml(baton, tmp_path: Path) -> None:
    for name in ("pipeline.py", "pipeline.yaml"):
        out = tmp_path / name
        run = baton.run(
            str(EXAMPLES / "features" / name), "-p", f"out_dir={out}", "-p", "n_rows=600"
        )
        assert run["state"] == "succeeded"
        assert {t["key"] for t in run["tasks"]} >= {
            "clicks_ingest",
            "orders_ingest",
            "match",
            "build_features",
            "persist_features",
            "train",
        }
        with open(out / "features.csv", encoding="utf-8") as f:
            assert len(list(csv.DictReader(f))) > 50
    log = baton("logs", run["id"], "train").stdout
    assert "accuracy" in log


def test_the_mixed_example_uses_every_offline_task_type(baton, tmp_path: Path) -> None:
    # A copy, run with its defaults from another folder, as `./dev demo` runs it.
    shutil.copytree(EXAMPLES / "mixed", tmp_path / "examples" / "mixed")
    out = tmp_path / "examples" / "out" / "mixed"
    run = baton.run(str(tmp_path / "examples" / "mixed" / "pipeline.py"))
    states = {t["key"]: t["state"] for t in run["tasks"]}
    assert run["state"] == "succeeded", run
    assert set(states) == {
        "serve_prices",
        "fetch_prices",
        "make_orders",
        "orders_ready",
        "load_orders",
        "totals",
        "report",
        "archive",
        "listing",
    }
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| widget |" in report
    with tarfile.open(out / "archive.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["orders.csv", "report.md"]
    runs = json.loads(baton("runs", "list", "--json").stdout)
    assert {(r["flow"], r["trigger"]) for r in runs} == {("mixed", "manual"), ("archive", "flow")}


def test_the_assets_example_catalogues_checks_and_materializes(baton, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "assets", tmp_path / "examples" / "assets")
    flow = str(tmp_path / "examples" / "assets" / "warehouse.py")
    baton("deploy", flow)
    assert baton.run(flow)["state"] == "succeeded"
    shown = baton.json("assets", "show", "warehouse.revenue")
    assert shown["producers"] == [{"flow": "warehouse", "task": "warehouse.revenue"}]
    assert shown["last_materialization"]["metadata"] == {"customers": 5, "total": 515.0}
    assert [(c["name"], c["last"]["passed"]) for c in shown["checks"]] == [
        ("no_negative_revenue", True),
        ("five_customers", True),
    ]
    assert shown["freshness"]["state"] == "fresh"
    again = baton.json("materialize", flow, "warehouse.revenue")
    assert {t["key"]: t["attempts"] for t in again["tasks"]} == {
        "raw.orders": 0,  # reused from the last run
        "warehouse.revenue": 1,
    }
    assert len(baton.json("assets", "history", "warehouse.revenue")) == 2


def test_the_partitions_example_backfills_days(baton, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "partitions", tmp_path / "examples" / "partitions")
    flow = "examples/partitions/sales.py"
    baton("deploy", flow)
    run = baton.run(flow, "--partition", "2024-03-01")
    assert (run["state"], run["partition"]) == ("succeeded", "2024-03-01")
    assert run["data_interval_start"] == "2024-02-29T23:00:00.000000Z"  # Paris midnight
    filled = baton.json(
        "backfill",
        "daily_sales",
        "--partitions",
        "2024-03-01..2024-03-03",
        "--path",
        "examples/partitions",
    )
    assert [(i["partition"], i["state"]) for i in filled] == [
        (f"2024-03-0{d}", "succeeded") for d in (1, 2, 3)
    ]
    shown = baton.json(
        "assets", "show", "sales.daily_total", "--partitions", "--status", "materialized"
    )
    assert [i["key"] for i in shown["items"]] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    history = baton.json("assets", "history", "sales.daily_total", "--limit", "1")
    assert history[0]["metadata"]["from"] == "2024-03-02T23:00:00.000000Z"
