"""Running flows to the end in this process: `baton run`, `baton materialize`, `run_flow`,
resume and repair.

The public names the CLI, the API and `baton` import from here; each lives in the module
named for what it holds: results in `views`, a run's life in `lifecycle`, signal
handling in `signals`.
"""

from __future__ import annotations

from baton.execution.lifecycle import (
    DEFAULT_CONCURRENCY,
    LAST_SEND_TIMEOUT,
    cancel,
    cancel_text,
    check_resumable,
    end_lost_attempts,
    execute,
    run_flow,
    start_run,
    wait,
)
from baton.execution.materialize import start_materialize
from baton.execution.signals import cancel_on_signal
from baton.execution.views import RunResult, TaskRunResult, get_run, load_result

__all__ = [
    "DEFAULT_CONCURRENCY",
    "LAST_SEND_TIMEOUT",
    "RunResult",
    "TaskRunResult",
    "cancel",
    "cancel_on_signal",
    "cancel_text",
    "check_resumable",
    "end_lost_attempts",
    "execute",
    "get_run",
    "load_result",
    "run_flow",
    "start_materialize",
    "start_run",
    "wait",
]
