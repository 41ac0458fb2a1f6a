"""Recording check results in the transaction that ends their attempt (`engine.assets`),
and the on-demand run of an asset's checks (`execution.checks.check_on_demand`), against a
real SQLite store: a blocking failure records no materialization and stops downstream, a
warn failure is recorded and notified, each failure queues `check_failed` notifications."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from baton.engine import assets as engine_assets
from baton.engine.planner import CheckRun
from baton.engine.service import Engine
from baton.errors import InputError, NotFoundError
from baton.execution import checks
from baton.execution.secrets import Secrets
from baton.model.assets import AssetSpec, CheckSpec
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.states import AttemptState, ErrorKind, TaskState
from baton.store.assets import CheckRecord
from baton.store.store import Row, Store
from engine_kit import Clock, outcome_of

HOOK = {"on": ["check_failed"], "webhook": "http://127.0.0.1:9/hook"}
FLOW_HOOK = {"on": ["check_failed"], "webhook": "http://127.0.0.1:9/flow"}


def flow(**asset: Any) -> FlowSpec:
    checks_ = (
        CheckSpec(name="no_nulls", python="m:no_nulls"),
        CheckSpec(name="enough", python="m:enough", severity="warn"),
    )
    return FlowSpec(
        name="f",
        tasks=(
            TaskSpec(key="load", type="shell", config={"command": "true"}, outputs=("w.a",)),
            TaskSpec(key="report", type="shell", config={"command": "true"}, depends_on=("load",)),
        ),
        assets=(AssetSpec(name="w.a", checks=checks_, notifications=(HOOK,), **asset),),
        notifications=(FLOW_HOOK,),
    )


def ran(name: str, passed: bool, severity: str = "error", **fields: Any) -> CheckRun:
    return CheckRun("w.a", name, severity, passed, 1001.0, 0.25, **fields)


def asset_notifications(store: Store) -> list[Row]:
    return store.read()._all("SELECT * FROM notifications WHERE asset IS NOT NULL ORDER BY id")


def end_load(engine: Engine, clock: Clock, state: AttemptState, **fields: Any) -> str:
    version = engine.register(flow())
    run_id = engine.create_run(version, {})
    (c,) = engine.claim(worker_id="w", queues=("default",), limit=10, lease=30)
    clock.now = 1002.0
    engine.complete([outcome_of(c, state, at=1002.0, **fields)])
    return run_id


def test_a_blocking_failure_fails_the_task_records_no_materialization_and_notifies(
    engine: Engine, store: Store, clock: Clock
) -> None:
    results = (
        ran("no_nulls", False, failing_rows=({"id": 1},), metadata={"more_failing_rows": True}),
        ran("enough", True, "warn"),
    )
    run_id = end_load(
        engine,
        clock,
        AttemptState.FAILED,
        error="asset 'w.a' failed check 'no_nulls'",
        error_kind=ErrorKind.CHECK,
        retryable=False,
        checks=results,
    )
    load, report = sorted(store.read().task_runs(run_id), key=lambda r: r.task_key)
    assert (load.state, load.error_kind) == (TaskState.FAILED, "check")
    assert (report.state, report.error_kind) == (TaskState.UPSTREAM_FAILED, "upstream")
    assert store.read().run(run_id).state == "failed"
    assert store.read().materializations("w.a") == []
    enough, no_nulls = store.read().check_results("w.a")
    assert (no_nulls.check_name, no_nulls.passed, no_nulls.severity) == ("no_nulls", 0, "error")
    assert (no_nulls.run_id, no_nulls.task_key, no_nulls.task_run_id, no_nulls.attempt) == (
        run_id,
        "load",
        load.id,
        1,
    )
    assert no_nulls.materialization_id is None and no_nulls.duration == 0.25
    assert json.loads(no_nulls.failing_rows or "") == [{"id": 1}]
    assert (enough.passed, enough.materialization_id) == (1, None)
    rows = asset_notifications(store)
    # The asset's own entry and the flow's, once each; the flow was never deployed.
    assert sorted(json.loads(r["channel"])["webhook"] for r in rows) == [
        "http://127.0.0.1:9/flow",
        "http://127.0.0.1:9/hook",
    ]
    assert {r["event"] for r in rows} == {"check_failed"} and rows[0]["run_id"] == run_id
    assert json.loads(rows[0]["payload"]) == {
        "event": "check_failed",
        "asset": "w.a",
        "run_id": run_id,
        "flow": "f",
        "task": "load",
        "check": "no_nulls",
        "severity": "error",
        "error": None,
        "metadata": {"more_failing_rows": True},
        "failing_rows": 1,
        "at": "1970-01-01T00:16:41.000000Z",
    }


def test_a_warn_failure_keeps_the_success_and_names_the_materialization(
    engine: Engine, store: Store, clock: Clock
) -> None:
    results = (ran("no_nulls", True), ran("enough", False, "warn", error="ValueError: few"))
    run_id = end_load(engine, clock, AttemptState.SUCCEEDED, checks=results)
    assert store.read().run(run_id).state == "running"  # `report` runs next
    (m,) = store.read().materializations("w.a")
    enough, no_nulls = store.read().check_results("w.a")
    assert enough.materialization_id == no_nulls.materialization_id == m.id
    (payload,) = {r["payload"] for r in asset_notifications(store)}
    assert json.loads(payload)["error"] == "ValueError: few"
    assert json.loads(payload)["severity"] == "warn"


def test_a_check_failing_run_after_run_is_told_once_until_it_passes_again(
    engine: Engine, store: Store, clock: Clock
) -> None:
    def told() -> int:
        return len(asset_notifications(store)) // 2  # the asset's entry and the flow's

    version = engine.register(flow())
    for passed, expected in ((False, 1), (False, 1), (True, 1), (False, 2)):
        engine.create_run(version, {})
        claimed = engine.claim(worker_id="w", queues=("default",), limit=10, lease=30)
        results = (ran("no_nulls", True), ran("enough", passed, "warn"))
        engine.complete(
            [
                outcome_of(
                    c,
                    AttemptState.SUCCEEDED,
                    at=1002.0,
                    **({"checks": results} if c.task_key == "load" else {}),
                )
                for c in claimed
            ]
        )
        assert told() == expected, (passed, expected)
    # In one batch too: the first of two failures after a pass is the one told.
    with store.transaction() as tx:
        records = [
            CheckRecord("w.a", "enough", "warn", True, 2000.0),
            CheckRecord("w.a", "enough", "warn", False, 2001.0),
            CheckRecord("w.a", "enough", "warn", False, 2002.0),
        ]
        engine_assets.record_checks(tx, records, [flow()], 2003.0)
    assert told() == 3


def test_an_attempt_without_checks_records_none(engine: Engine, store: Store, clock: Clock) -> None:
    end_load(engine, clock, AttemptState.SUCCEEDED)
    assert store.read().check_results("w.a") == []
    assert asset_notifications(store) == []


def test_a_deployed_entry_is_the_one_notified(store: Store) -> None:
    with store.transaction() as tx:
        tx.sync_catalog("f", flow(owner="me").assets, [], 1000.0)
        row = engine_assets.asset_row(tx, "w.a", [], 1000.0)
        assert (row.declared_by, row.owner) == ("f", "me")
        bare = engine_assets.asset_row(tx, "w.other", [flow()], 1000.0)
        assert (bare.name, bare.declared_by, bare.notifications) == ("w.other", None, "[]")


# -- on demand -----------------------------------------------------------------------------


@pytest.fixture
def deployed(engine: Engine, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow `f` deployed, its asset written once, its checks in module `m` of its folder."""
    (tmp_path / "m.py").write_text(
        "def no_nulls(*, asset, metadata, partition):\n"
        "    return metadata.get('rows', 0) > 0\n"
        "def enough(*, asset, metadata, partition):\n"
        "    raise RuntimeError('pw=' + 'hunter22')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "m", raising=False)
    spec = flow()
    with store.transaction() as tx:
        version = tx.save_version(spec, 1000.0, deployed=True)
        tx.mark_deployed("f", 1000.0)
        tx.sync_catalog("f", spec.assets, engine_assets.links(spec), 1000.0)
        tx.report_materialization("w.a", {"rows": 5}, "2024-01-01", None, None, 1000.0)
    assert version


def test_check_on_demand_runs_and_records_the_checks(
    store: Store, deployed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = Secrets({}, {"BATON_SECRET_PW": "hunter22"})
    lines: list[str] = []
    no_nulls, enough = checks.check_on_demand(
        store, "w.a", 2000.0, secrets=secrets, log=lines.append
    )
    (m,) = store.read().materializations("w.a")
    assert (no_nulls.passed, no_nulls.run_id, no_nulls.materialization_id) == (1, None, m.id)
    assert (enough.passed, enough.error) == (0, "RuntimeError: pw=***")
    assert [r.id for r in store.read().check_results("w.a")] == [enough.id, no_nulls.id]
    assert len(lines) == 2 and lines[1].startswith("check enough of asset w.a: failed (warn)")
    # No traceback on the terminal: unlike an attempt's log, it would not be masked.
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert "hunter22" not in printed.out + printed.err
    rows = asset_notifications(store)
    assert len(rows) == 2 and all(r["run_id"] is None for r in rows)
    payload = json.loads(rows[0]["payload"])
    assert (payload["flow"], payload["task"], payload["check"]) == ("f", None, "enough")
    assert "hunter22" not in rows[0]["payload"]


def test_check_on_demand_refuses_an_unknown_asset_or_one_without_checks(
    store: Store, deployed: None
) -> None:
    with pytest.raises(NotFoundError, match=r"unknown asset 'w\.nope'"):
        checks.check_on_demand(store, "w.nope", 2000.0, secrets=Secrets.empty())
    with store.transaction() as tx:
        tx.report_materialization("w.bare", {}, None, None, None, 1000.0)
    with pytest.raises(InputError, match=r"asset 'w\.bare' has no checks"):
        checks.check_on_demand(store, "w.bare", 2000.0, secrets=Secrets.empty())
