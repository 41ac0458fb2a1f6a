"""Materializations recorded by real `baton run`s: what tasks report of the assets they
write through $BATON_ASSETS_FILE or `baton.record_asset`, in a thread or a child process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baton.store.records import MaterializationRow
from baton.store.store import Store

SECRET = "pw-5e4d3c2b1a"

LIB = """
import baton

def thread_task(n: int = 3) -> int:
    baton.record_asset("w.thread", metadata={"rows": n}, data_version="t1")
    return n

def process_task() -> None:
    baton.record_asset("w.process", metadata={"rows": 7})
    baton.record_asset("w.process", metadata={"path": "/data/p"}, data_version="p1")

def stray() -> None:
    baton.record_asset("w.elsewhere", metadata={"rows": 1})
"""


def history(workdir: Path, asset: str) -> list[MaterializationRow]:
    s = Store(f"sqlite:///{workdir / '.baton' / 'baton.db'}")
    try:
        return s.read().materializations(asset)
    finally:
        s.close()


def meta(row: MaterializationRow) -> Any:
    return json.loads(row.metadata) if row.metadata else None


def test_shell_and_python_tasks_report_metadata(baton, write, h, workdir: Path) -> None:
    write("lib.py", LIB)
    write(
        "flow.yaml",
        """
        name: assets_flow
        tasks:
          - key: sh
            type: shell
            outputs: [w.shell, w.silent]
            command: >-
              echo '{"asset": "w.shell", "metadata": {"rows": 42, "ok": true}}'
              >> "$BATON_ASSETS_FILE"
          - {key: th, type: python, function: "lib:thread_task", outputs: [w.thread]}
          - key: pr
            type: python
            function: "lib:process_task"
            isolation: process
            outputs: [w.process]
        """,
    )
    run = baton.run("flow.yaml")
    assert run["state"] == "succeeded", run
    (shell,) = history(workdir, "w.shell")
    assert (shell.run_id, shell.task_key, shell.attempt, shell.source) == (
        run["id"],
        "sh",
        1,
        "task",
    )
    assert meta(shell) == {"rows": 42, "ok": True}
    (silent,) = history(workdir, "w.silent")  # declared, nothing said of it
    assert meta(silent) is None
    (thread,) = history(workdir, "w.thread")
    assert (meta(thread), thread.data_version) == ({"rows": 3}, "t1")
    (process,) = history(workdir, "w.process")
    assert (meta(process), process.data_version) == ({"rows": 7, "path": "/data/p"}, "p1")
    assert not list((workdir / ".baton").rglob("*.assets.jsonl"))  # read and removed


def test_an_undeclared_reported_asset_fails_the_attempt(baton, write, workdir: Path) -> None:
    write("lib.py", LIB)
    write(
        "flow.yaml",
        """
        name: stray_flow
        tasks:
          - {key: th, type: python, function: "lib:stray", outputs: [w.mine]}
          - {key: pr, type: python, function: "lib:stray", isolation: process}
          - key: bad
            type: shell
            outputs: [w.mine]
            command: echo 'not json' >> "$BATON_ASSETS_FILE"
        """,
    )
    run = baton.run("flow.yaml", check=1)
    tasks = {t["key"]: t for t in run["tasks"]}
    for key in ("th", "pr"):
        assert tasks[key]["state"] == "failed"
        assert "reported asset 'w.elsewhere', which it does not declare" in tasks[key]["error"]
    assert "(outputs: w.mine)" in tasks["th"]["error"]
    assert "(outputs: none)" in tasks["pr"]["error"]
    assert tasks["bad"]["state"] == "failed"
    assert "$BATON_ASSETS_FILE line 1 ('not json'): not JSON" in tasks["bad"]["error"]
    assert history(workdir, "w.mine") == []
    assert history(workdir, "w.elsewhere") == []


def test_secret_values_in_metadata_are_masked(baton, write, workdir: Path) -> None:
    baton.env["BATON_SECRET_DB_PASSWORD"] = SECRET
    write(
        "flow.yaml",
        """
        name: masked_flow
        tasks:
          - key: sh
            type: shell
            outputs: [w.masked]
            command: >-
              echo '{"asset": "w.masked", "metadata": {"url": "pg://u:${secret:DB_PASSWORD}@h"}}'
              >> "$BATON_ASSETS_FILE"
        """,
    )
    run = baton.run("flow.yaml")
    assert run["state"] == "succeeded", run
    (row,) = history(workdir, "w.masked")
    assert meta(row) == {"url": "pg://u:***@h"}
    assert SECRET not in (workdir / ".baton" / "baton.db").read_bytes().decode("latin-1")


def test_an_external_asset_declared_in_one_flow_lets_anothers_trigger_deploy(baton, write) -> None:
    write(
        "consumer.yaml",
        """
        name: consumer
        triggers: [{asset: raw.events}]
        tasks: [{key: a, type: shell, command: "true"}]
        """,
    )
    err = baton("deploy", "consumer.yaml", check=2).stderr
    assert "trigger 1 waits for asset 'raw.events'" in err
    write(
        "vendor.yaml",
        """
        name: vendor
        assets: [{name: raw.events, description: Written by the vendor's export.}]
        tasks: [{key: a, type: shell, command: "true"}]
        """,
    )
    baton("deploy", "vendor.yaml")
    baton("deploy", "consumer.yaml")
    assert {f["name"] for f in baton.json("flows", "list")} == {"consumer", "vendor"}
