"""Suite-wide settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """With BATON_FORBID_SKIPS set (CI sets it), a skipped test fails: CI has PostgreSQL and
    a JDK, so a skip there means a test silently did not run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("BATON_FORBID_SKIPS"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but BATON_FORBID_SKIPS is set: {report.longrepr}"
