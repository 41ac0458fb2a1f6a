"""`baton run FILE --partition KEY`: what every kind of task sees of its run's partition
(`$BATON_PARTITION`, `{{ partition }}`, a `partition` or `context` parameter), dynamic keys
a task adds, and a user's mistakes answered with exit 2 and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

DAILY = """
name: sales
partitions: {type: daily, start: 2024-01-01, timezone: Europe/Paris}
tasks:
  - key: load
    type: shell
    command: 'echo "$BATON_PARTITION $BATON_DATA_INTERVAL_START {{ partition }}" > load.out'
    outputs: [wh.sales]
"""

REGIONS = """
from baton import flow, task
from baton import dynamic, static

@task
def load(partition, context, data_interval_start):
    found = context.add_partitions("customers", [partition + "-acme", partition + "-zeta"])
    return {"partition": partition, "seen": context.partition, "start": data_interval_start,
            "added": found}

@flow(partitions=static(["eu", "us"]))
def regions():
    load()

@task
def bill(partition):
    return "billed " + partition

@flow(partitions=dynamic("customers"))
def customers():
    bill()
"""


def test_a_shell_task_sees_its_partition_and_data_interval(baton, write, workdir: Path):
    path = write("sales.yaml", DAILY)
    run = baton.run(path, "--partition", "2024-01-31")
    assert run["partition"] == "2024-01-31"
    assert run["data_interval_start"] == "2024-01-30T23:00:00.000000Z"  # Paris midnight
    assert run["data_interval_end"] == "2024-01-31T23:00:00.000000Z"
    out = (workdir / "load.out").read_text().split()
    assert out == ["2024-01-31", "2024-01-30T23:00:00.000000Z", "2024-01-31"]
    history = baton.json("assets", "history", "wh.sales")
    assert [m["partition"] for m in history] == ["2024-01-31"]
    baton("deploy", path)  # the asset's partitions are those of the deployed flow writing it
    parts = baton.json("assets", "show", "wh.sales", "--partitions", "--status", "materialized")
    assert parts["flow"] == "sales"
    assert [(i["key"], i["run_id"]) for i in parts["items"]] == [("2024-01-31", run["id"])]
    assert parts["counts"]["materialized"] == 1
    table = baton("assets", "show", "wh.sales", "--partitions").stdout
    assert "asset wh.sales (flow sales):" in table
    assert "2024-01-31  materialized" in table
    shown = baton("runs", "show", run["id"]).stdout
    assert f"run {run['id']} of sales, partition 2024-01-31: succeeded" in shown
    listed = baton("runs", "list").stdout.splitlines()
    assert "partition" in listed[1]
    assert "2024-01-31" in listed[2]


def test_a_python_task_gets_partition_and_context_and_adds_dynamic_keys(baton, write):
    path = write("regions.py", REGIONS)
    run = baton.run(path, "--flow", "regions", "--partition", "eu")
    result = baton.json("runs", "show", run["id"])
    assert result["partition"] == "eu"
    proc = baton("run", "regions.py", "--flow", "customers", "--partition", "eu-acme")
    assert "partition eu-acme: succeeded" in proc.stdout
    # The keys the first task added exist; another is refused, naming the command to add it.
    refused = baton("run", path, "--flow", "customers", "--partition", "us-acme", check=2)
    assert "'us-acme' is not a key of the dynamic partitions 'customers'" in refused.stderr
    assert "baton partitions add customers us-acme" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_mistakes_exit_2_naming_the_key_and_leave_no_run(baton, write):
    path = write("sales.yaml", DAILY)
    cases = {
        "2024-13-01": "'2024-13-01' is not a daily partition key (YYYY-MM-DD)",
        "2099-01-01": "partition '2099-01-01' does not exist yet",
        "../etc": "is not a daily partition key",
    }
    for key, says in cases.items():
        proc = baton("run", path, "--partition", key, check=2)
        assert says in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    regions = write("regions.py", REGIONS)
    proc = baton("run", regions, "--flow", "regions", check=2)
    assert "flow 'regions' has static partitions (eu, us): give the key" in proc.stderr
    plain = write("plain.yaml", "name: plain\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    proc = baton("run", plain, "--partition", "eu", check=2)
    assert "flow 'plain' has no partitions" in proc.stderr
    assert baton.json("runs", "list") == []


FLAKY_DAY = """
name: days
partitions: {type: daily, start: 2024-01-01}
tasks:
  - key: load
    type: shell
    command: 'echo $BATON_PARTITION >> ran.txt; test ! -e "fail-$BATON_PARTITION"'
"""


def test_backfill_runs_each_key_then_only_the_missing_or_failed_ones(baton, write, workdir):
    baton("deploy", write("days.yaml", FLAKY_DAY))
    (workdir / "fail-2024-01-02").touch()
    first = baton("backfill", "days", "--partitions", "2024-01-01..2024-01-03", "--json", check=1)
    done = {i["partition"]: i["state"] for i in json.loads(first.stdout)}
    assert done == {"2024-01-01": "succeeded", "2024-01-02": "failed", "2024-01-03": "succeeded"}
    # --missing: the failed day is not missing, so only the day never run goes.
    missing = baton.json("backfill", "days", "--partitions", "2024-01-01..2024-01-04", "--missing")
    assert [(i["partition"], i["state"]) for i in missing] == [("2024-01-04", "succeeded")]
    (workdir / "fail-2024-01-02").unlink()
    failed = baton.json("backfill", "days", "--failed")
    assert [(i["partition"], i["state"]) for i in failed] == [("2024-01-02", "succeeded")]
    ran = (workdir / "ran.txt").read_text().split()
    assert sorted(ran) == ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04"]
    shown = baton.json("partitions", "show", "days", "--status", "failed")
    assert shown["items"] == []
    for args, says in [
        (["--partitions", "2024-01-03..2024-01-01"], "runs backwards"),
        (["--partitions", "x", "--start", "2024-01-01"], "give either --partitions"),
        ([], "give --start and --end"),
        (["--failed"], "flow 'days' has no failed partition"),
    ]:
        proc = baton("backfill", "days", *args, check=2)
        assert says in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_refused_partition_writes_nothing_and_a_server_password_is_masked(baton, write):
    path = write("regions.py", REGIONS)
    baton("run", path, "--flow", "regions", "--partition", "mars", check=2)
    assert baton.json("flows", "list") == []  # not even the flow's version
    proc = baton(
        "partitions", "show", "regions", "--server", "http://ann:s3cr3t@127.0.0.1:1", check=1
    )
    assert "http://ann:***@127.0.0.1:1" in proc.stderr
    assert "s3cr3t" not in proc.stderr
