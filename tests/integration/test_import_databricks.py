"""`baton import databricks`: realistic jobs imported, then run for real with `baton run`
(python entry points, SQL on SQLite through the warehouse's conn, a notebook on a real
kernel, PySpark on local[2], a child flow), and bad input refused with exit 2 and no file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

FIXTURES = Path(__file__).parents[1] / "fixtures" / "databricks"
WAREHOUSE = "BATON_CONN_WAREHOUSE_5B9A0C2D"
SPARK_TIMEOUT = 120  # a JVM starting on a machine busy with other tests


@pytest.fixture
def jobs(workdir: Path, baton: Any) -> Path:
    for f in FIXTURES.iterdir():
        shutil.copy(f, workdir / f.name)
    baton.env[WAREHOUSE] = f"sqlite:///{workdir / 'warehouse.db'}"
    return workdir


def states_of(run: dict[str, Any]) -> dict[str, str]:
    """Each task run's state, by key (`key[i]` for a mapped one)."""
    return {
        t["key"] if t["map_index"] is None else f"{t['key']}[{t['map_index']}]": t["state"]
        for t in run["tasks"]
    }


def rows(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workdir / "warehouse.db") as conn:
        return conn.execute(sql).fetchall()


def test_a_jobs_get_response_runs_both_branches_and_passes_task_values(baton, jobs):
    imported = baton("import", "databricks", "nightly_get.json", "-o", "nightly.yaml")
    assert "warning: not carried over: job_clusters" in imported.stderr
    flow = yaml.safe_load((jobs / "nightly.yaml").read_text())
    assert flow["schedule"] == {"cron": "30 6 * * MON-FRI", "timezone": "Europe/Paris"}
    assert "1 flows deployed" in baton("deploy", "nightly.yaml").stdout

    # 42 orders > threshold 10: the condition follows `true`, the notebook side is skipped.
    baton.env["ORDERS_ROWS"] = "42"
    run = baton.run("nightly.yaml")
    assert run["state"] == "succeeded"
    assert states_of(run) == {
        "count_orders": "succeeded",
        "is_big": "succeeded",
        "load_full": "succeeded",
        "load_sample": "skipped",
        "per_region.inputs": "succeeded",
        "per_region[0]": "succeeded",
        "per_region[1]": "succeeded",
        "per_region[2]": "succeeded",
        "summary": "succeeded",
    }
    # The count's task value reached the SQL task as a bind parameter.
    assert rows(jobs, "select kind, rows from loaded") == [("full", 42)]
    assert sorted(rows(jobs, "select region from regions")) == [("apac",), ("eu",), ("us",)]

    # Over a threshold of 100 it follows `false`: the notebook runs on a real kernel with the
    # count's value, and the NONE_FAILED fan-out still runs with a skipped upstream.
    run = baton.run("nightly.yaml", "-p", "threshold=100", "-p", 'regions=["eu"]', timeout=90)
    states = states_of(run)
    assert run["state"] == "succeeded"
    assert (states["load_full"], states["load_sample"]) == ("skipped", "succeeded")
    assert states["per_region[0]"] == "succeeded" and "per_region[1]" not in states
    assert rows(jobs, "select kind, rows from loaded order by kind") == [
        ("full", 42),
        ("sample", 42),
    ]


def test_a_jobs_create_payload_runs_pyspark_then_a_child_flow(baton, jobs):
    baton("import", "databricks", "child.json", "-o", "job_7.yaml")
    baton("import", "databricks", "spark_create.json", "-o", "orders.yaml")
    flow = yaml.safe_load((jobs / "orders.yaml").read_text())
    assert flow["triggers"] == [{"file": "incoming/*"}]
    assert flow["tasks"][0]["master"] == "local[2]"
    assert "1 flows deployed" in baton("deploy", "orders.yaml").stdout
    run = baton.run("orders.yaml", timeout=SPARK_TIMEOUT)
    assert run["state"] == "succeeded", run
    assert states_of(run) == {
        "sum_squares": "succeeded",
        "check": "succeeded",
        "publish": "succeeded",
        "rebuild": "skipped",  # the condition's false side
        "on_error": "skipped",  # AT_LEAST_ONE_FAILED: nothing failed
    }
    # 1 + 4 + 9 + 16, from Spark's result file, through the condition, into the child run.
    assert rows(jobs, "select total from published") == [(30,)]


