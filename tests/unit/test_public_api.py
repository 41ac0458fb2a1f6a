from __future__ import annotations

import subprocess
import sys

import pytest

import baton

EXPECTED = [
    "Asset",
    "BatonError",
    "CheckResult",
    "DefinitionError",
    "Flow",
    "InputError",
    "ParamError",
    "Retry",
    "RunResult",
    "Settings",
    "Skip",
    "Task",
    "TaskConfig",
    "TaskFailed",
    "TaskRunResult",
    "TaskType",
    "TriggerRule",
    "approval_task",
    "asset",
    "asset_flow",
    "container_task",
    "daily",
    "dynamic",
    "flow",
    "flow_task",
    "get_run",
    "hourly",
    "http_task",
    "jar_task",
    "monthly",
    "notebook_task",
    "record_asset",
    "run_flow",
    "script_task",
    "sensor_task",
    "shell_task",
    "spark_task",
    "sql_task",
    "static",
    "task",
    "weekly",
]


def test_all_is_the_promised_surface() -> None:
    assert baton.__all__ == EXPECTED
    assert baton.__all__ == sorted(baton.__all__)
    assert sorted(dir(baton)) == EXPECTED


# Public names of classes that live under their own name (the read model's views).
ALIASES = {"RunResult": "RunView", "TaskRunResult": "TaskRunView"}


@pytest.mark.parametrize("name", EXPECTED)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(baton, name)
    assert value is not None
    assert getattr(value, "__name__", name) == ALIASES.get(name, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        baton.no_such_thing  # noqa: B018


def test_public_errors_form_one_tree() -> None:
    assert issubclass(baton.DefinitionError, baton.BatonError)
    assert issubclass(baton.ParamError, baton.InputError)
    assert issubclass(baton.InputError, baton.BatonError)
    assert not issubclass(baton.Skip, Exception)  # a control signal, not an error


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        ("baton.cli.main", ("pydantic", "sqlalchemy", "msgspec", "sqlite3")),
        # `baton runs list` and the other reading commands import display, not the engine:
        # the engine's modules made their start 0.27 s instead of 0.18 s.
        (
            "baton.cli.display",
            ("baton.engine.service", "baton.execution.worker", "baton.execution.logs"),
        ),
    ],
)
def test_the_cli_imports_light(module: str, heavy: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
