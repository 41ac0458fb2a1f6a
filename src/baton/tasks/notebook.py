"""`notebook` tasks: execute a Jupyter notebook with parameters, on a real kernel.

Parameters follow papermill's convention: the cell tagged `parameters` holds defaults and a
cell tagged `injected-parameters`, inserted right after it (at the top without one), sets
the given values. The notebook runs in a child process (baton.tasks.notebook_child) whose
process group holds the kernel too, so a timeout or cancel stops everything. The executed
notebook, outputs included, is saved next to the attempt's log (or at `output`), also when
a cell fails. The result is `{"output": path, "result": value}`, where `value` is the last
output of the last cell tagged `result` (its JSON, else a literal; None without one).
Secret values in the saved notebook are masked, as in the log.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from typing import Annotated, Any

import msgspec

from baton.model import decorators
from baton.model.context import TaskContext
from baton.tasks import process
from baton.tasks.base import Code, TaskConfig, TaskFailed, TaskType

Identifier = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class NotebookConfig(TaskConfig, frozen=True):
    path: Annotated[str, msgspec.Meta(min_length=1)]  # relative to the flow's folder
    parameters: dict[Identifier, Any] = {}
    kernel: Annotated[str, msgspec.Meta(min_length=1)] = "python3"
    cell_timeout: Annotated[float, msgspec.Meta(gt=0)] | None = None  # seconds per cell
    output: str | None = None  # where to save the executed notebook


def execute(ctx: TaskContext, cfg: NotebookConfig) -> Any:
    source = os.path.join(ctx.flow_dir, cfg.path)
    if not os.path.isfile(source):
        raise TaskFailed(f"notebook not found: {source}", retryable=False)
    if cfg.output is not None:
        output = os.path.abspath(os.path.join(ctx.flow_dir, cfg.output))
    else:
        output = os.path.abspath(os.path.splitext(ctx.log_path)[0] + ".ipynb")
    # The job's files and (JUPYTER_RUNTIME_DIR) the kernel's connection file, removed
    # whatever happens.
    scratch = os.path.join(ctx.work_dir, f"notebook-{ctx.attempt_id}")
    os.makedirs(scratch, exist_ok=True)
    status_path = os.path.join(scratch, "status.json")
    job = {
        "path": os.path.abspath(source),
        "output": output,
        "parameters": cfg.parameters,
        "kernel": cfg.kernel,
        "cell_timeout": None if cfg.cell_timeout is None else math.ceil(cfg.cell_timeout),
        "cwd": os.path.dirname(os.path.abspath(source)),  # as Jupyter runs it
        "status": status_path,
    }
    try:
        job_path = os.path.join(scratch, "job.json")
        try:
            with open(job_path, "w") as f:
                json.dump(job, f)
        except (TypeError, ValueError) as exc:
            raise TaskFailed(f"parameters must be JSON values: {exc}", retryable=False) from None
        argv = [sys.executable, "-m", "baton.tasks.notebook_child", job_path]
        code = process.run(ctx, argv, env={"JUPYTER_RUNTIME_DIR": scratch})
        try:
            with open(status_path) as f:
                status = json.load(f)
        except FileNotFoundError:
            raise TaskFailed(
                f"the notebook's process exited with code {code} before reporting"
            ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _mask_saved(ctx, output)
    if not status["ok"]:
        raise _failure(status)
    return {"output": output, "result": status.get("result")}


def _mask_saved(ctx: TaskContext, output: str) -> None:
    """Mask secret values in the executed notebook as in the log: a secret parameter is in
    the injected cell, and a cell may print one. Masked as JSON values, not as bytes, so a
    value JSON escapes (a quote, a backslash) is found too."""
    try:
        with open(output, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):  # not written (the kernel never started): nothing to mask
        return
    masked = ctx.mask(saved)
    if masked == saved:
        return
    tmp = f"{output}.{ctx.attempt_id}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(masked, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, output)


def _failure(status: dict[str, Any]) -> TaskFailed:
    if "cell" not in status:
        return TaskFailed(status["error"], retryable=status["retryable"])
    ename = status["ename"]
    return TaskFailed(
        f"cell {status['cell']} (`{status['source']}`): {ename}: {status['evalue']}",
        error_types=(ename,),
        retryable=status["retryable"],
    )


def notebook_task(
    path: str,
    *,
    key: str,
    parameters: dict[str, Any] | None = None,
    kernel: str = "python3",
    cell_timeout: float | None = None,
    output: str | None = None,
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """A notebook task inside a `@flow`: `notebook_task("report.ipynb", key="report",
    parameters={"day": day})`.

    `path` is relative to the flow's folder; `parameters` may hold task results and flow
    params; `wait_for` takes the results of tasks to run after; other options as for `@task`
    (retries, timeout, ...).
    """
    config = {
        "path": path,
        "parameters": parameters,
        "kernel": kernel,
        "cell_timeout": cell_timeout,
        "output": output,
    }
    return decorators.typed_task("notebook", key, config, wait_for=wait_for, **options)


def code(ctx: TaskContext, config: dict[str, Any]) -> Code:
    path = config.get("path")
    return ("script", os.path.join(ctx.flow_dir, path)) if isinstance(path, str) else None


TYPE = TaskType(
    "notebook",
    NotebookConfig,
    execute,
    icon="notebook",
    code=code,
    # Imported by the child that runs the notebook (and the kernel it starts), not here.
    requires=("nbformat", "nbclient", "ipykernel"),
    extra="notebook",
)