def test_a_bundle_job_runs(baton, jobs):
    refused = baton("import", "databricks", "bundle.yml", check=2)
    assert "defines several jobs (orders_daily, publish): pick one with --job" in refused.stderr
    baton("import", "databricks", "bundle.yml", "--job", "orders_daily", "-o", "daily.yaml")
    flow = yaml.safe_load((jobs / "daily.yaml").read_text())
    assert flow["triggers"] == [{"assets": ["main.sales.orders", "main.sales.customers"]}]
    assert flow["notifications"][0]["webhook"] == "${secret:DATABRICKS_DESTINATION_SLACK_DATA_TEAM}"
    run = baton.run("daily.yaml")
    assert states_of(run) == {
        "check_region": "succeeded",
        "eu_load": "succeeded",
        "other_load": "skipped",  # dbt is not even installed: the branch never reaches it
        "cleanup": "succeeded",  # AT_LEAST_ONE_SUCCESS
        "on_failure": "skipped",  # ALL_FAILED
    }
    assert rows(jobs, "select region from regions") == [("eu",)]
    assert rows(jobs, "select at from cleaned") == [("done",)]
    # Its triggers and notifications are valid where they are checked: at deploy time.
    assert "1 flows deployed" in baton("deploy", "daily.yaml").stdout


def test_stdout_by_default_and_strict_names_every_field(baton, jobs):
    printed = baton("import", "databricks", "child.json")
    assert yaml.safe_load(printed.stdout)["name"] == "publish"
    strict = baton("import", "databricks", "nightly_get.json", "--strict", "-o", "n.yaml", check=2)
    assert "2 field(s) cannot be imported (--strict)" in strict.stderr
    assert "tasks[count_orders].job_cluster_key" in strict.stderr
    assert "job_clusters" in strict.stderr
    assert "Traceback" not in strict.stderr
    assert not (jobs / "n.yaml").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"name": "j", "tasks": [', "invalid JSON"),
        ('{"name": "j", "tasks": "all of them"}', "tasks must be a list"),
        ('{"name": "j", "tasks": [{"task_key": "t", "teleport_task": {}}]}', "teleport_task"),
        (
            '{"name": "j", "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "n"},'
            ' "depends_on": [{"task_key": "a"}]}]}',
            "cycle: a -> a",
        ),
        (
            '{"name": "j", "tasks": [{"task_key": "c", "condition_task":'
            ' {"op": "LIKE", "left": "1", "right": "2"}}]}',
            "invalid fields for a condition task: 'op'",
        ),
        (
            '{"name": "j", "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "n"}},'
            ' {"task_key": "a", "notebook_task": {"notebook_path": "m"}}]}',
            "tasks[1].task_key 'a' is used by two tasks",
        ),
        (
            '{"name": "j", "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "n"},'
            ' "depends_on": [{"task_key": "extract"}]}]}',
            "tasks[a].depends_on names 'extract', which is no task of the job",
        ),
        ("resources:\n  jobs: {j: [\n", "job.json: invalid JSON"),
        ("\xff\xfe not text", "is not UTF-8"),
    ],
)
def test_bad_input_is_exit_2_with_the_thing_named_and_no_file(baton, workdir, content, message):
    (workdir / "flow.yaml").write_text("kept: true\n")
    (workdir / "job.json").write_bytes(content.encode("latin-1"))
    proc = baton("import", "databricks", "job.json", "-o", "flow.yaml", check=2)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (workdir / "flow.yaml").read_text() == "kept: true\n"  # not overwritten, not cut
    assert not [p for p in workdir.iterdir() if p.name.endswith(".tmp")]


def test_a_huge_file_is_refused_before_it_is_read(baton, workdir):
    with open(workdir / "huge.json", "wb") as f:
        f.truncate(11 * 1024 * 1024)
    proc = baton("import", "databricks", "huge.json", check=2)
    assert "huge.json is 11 MB; a job definition is at most 10 MB" in proc.stderr
    missing = baton("import", "databricks", "nowhere.json", check=2)
    assert "cannot read nowhere.json" in missing.stderr
