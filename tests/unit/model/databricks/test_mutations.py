"""Hostile jobs: the fixture jobs with random fields replaced by wrong values or removed.

Whatever the mutation, the import either gives a flow that baton's loader reads, or raises
a BatonError (exit 2 with its message): never another exception, which would be a traceback.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton import tasks
from baton.errors import BatonError
from baton.model import yaml_spec
from baton.model.databricks import job

FIXTURES = Path(__file__).parents[3] / "fixtures" / "databricks"
WRONG: list[Any] = [
    None, 0, -1, 1.5, True, "", "x", "{{", "{{job.parameters.nope}}", "{{tasks.x.values.y}}",
    [], {}, [1], {"a": 1}, "0 0 0 L * ?", "a b", "../x", "\x00", 10**400, "[" * 5000,
]  # fmt: skip


def _jobs() -> list[Any]:
    found = [
        json.loads((FIXTURES / n).read_text()) for n in ("nightly_get.json", "spark_create.json")
    ]
    bundle = yaml.safe_load((FIXTURES / "bundle.yml").read_text())
    return [*found, bundle["resources"]["jobs"]["orders_daily"]]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _mutated(rng: random.Random, jobs: list[Any]) -> Any:
    data = copy.deepcopy(rng.choice(jobs))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(list(_paths(data))[1:])
        parent = data
        for k in path[:-1]:
            parent = parent[k]
        if rng.random() < 0.75:
            parent[path[-1]] = copy.deepcopy(rng.choice(WRONG))
        elif isinstance(parent, dict):
            del parent[path[-1]]
    return data


@pytest.mark.parametrize("seed", range(4))
def test_mutated_jobs_import_or_fail_by_name(seed: int) -> None:
    rng = random.Random(seed)
    jobs = _jobs()
    outcomes = {"imported": 0, "refused": 0}
    for _ in range(150):
        text = json.dumps(_mutated(rng, jobs))
        try:
            out = job.import_job(text, file="job.json", strict=rng.random() < 0.3)
            spec = yaml_spec.load_yaml_flow(out.yaml, file="flow.yaml")
            for t in spec.tasks:
                tasks.config_of(t)
            outcomes["imported"] += 1
        except BatonError as exc:
            assert str(exc)
            outcomes["refused"] += 1
    assert outcomes["imported"] and outcomes["refused"]  # both kinds of mutation were made
