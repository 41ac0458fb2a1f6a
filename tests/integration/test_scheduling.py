"""Scheduling through the real `baton` command: backfill, flows list/pause/unpause, the
standalone scheduler, and clear exit-2 errors for bad schedules and triggers (SQLite)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

DAILY = """
name: daily
schedule: {cron: "0 6 * * *", timezone: America/New_York}
params: {region: eu}
tasks:
  - key: stamp
    type: shell
    command: >-
      test "$(cat broken 2>/dev/null)" != "{{ ds }}" &&
      echo "{{ ds }} {{ logical_date }} {{ data_interval_end }} $BATON_DATA_INTERVAL_START
      {{ params.region }}" >> stamps.txt
"""

PYTHON = """
from baton import flow, task

@task
def stamp(logical_date=None, data_interval_start=None, data_interval_end=None, trigger=None):
    with open("py.txt", "a") as f:
        f.write(f"{logical_date} {data_interval_start} {data_interval_end} {trigger}\\n")

@flow(schedule="@daily")
def py_daily():
    stamp()
"""


def test_backfill_runs_each_logical_date_and_skips_successes(baton, write, workdir: Path):
    write("daily.yaml", DAILY)
    baton("deploy", ".")
    (workdir / "broken").write_text("2024-03-11")  # the run of this date fails
    proc = baton(
        "backfill",
        "daily",
        "--start",
        "2024-03-09",
        "--end",
        "2024-03-11",
        "--max-parallel",
        "2",
        "--json",
        check=1,
    )
    first = json.loads(proc.stdout)
    # New York springs forward on 2024-03-10: 06:00 is 11:00Z before, 10:00Z after.
    assert [(r["logical_date"], r["state"]) for r in first] == [
        ("2024-03-09T11:00:00.000000Z", "succeeded"),
        ("2024-03-10T10:00:00.000000Z", "succeeded"),
        ("2024-03-11T10:00:00.000000Z", "failed"),
    ]
    assert sorted((workdir / "stamps.txt").read_text().splitlines()) == [
        "2024-03-09 2024-03-09T11:00:00.000000Z 2024-03-10T10:00:00.000000Z"
        " 2024-03-09T11:00:00.000000Z eu",
        "2024-03-10 2024-03-10T10:00:00.000000Z 2024-03-11T10:00:00.000000Z"
        " 2024-03-10T10:00:00.000000Z eu",
    ]

    (workdir / "broken").unlink()
    again = baton.json("backfill", "daily", "--start", "2024-03-09", "--end", "2024-03-11")
    assert [r["skipped"] for r in again] == ["succeeded before", "succeeded before", None]
    assert again[2]["state"] == "succeeded"
    assert again[2]["parent_run_id"] == first[2]["run_id"]  # linked to the failed one

    rerun = baton.json(
        "backfill", "daily", "--start", "2024-03-10", "--end", "2024-03-10", "--rerun"
    )
    assert [(r["state"], r["parent_run_id"]) for r in rerun] == [("succeeded", first[1]["run_id"])]
    runs = baton.json("runs", "list", "--flow", "daily")
    assert {r["trigger"] for r in runs} == {"backfill"} and len(runs) == 5
    shown = baton.json("runs", "show", rerun[0]["run_id"])
    assert shown["logical_date"] == "2024-03-10T10:00:00.000000Z"
    assert shown["data_interval_end"] == "2024-03-11T10:00:00.000000Z"
    assert shown["params"] == {"region": "eu"}


def test_a_python_task_gets_the_runs_dates_by_parameter_name(baton, write, workdir: Path):
    write("py_daily.py", PYTHON)
    baton("deploy", ".")
    out = baton("backfill", "py_daily", "--start", "2024-01-01", "--end", "2024-01-01")
    assert "2024-01-01 00:00:00  succeeded" in out.stdout
    assert (workdir / "py.txt").read_text() == (
        "2024-01-01T00:00:00.000000Z 2024-01-01T00:00:00.000000Z 2024-01-02T00:00:00.000000Z None\n"
    )


def test_flows_list_pause_and_unpause(baton, write):
    write("daily.yaml", DAILY)
    write("other.yaml", "name: adhoc\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    baton("deploy", "daily.yaml")
    baton("run", "other.yaml")  # run, not deployed: listed, never scheduled
    flows = {f["name"]: f for f in baton.json("flows", "list")}
    assert flows["daily"]["schedule"] == {"cron": "0 6 * * *", "timezone": "America/New_York"}
    assert flows["daily"]["next_run_at"].endswith(":00:00.000000Z")
    assert (flows["daily"]["paused"], flows["daily"]["last_run"]) == (False, None)
    assert (flows["adhoc"]["deployed"], flows["adhoc"]["next_run_at"]) == (False, None)
    assert flows["adhoc"]["last_run"]["state"] == "succeeded"

    assert baton("flows", "pause", "daily").stdout == "flow daily paused\n"
    daily = baton.json("flows", "list")[1]
    assert (daily["paused"], daily["next_run_at"]) == (True, None)
    table = baton("flows", "list").stdout
    assert "daily  paused" in table and "0 6 * * * (timezone America/New_York)" in table
    baton("flows", "unpause", "daily")
    assert baton.json("flows", "list")[1]["paused"] is False

    err = baton("flows", "pause", "nope", check=2).stderr
    assert err == "error: no flow 'nope'; `baton flows list` shows the flows\n"


@pytest.mark.parametrize("command", ["server", "scheduler"])
def test_the_server_and_the_standalone_scheduler_create_runs_and_stop_on_sigterm(
    baton, write, h, command: str
):
    write(
        "tick.yaml",
        "name: tick\nschedule: every 1s\ntasks: [{key: a, type: shell, command: 'true'}]\n",
    )
    baton("deploy", ".")
    scheduler = baton.start(command)
    h.wait_until(
        lambda: len(baton.json("runs", "list", "--flow", "tick")) >= 2,
        what="the scheduler to create two runs",
    )
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(timeout=10) == 0
    err = scheduler.stderr.read()  # type: ignore[union-attr]
    assert "flow tick: run " in err and "(schedule)" in err
    assert "Traceback" not in err
    runs = baton.json("runs", "list", "--flow", "tick")
    assert {r["trigger"] for r in runs} == {"schedule"}


def test_bad_schedules_and_triggers_are_exit_2_with_the_file_and_line(baton, write):
    write(
        "cron.yaml", "name: c\nschedule: '61 * * * *'\ntasks: [{key: a, type: shell, command: x}]\n"
    )
    err = baton("deploy", "cron.yaml", check=2).stderr
    assert (
        err.startswith("error: ")
        and "cron.yaml:2, flow 'c': bad cron expression '61 * * * *'" in err
    )
    write(
        "tz.yaml",
        "name: z\nschedule: {cron: '@daily', timezone: Europe/Pariss}\n"
        "tasks: [{key: a, type: shell, command: x}]\n",
    )
    err = baton("deploy", "tz.yaml", check=2).stderr
    assert "tz.yaml:2, flow 'z': unknown time zone 'Europe/Pariss'" in err
    write(
        "up.yaml",
        "name: up\ntriggers: [{flow: ghost}]\ntasks: [{key: a, type: shell, command: x}]\n",
    )
    err = baton("deploy", "up.yaml", check=2).stderr
    assert "flow 'up': trigger 1 waits for flow 'ghost', which is not deployed" in err
    write(
        "as.yaml",
        "name: as\ntriggers: [{asset: nowhere}]\ntasks: [{key: a, type: shell, command: x}]\n",
    )
    err = baton("deploy", "as.yaml", check=2).stderr
    assert "trigger 1 waits for asset 'nowhere', which no deployed task declares" in err
    write(
        "req.yaml",
        "name: req\nschedule: '@daily'\nparams: {region: {type: string, required: true}}\n"
        "tasks: [{key: a, type: shell, command: x}]\n",
    )
    err = baton("deploy", "req.yaml", check=2).stderr
    assert "flow 'req': param 'region' has no default, but the flow's schedule" in err
    assert "Traceback" not in err
    assert baton.json("flows", "list") == []  # nothing was deployed


def test_bad_backfills_are_exit_2(baton, write):
    write("daily.yaml", DAILY)
    write("plain.yaml", "name: plain\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    baton("run", "daily.yaml", check=None)
    cases = {
        (
            "daily",
            "2024-01-01",
            "2024-01-02",
        ): "flow 'daily' is not deployed: `baton deploy` it first",
    }
    for (flow, start, end), message in cases.items():
        assert baton("backfill", flow, "--start", start, "--end", end, check=2).stderr == (
            f"error: {message}\n"
        )
    baton("deploy", ".")
    cases = {
        (
            "ghost",
            "2024-01-01",
            "2024-01-02",
        ): "no flow 'ghost'; `baton flows list` shows the flows",
        ("plain", "2024-01-01", "2024-01-02"): (
            "flow 'plain' has no schedule, so it has no logical dates to backfill"
        ),
        ("daily", "2024-01-32", "2024-02-02"): (
            "--start '2024-01-32': expected a date or datetime in ISO 8601, e.g. 2024-01-31 or"
            " 2024-01-31T06:00"
        ),
        ("daily", "2024-02-02", "2024-01-01"): "--end 2024-01-01 is before --start 2024-02-02",
        ("daily", "2999-01-01", "2999-01-02"): (
            "flow 'daily' has no complete interval with a logical date from 2999-01-01 to"
            ' 2999-01-02 (its schedule: {"cron": "0 6 * * *", "timezone": "America/New_York"})'
        ),
    }
    for (flow, start, end), message in cases.items():
        assert baton("backfill", flow, "--start", start, "--end", end, check=2).stderr == (
            f"error: {message}\n"
        )
    assert (
        "--max-parallel: expected a number >= 1, got 0"
        in baton(
            "backfill",
            "daily",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-01",
            "--max-parallel",
            "0",
            check=2,
        ).stderr
    )


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scheduling"


def test_the_scheduling_example(baton, workdir: Path, h):
    for f in EXAMPLE.iterdir():
        if f.suffix in (".py", ".yaml"):
            (workdir / f.name).write_text(f.read_text())
    deployed = baton.json("deploy", ".")
    assert {d["flow"] for d in deployed} == {"daily_sales", "sales_report"}
    days = baton.json("backfill", "daily_sales", "--start", "2024-03-30", "--end", "2024-03-31")
    assert [d["state"] for d in days] == ["succeeded", "succeeded"]
    # 02:00 does not exist in Paris on 2024-03-31 (clocks jump to 03:00): that day starts at
    # 01:00Z, as 02:00 on the old offset, and 02:00 CEST the next day is 00:00Z: 23 hours.
    assert (workdir / "out" / "sales-2024-03-31.csv").read_text().splitlines()[1] == (
        "2024-03-31,2024-03-31T01:00:00.000000Z,2024-04-01T00:00:00.000000Z"
    )
    scheduler, worker = baton.start("scheduler"), baton.start("worker")
    reports = h.wait_until(
        lambda: (
            len(h.lines(workdir / "out" / "reports.txt")) == 2
            and h.lines(workdir / "out" / "reports.txt")
        ),
        timeout=20,
        what="each asset update to trigger sales_report",
    )
    assert sorted(reports) == sorted(f"warehouse.daily_sales from run {d['run_id']}" for d in days)
    for p in (scheduler, worker):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0


def test_ctrl_c_stops_a_backfill_and_cancels_its_active_run(baton, write, h):
    write(
        "stuck.yaml",
        "name: stuck\nschedule: '@daily'\n"
        "tasks: [{key: wait, type: shell, command: 'while [ ! -f go ]; do sleep 0.05; done'}]\n",
    )
    baton("deploy", ".")
    proc = baton.start("backfill", "stuck", "--start", "2024-01-01", "--end", "2024-01-03")
    h.wait_until(
        lambda: [r["state"] for r in baton.json("runs", "list")] == ["running"],
        what="the first run to start",
    )
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "2024-01-02 00:00:00" in out and "not created: the backfill was stopped" in out
    assert [r["state"] for r in baton.json("runs", "list")] == ["cancelled"]


def test_flows_list_shows_and_filters_tags_and_owner(baton, write):
    write(
        "ledger.yaml",
        "name: ledger\ntags: [finance, daily]\nowner: data-team@example.com\n"
        "tasks: [{key: a, type: shell, command: 'true'}]\n",
    )
    write("plain.yaml", "name: plain\ntasks: [{key: a, type: shell, command: 'true'}]\n")
    baton("deploy", ".")
    flows = {f["name"]: f for f in baton.json("flows", "list")}
    assert (flows["ledger"]["tags"], flows["ledger"]["owner"]) == (
        ["finance", "daily"],
        "data-team@example.com",
    )
    assert (flows["plain"]["tags"], flows["plain"]["owner"]) == ([], None)
    table = baton("flows", "list").stdout
    assert "finance, daily" in table and "data-team@example.com" in table
    assert [f["name"] for f in baton.json("flows", "list", "--tag", "finance")] == ["ledger"]
    both = baton.json("flows", "list", "--tag", "finance", "--tag", "weekly")
    assert both == []
    assert baton.json("flows", "list", "--owner", "nobody") == []

    write("bad.yaml", "name: bad\ntags: [ok, 'no spaces']\ntasks: []\n")
    err = baton("deploy", "bad.yaml", check=2).stderr
    assert "bad.yaml:2, flow 'bad': 'tags' entry 'no spaces' is not a tag" in err
    assert "Traceback" not in err
