"""Suite-wide settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.model.context import TaskContext


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """With BATON_FORBID_SKIPS set (CI sets it), a skipped test fails: CI has PostgreSQL and
    a JDK, so a skip there means a test silently did not run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("BATON_FORBID_SKIPS"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but BATON_FORBID_SKIPS is set: {report.longrepr}"


@pytest.fixture
def task_context(tmp_path: Path) -> Callable[..., TaskContext]:
    """A TaskContext for calling a task type's execute() directly."""

    def make(**fields: Any) -> TaskContext:
        defaults: dict[str, Any] = {
            "run_id": "r",
            "flow": "f",
            "task_key": "t",
            "map_index": None,
            "attempt": 1,
            "attempt_id": "a",
            "params": {},
            "upstream": {},
            "item": None,
            "log_path": str(tmp_path / "log"),
            "flow_dir": str(tmp_path),
            "work_dir": str(tmp_path / "work"),
            "load_function": lambda _: print,
        }
        return TaskContext(**(defaults | fields))

    return make
