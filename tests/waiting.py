"""`wait_until`: the one polling loop of the tests, for what no event tells.

Importable because pytest's `pythonpath` names tests/ (test modules cannot import a
conftest); tests/conftest.py also offers it as the `wait_until` fixture.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_until(condition: Callable[[], Any], *, timeout: float = 30.0, what: str = "it") -> Any:
    """Poll `condition` until it returns something truthy, and return that; fail the test
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
