"""`shell` tasks: `sh -c COMMAND` in the working directory, in its own process group.

The command, like every field, may be a Jinja2 template (see baton.tasks.template);
`{{ upstream.x }}` renders a Python value, so quote it for the shell (`| tojson`). Exit code
`skip_exit_code` (99, Airflow's convention) ends the task skipped; any other non-zero code
fails it. The last line the command prints is the task's result.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from baton.errors import Skip
from baton.model import decorators
from baton.model.context import NO_ITEM, TaskContext
from baton.tasks import process
from baton.tasks.base import TaskConfig, TaskFailed, TaskType


class ShellConfig(TaskConfig, frozen=True):
    command: Annotated[str, msgspec.Meta(min_length=1)]
    env: dict[str, str] = {}
    cwd: str | None = None
    skip_exit_code: int | None = 99


def execute(ctx: TaskContext, cfg: ShellConfig) -> Any:
    command = cfg.command  # already rendered: see baton.tasks.template
    env = dict(cfg.env)
    if ctx.item is not NO_ITEM:
        env["BATON_MAP_ITEM"] = str(ctx.item)
    code, last_line = process.run_capturing(ctx, ["sh", "-c", command], env=env, cwd=cfg.cwd)
    if cfg.skip_exit_code is not None and code == cfg.skip_exit_code:
        raise Skip(f"the command exited with code {code}")
    if code != 0:
        raise TaskFailed(f"the command exited with code {code}")
    return last_line


def shell_task(
    command: str,
    *,
    key: str,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    skip_exit_code: int | None = 99,
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """A shell task inside a `@flow`: `shell_task("wc -l data.csv", key="count")`.

    `command` is a Jinja2 template (`params`, `upstream`, `item`...); `wait_for` takes the
    results of tasks to run after; other options as for `@task` (retries, timeout, ...).
    """
    config = {"command": command, "env": env, "cwd": cwd, "skip_exit_code": skip_exit_code}
    return decorators.typed_task(
        "shell", key, config, wait_for=wait_for, keep_none=("skip_exit_code",), **options
    )


TYPE = TaskType("shell", ShellConfig, execute, icon="shell")
