"""baton: define flows in Python or YAML and run them durably, fast.

    from baton import flow, task, run_flow

The names in `__all__` are the public API; everything else may change. They are imported
on first use, so that `baton --help` and other light commands start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.errors import BatonError, DefinitionError, InputError, ParamError, Skip
    from baton.execution.asset_records import record_asset
    from baton.execution.local import RunResult, TaskRunResult, get_run, run_flow
    from baton.model.asset_decorators import Asset, asset, asset_flow
    from baton.model.assets import CheckResult
    from baton.model.decorators import Flow, Task, flow, task
    from baton.model.partitions import daily, dynamic, hourly, monthly, static, weekly
    from baton.model.retry import Retry
    from baton.model.trigger_rules import TriggerRule
    from baton.settings import Settings
    from baton.tasks.approval import approval_task
    from baton.tasks.base import TaskConfig, TaskFailed, TaskType
    from baton.tasks.container import container_task
    from baton.tasks.flow import flow_task
    from baton.tasks.http import http_task
    from baton.tasks.jar import jar_task
    from baton.tasks.notebook import notebook_task
    from baton.tasks.script import script_task
    from baton.tasks.sensor import sensor_task
    from baton.tasks.shell import shell_task
    from baton.tasks.spark import spark_task
    from baton.tasks.sql import sql_task

_WHERE = {
    "BatonError": "baton.errors",
    "DefinitionError": "baton.errors",
    "InputError": "baton.errors",
    "ParamError": "baton.errors",
    "Skip": "baton.errors",
    "record_asset": "baton.execution.asset_records",
    "Asset": "baton.model.asset_decorators",
    "asset": "baton.model.asset_decorators",
    "asset_flow": "baton.model.asset_decorators",
    "CheckResult": "baton.model.assets",
    "RunResult": "baton.execution.local",
    "TaskRunResult": "baton.execution.local",
    "run_flow": "baton.execution.local",
    "get_run": "baton.execution.local",
    "Flow": "baton.model.decorators",
    "Task": "baton.model.decorators",
    "flow": "baton.model.decorators",
    "task": "baton.model.decorators",
    "Retry": "baton.model.retry",
    "daily": "baton.model.partitions",
    "dynamic": "baton.model.partitions",
    "hourly": "baton.model.partitions",
    "monthly": "baton.model.partitions",
    "static": "baton.model.partitions",
    "weekly": "baton.model.partitions",
    "TriggerRule": "baton.model.trigger_rules",
    "Settings": "baton.settings",
    "TaskConfig": "baton.tasks.base",
    "TaskFailed": "baton.tasks.base",
    "TaskType": "baton.tasks.base",
    "approval_task": "baton.tasks.approval",
    "container_task": "baton.tasks.container",
    "flow_task": "baton.tasks.flow",
    "http_task": "baton.tasks.http",
    "jar_task": "baton.tasks.jar",
    "notebook_task": "baton.tasks.notebook",
    "script_task": "baton.tasks.script",
    "sensor_task": "baton.tasks.sensor",
    "shell_task": "baton.tasks.shell",
    "spark_task": "baton.tasks.spark",
    "sql_task": "baton.tasks.sql",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'baton' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
