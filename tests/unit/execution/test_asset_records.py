"""`record_asset` in the attempt's own thread: what it keeps, what it refuses, and that the
assets file is read only when the attempt handed its path out."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any

import pytest

from baton.execution import asset_records
from baton.execution.asset_records import Recorder, collect, record_asset
from baton.execution.context import TaskContext


def reports(calls: Callable[[], Any]) -> Recorder:
    recorder = Recorder()
    token = asset_records.attach(recorder)
    try:
        calls()
    finally:
        asset_records.detach(token)
    return recorder


def test_a_report_is_a_json_copy_of_what_was_given() -> None:
    meta: dict[str, Any] = {
        "rows": 3,
        "nested": {"a": [1, 2]},
        "day": datetime.date(2024, 1, 2),
        "ratio": float("nan"),
    }
    r = reports(lambda: record_asset("w.t", metadata=meta, data_version="v1"))
    meta["nested"]["a"].append(3)  # changed after: not what was reported
    (got,) = r.reports
    assert (got.asset, got.data_version) == ("w.t", "v1")
    assert got.metadata == {"rows": 3, "nested": {"a": [1, 2]}, "day": "2024-01-02", "ratio": None}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"metadata": {"x": object()}}, "must hold JSON values only"),
        ({"metadata": {1: 2}}, "must be a mapping with string keys"),
        ({"metadata": {"x": "y" * 70_000}}, "is over 64 KiB as JSON"),
        ({"data_version": 3}, "record_asset() data_version must be a string"),
    ],
)
def test_bad_reports_are_refused_naming_the_field(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(TypeError) as err:
        reports(lambda: record_asset("w.t", **kwargs))
    assert error in str(err.value)


def test_outside_a_task_it_says_where_to_call_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(asset_records.ENV, raising=False)
    with pytest.raises(RuntimeError, match="outside a baton task"):
        record_asset("w.t")


def test_the_file_is_read_only_once_its_path_was_handed_out(
    task_context: Callable[..., TaskContext],
) -> None:
    ctx = task_context()
    assert not ctx.spawned
    env = ctx.env()  # what a child process (or a task calling one itself) is given
    assert ctx.spawned and os.path.isdir(os.path.dirname(env[asset_records.ENV]))
    with open(env[asset_records.ENV], "w", encoding="utf-8") as f:
        f.write('{"asset": "w.t", "metadata": {"rows": 1}}\n')
    got = collect(Recorder(), ctx.assets_file, ctx.spawned, ("w.t",), lambda v: v)
    assert [(r.asset, r.metadata) for r in got] == [("w.t", {"rows": 1})]
    assert not os.path.exists(ctx.assets_file)  # read, then removed
