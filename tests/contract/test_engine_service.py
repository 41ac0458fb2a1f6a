"""The engine service's own tests (tests/unit/engine/test_service.py), run on PostgreSQL too.

There they use a SQLite store; here they get this suite's `store` fixture, a fresh PostgreSQL
schema each, so every engine scenario is checked on the cluster backend as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from borrow import borrow

# Fixtures, found by pytest in this module's namespace; `engine` asks for `store`: this
# suite's PostgreSQL one, not the SQLite one of tests/unit/engine.
from engine_kit import clock, engine  # noqa: F401

_service_tests = borrow(Path(__file__).parents[1] / "unit" / "engine" / "test_service.py")
globals().update({k: v for k, v in vars(_service_tests).items() if k.startswith("test_")})


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
