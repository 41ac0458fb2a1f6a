"""The engine service's own tests (tests/unit/engine/test_service.py), run on PostgreSQL too.

There they use a SQLite store; here they get this suite's `store` fixture, a fresh PostgreSQL
schema each, so every engine scenario is checked on the cluster backend as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from borrow import borrow

_service_tests = borrow(Path(__file__).parents[1] / "unit" / "engine" / "test_service.py")
clock = _service_tests.clock
engine = _service_tests.engine  # asks for `store`: this suite's, not the SQLite one there
globals().update({k: v for k, v in vars(_service_tests).items() if k.startswith("test_")})


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
