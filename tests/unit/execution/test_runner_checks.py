"""Checks run by the attempt that wrote their asset (`runner`): after the task succeeded,
in its log; a failed `error` check fails the attempt (error_kind check), a `warn` one not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import baton
from baton.engine.planner import Outcome
from baton.execution.runner import Job, run_attempt
from baton.execution.secrets import Secrets
from baton.model.assets import AssetSpec, CheckSpec
from baton.model.context import NO_ITEM
from baton.model.spec import TaskSpec
from baton.model.states import AttemptState, ErrorKind
from baton.store.store import Claimed

SECRET = "pa55-w0rd-value"


def attempt(
    task_context: Callable[..., Any],
    tmp_path: Path,
    functions: dict[str, Callable[..., Any]],
    assets: tuple[AssetSpec, ...],
    capsys: pytest.CaptureFixture[str],
    outputs: tuple[str, ...] = ("w.a", "w.b"),
) -> tuple[Outcome, str]:
    """Run task `m:task` writing `outputs` with the checks of `assets`: (outcome, what it
    printed: its log, in a worker, where `logs.install` routes it)."""
    task = TaskSpec(key="t", type="python", config={"function": "m:task"}, outputs=outputs)
    job = Job(
        claimed=Claimed(
            task_run_id=7, run_id="r", task_key="t", map_index=-1, attempt_id="a", attempt=1
        ),
        task=task,
        ctx=task_context(
            load_function=functions.__getitem__, item=NO_ITEM, log_path=str(tmp_path / "log")
        ),
        results_store=str(tmp_path / "results"),
        deadline=None,
        load_secrets=lambda: Secrets({}, {"BATON_SECRET_PW": SECRET}),
        assets=assets,
    )
    return run_attempt(job), capsys.readouterr().out


def writes() -> int:
    baton.record_asset("w.a", metadata={"rows": 3, "dsn": f"pg://u:{SECRET}@h"})
    return 3


def test_a_failed_error_check_fails_the_attempt_naming_asset_and_check(
    task_context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[dict[str, Any]] = []

    def rows(**kw: Any) -> Any:
        seen.append(kw)
        return baton.CheckResult(kw["metadata"]["rows"] > 5, {"rows": kw["metadata"]["rows"]})

    assets = (
        AssetSpec(
            name="w.a",
            checks=(
                CheckSpec(name="enough", python="m:rows"),
                CheckSpec(name="fine", python="m:ok", severity="warn"),
            ),
        ),
    )
    functions = {"m:task": writes, "m:rows": rows, "m:ok": lambda **_: True}
    done, log = attempt(task_context, tmp_path, functions, assets, capsys)
    assert done.state is AttemptState.FAILED
    assert done.error_kind is ErrorKind.CHECK and done.retryable is False
    assert done.error is not None and done.error.startswith("asset 'w.a' failed check 'enough'")
    assert done.result is None and done.reported == ()
    # It saw what the task reported, masked as it is recorded.
    assert seen == [
        {"asset": "w.a", "metadata": {"rows": 3, "dsn": "pg://u:***@h"}, "partition": None}
    ]
    assert [(r.name, r.passed, r.metadata) for r in done.checks] == [
        ("enough", False, {"rows": 3}),
        ("fine", True, None),
    ]
    assert "check enough of asset w.a: failed (error) in " in log
    assert "check fine of asset w.a: passed in " in log
    assert "error: asset 'w.a' failed check 'enough'" in log


def test_a_failed_warn_check_leaves_the_attempt_succeeded(
    task_context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def leaky(**_: Any) -> bool:
        raise RuntimeError(f"token {SECRET} refused")

    assets = (
        AssetSpec(name="w.b", checks=(CheckSpec(name="soft", python="m:leaky", severity="warn"),)),
    )
    done, log = attempt(
        task_context, tmp_path, {"m:task": writes, "m:leaky": leaky}, assets, capsys
    )
    assert done.state is AttemptState.SUCCEEDED and json.loads(done.result or "") == 3
    (r,) = done.checks
    assert (r.asset, r.name, r.severity, r.passed) == ("w.b", "soft", "warn", False)
    assert r.error == "RuntimeError: token *** refused"
    assert done.reported and done.reported[0].asset == "w.a"
    assert "check soft of asset w.b: failed (warn)" in log


def test_a_task_without_checks_runs_none(
    task_context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done, log = attempt(task_context, tmp_path, {"m:task": writes}, (), capsys)
    assert done.state is AttemptState.SUCCEEDED and done.checks == ()
    assert "check" not in log


def test_a_failed_task_runs_no_check(
    task_context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    called: list[str] = []

    def fails() -> None:
        raise ValueError("no")

    def check(**_: Any) -> bool:
        called.append("check")
        return True

    assets = (AssetSpec(name="w.a", checks=(CheckSpec(name="c", python="m:c"),)),)
    done, _ = attempt(task_context, tmp_path, {"m:task": fails, "m:c": check}, assets, capsys)
    assert done.state is AttemptState.FAILED and done.error_kind is ErrorKind.USER
    assert done.checks == () and called == []
