"""`script` tasks: run a Python file in a child process, by default with baton's interpreter.

The script's path is relative to the flow file's folder. With `result_file`, the script is
told where to write JSON (env `BATON_RESULT_FILE`) and what it writes is the task's result;
otherwise the result is `{"exit_code": 0}`. Exit code `skip_exit_code` skips the task, any
other non-zero code fails it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Annotated, Any, Unpack

import msgspec

from baton.errors import Skip
from baton.model import decorators
from baton.model.context import NO_ITEM, TaskContext
from baton.tasks import process
from baton.tasks.base import Code, TaskConfig, TaskFailed, TaskType

# What YAML writes as a number is passed on as its text, like a shell would.
Arg = str | int | float


class ScriptConfig(TaskConfig, frozen=True):
    path: Annotated[str, msgspec.Meta(min_length=1)]
    args: list[Arg] = []
    env: dict[str, str] = {}
    cwd: str | None = None
    python: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    result_file: bool | Annotated[str, msgspec.Meta(min_length=1)] = False
    skip_exit_code: int | None = 99


def execute(ctx: TaskContext, cfg: ScriptConfig) -> Any:
    script = resolve_path(ctx, cfg.path)
    if not os.path.isfile(script):
        raise TaskFailed(f"the script {script} does not exist", retryable=False)
    if cfg.cwd is not None and not os.path.isdir(cfg.cwd):
        raise TaskFailed(f"the working directory {cfg.cwd} does not exist", retryable=False)
    # Unbuffered, so the log shows the script's progress as it happens.
    env = {"PYTHONUNBUFFERED": "1", **cfg.env, **item_env(ctx)}
    result_path = _result_path(ctx, cfg)
    if result_path is not None:
        # A file left by an earlier run must not pass for this run's result.
        if os.path.exists(result_path):
            os.remove(result_path)
        env["BATON_RESULT_FILE"] = result_path
    argv = [interpreter(ctx, cfg.python), script, *(str(a) for a in cfg.args)]
    try:
        code = process.run(ctx, argv, env=env, cwd=cfg.cwd)
        if cfg.skip_exit_code is not None and code == cfg.skip_exit_code:
            raise Skip(f"the script exited with code {code}")
        if code != 0:
            raise TaskFailed(f"the script {cfg.path} exited with code {code}")
        if result_path is None:
            return {"exit_code": 0}
        return read_result(result_path)
    finally:
        if cfg.result_file is True and result_path is not None and os.path.exists(result_path):
            os.remove(result_path)


def resolve_path(ctx: TaskContext, path: str) -> str:
    """`path` as an absolute path, a relative one taken from the flow file's folder."""
    return os.path.normpath(os.path.join(ctx.flow_dir, os.path.expanduser(path)))


def interpreter(ctx: TaskContext, python: str | None) -> str:
    """The Python to run: baton's own, a path (from the flow's folder), or a name on PATH."""
    if python is None:
        return sys.executable
    if os.sep in python:
        found: str | None = resolve_path(ctx, python)
        if not os.access(found or "", os.X_OK):
            found = None
    else:
        found = shutil.which(python)
    if found is None:
        raise TaskFailed(f"the Python interpreter {python} was not found", retryable=False)
    return found


def item_env(ctx: TaskContext) -> dict[str, str]:
    """A mapped task's element for the child: a string as is, anything else as JSON."""
    if ctx.item is NO_ITEM:
        return {}
    item = ctx.item
    return {"BATON_MAP_ITEM": item if isinstance(item, str) else json.dumps(item)}


def _result_path(ctx: TaskContext, cfg: ScriptConfig) -> str | None:
    if cfg.result_file is False:
        return None
    if cfg.result_file is True:
        return attempt_result_path(ctx)
    # A path the script itself might also use: relative to where the script runs.
    return os.path.abspath(os.path.join(cfg.cwd or os.getcwd(), cfg.result_file))


def attempt_result_path(ctx: TaskContext) -> str:
    """Where a child process writes the attempt's result (`$BATON_RESULT_FILE`): a file of
    its own in the worker's folder, named after the attempt."""
    os.makedirs(ctx.work_dir, exist_ok=True)
    return os.path.join(ctx.work_dir, f"{ctx.attempt_id}.result.json")


def read_result(path: str, what: str = "the script") -> Any:
    """The JSON a child wrote to its result file; None (said in the log) if it wrote none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        print(f"{what} wrote no result file ({path}): the result is null")
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise TaskFailed(f"{what}'s result file {path} is not JSON: {exc}") from None


def script_task(
    path: str,
    *,
    key: str,
    args: Any = (),
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    python: str | None = None,
    result_file: bool | str = False,
    skip_exit_code: int | None = 99,
    wait_for: Any = (),
    **options: Unpack[decorators.TaskOptions],
) -> Any:
    """A Python script task inside a `@flow`: `script_task("etl.py", key="etl", args=[day])`.

    `path` is relative to the flow file's folder; `args` and `env` may hold task results and
    flow params. With `result_file=True` the JSON the script writes to `$BATON_RESULT_FILE`
    is the result. Other options as for `@task` (retries, timeout, ...).
    """
    config = {
        "path": path,
        "args": args,
        "env": env,
        "cwd": cwd,
        "python": python,
        "result_file": result_file,
        "skip_exit_code": skip_exit_code,
    }
    return decorators.typed_task(
        "script", key, config, wait_for=wait_for, keep_none=("skip_exit_code",), **options
    )


def code(ctx: TaskContext, config: dict[str, Any]) -> Code:
    path = config.get("path")
    return ("script", resolve_path(ctx, path)) if isinstance(path, str) else None


TYPE = TaskType("script", ScriptConfig, execute, icon="script", code=code)
