"""Recording what tasks write: one materialization per output of a success, with what the
attempt reported of it (`planner.materializations`), and the reports as the runner reads
them (`execution.asset_records`)."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest

import baton
from baton.engine import planner
from baton.engine.planner import Outcome, Reported
from baton.execution import asset_records
from baton.execution.secrets import Secrets
from baton.model.spec import TaskSpec
from baton.model.states import AttemptState, TaskState
from baton.tasks.base import TaskFailed

NOW = 1000.0


def outcome(state: AttemptState = AttemptState.SUCCEEDED, **fields: Any) -> Outcome:
    return Outcome("att", 7, "run", "t", 2, state, 990.0, **fields)


def complete(task: TaskSpec, o: Outcome) -> planner.Completion:
    return planner.completion(
        task, o, flow_name="f", cancelling=False, now=NOW, rng=random.Random(0)
    )


def shell(**fields: Any) -> TaskSpec:
    return TaskSpec(key="t", type="shell", **fields)


def test_a_success_records_each_output_once_with_the_attempt() -> None:
    done = complete(shell(outputs=("w.a", "w.b", "w.a")), outcome())
    assert [
        (m.asset, m.run_id, m.task_key, m.attempt, m.attempt_id, m.at) for m in done.assets
    ] == [
        ("w.a", "run", "t", 2, "att", NOW),
        ("w.b", "run", "t", 2, "att", NOW),
    ]
    assert all(m.metadata is None and m.data_version is None for m in done.assets)
    assert done.assets[0].flow_name == "f" and done.assets[0].task_run_id == 7


def test_reports_are_merged_per_asset_in_order() -> None:
    reported = (
        Reported("w.a", {"rows": 1, "path": "/x"}),
        Reported("w.a", {"rows": 2}, "v1"),
        Reported("w.a", {}, None),
    )
    done = complete(shell(outputs=("w.a", "w.b")), outcome(reported=reported))
    a, b = done.assets
    assert (json.loads(a.metadata or ""), a.data_version) == ({"rows": 2, "path": "/x"}, "v1")
    assert (b.metadata, b.data_version) == (None, None)


@pytest.mark.parametrize("state", [AttemptState.FAILED, AttemptState.WAITING, AttemptState.SKIPPED])
def test_only_a_success_records(state: AttemptState) -> None:
    done = complete(shell(outputs=("w.a",)), outcome(state, reported=(Reported("w.a", {}),)))
    assert done.move.to is not TaskState.SUCCEEDED
    assert done.assets == []


# -- what the runner reads ------------------------------------------------------------------


def collect(path: Path, outputs: tuple[str, ...] = ("w.a",), **kw: Any) -> tuple[Reported, ...]:
    recorder = kw.pop("recorder", asset_records.Recorder())
    mask = kw.pop("mask", lambda v: v)
    return asset_records.collect(recorder, str(path), True, outputs, mask)


def test_the_file_is_read_line_by_line_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "a.assets.jsonl"
    path.write_text(
        '{"asset": "w.a", "metadata": {"rows": 3}}\n\n{"asset": "w.a", "data_version": "v2"}\n'
    )
    assert collect(path) == (Reported("w.a", {"rows": 3}), Reported("w.a", {}, "v2"))
    assert not path.exists()
    assert collect(path) == ()  # no file: nothing reported


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not json", "line 2 ('not json'): not JSON"),
        ("[1]", "line 2 ('[1]'): not a JSON object"),
        ('{"asset": 3}', "'asset' must be an asset name"),
        ('{"metadata": {}}', "'asset' must be an asset name"),
        ('{"asset": "w.a", "metadata": [1]}', "'metadata' must be a mapping"),
        ('{"asset": "w.a", "data_version": 1}', "'data_version' must be a string"),
        ('{"asset": "w.a", "metdata": {}}', "unknown field 'metdata'"),
    ],
)
def test_a_malformed_line_fails_the_attempt_naming_it(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "a.assets.jsonl"
    path.write_text('{"asset": "w.a"}\n' + line + "\n")
    with pytest.raises(TaskFailed, match="BATON_ASSETS_FILE line 2") as err:
        collect(path)
    assert says in str(err.value)
    assert err.value.retryable is False


def test_an_asset_the_task_does_not_declare_fails_the_attempt(tmp_path: Path) -> None:
    path = tmp_path / "a.assets.jsonl"
    path.write_text('{"asset": "w.other"}\n')
    with pytest.raises(TaskFailed, match=r"reported asset 'w\.other', which it does not declare"):
        collect(path, ("w.a", "w.b"))
    recorder = asset_records.Recorder()
    recorder.reports.append(Reported("w.x", {}))
    with pytest.raises(TaskFailed, match=r"\(outputs: none\)"):
        collect(tmp_path / "none", (), recorder=recorder)


def test_secret_values_are_masked_in_metadata(tmp_path: Path) -> None:
    secrets = Secrets({}, {"DB_PASSWORD": "hunter22"}, None)
    secrets.resolve("${secret:DB_PASSWORD}")
    path = tmp_path / "a.assets.jsonl"
    path.write_text(
        '{"asset": "w.a", "metadata": {"url": "pg://u:hunter22@h"}, "data_version": "hunter22"}\n'
    )
    (r,) = collect(path, mask=secrets.mask_json)
    assert (r.metadata, r.data_version) == ({"url": "pg://u:***@h"}, "***")


def test_record_asset_goes_to_the_attempt_of_its_thread(tmp_path: Path) -> None:
    recorders = [asset_records.Recorder() for _ in range(2)]

    def attempt(i: int) -> None:
        token = asset_records.attach(recorders[i])
        try:
            baton.record_asset("w.a", metadata={"i": i}, data_version=str(i))
        finally:
            asset_records.detach(token)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.reports for r in recorders] == [
        [Reported("w.a", {"i": 0}, "0")],
        [Reported("w.a", {"i": 1}, "1")],
    ]


def test_record_asset_in_a_child_process_appends_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "work" / "a.assets.jsonl"
    monkeypatch.setenv(asset_records.ENV, str(path))
    baton.record_asset("w.a", metadata={"rows": 1})
    baton.record_asset("w.a", data_version="v")
    assert collect(path) == (Reported("w.a", {"rows": 1}), Reported("w.a", {}, "v"))


def test_record_asset_outside_a_task_or_with_bad_values_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(asset_records.ENV, raising=False)
    with pytest.raises(RuntimeError, match="outside a baton task"):
        baton.record_asset("w.a")
    with pytest.raises(TypeError, match=r"record_asset\(\) metadata must hold JSON values"):
        baton.record_asset("w.a", metadata={"x": object()})
    with pytest.raises(TypeError, match=r"record_asset\(\) metadata must be a mapping"):
        baton.record_asset("w.a", metadata=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"record_asset\(\) name must be an asset name"):
        baton.record_asset(None)  # type: ignore[arg-type]
