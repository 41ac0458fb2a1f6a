"""`engine_kit`: what engine tests share: a fake clock, the SQLite `store`, `clock` and
`engine` fixtures, and `outcome_of`, the Outcome a worker reports for a claimed attempt.

Importable because pytest's `pythonpath` names tests/ (test modules cannot import a
conftest). tests/unit/engine/conftest.py offers the fixtures to that folder; a module
elsewhere imports the ones it wants (a fixture imported into a module is that module's).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.engine.planner import Outcome
from baton.engine.service import Engine
from baton.model.states import AttemptState, ErrorKind
from baton.store.store import Claimed, Store


class Clock:
    """A clock that stands still until a test moves `now`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path}/baton.db")
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return Engine(store, clock=clock, rng=random.Random(0))


def outcome_of(
    c: Claimed, state: AttemptState = AttemptState.SUCCEEDED, *, at: float, **fields: Any
) -> Outcome:
    """How claimed attempt `c` ended: `state` at time `at`, with any other Outcome `fields`.
    A failure is a user error "boom" unless `fields` say otherwise."""
    if state is AttemptState.FAILED:
        fields = {"error": "boom", "error_kind": ErrorKind.USER} | fields
    return Outcome.of(c, state, at, **fields)
