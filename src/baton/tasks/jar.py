"""`jar` tasks: `java -jar FILE ARGS`, or `java -cp CLASSPATH MAIN_CLASS ARGS`.

Paths (the jar, classpath entries, which may be globs) are relative to the flow file's
folder. `java` defaults to `$JAVA_HOME/bin/java`, else `java` on PATH. The result is
`{"exit_code": 0, "stdout_last_line": ...}`; a non-zero exit code fails the task.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from typing import Annotated, Any, Unpack

import msgspec

from baton.model import decorators
from baton.model.context import NO_ITEM, TaskContext
from baton.tasks import process
from baton.tasks.base import TaskConfig, TaskFailed, TaskType

Path = Annotated[str, msgspec.Meta(min_length=1)]
ClassName = Annotated[str, msgspec.Meta(pattern=r"^[\w$]+(\.[\w$]+)*$")]
Arg = str | int | float  # a number in YAML is passed on as its text


class JarConfig(TaskConfig, frozen=True):
    jar: Path | None = None
    main_class: ClassName | None = None
    classpath: list[Path] = []
    args: list[Arg] = []
    java: Path | None = None
    jvm_args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None

    def __post_init__(self) -> None:
        # msgspec turns this ValueError into a validation error, so YAML gets a clear message.
        if (self.jar is None) == (self.main_class is None):
            raise ValueError("give exactly one of `jar` and `main_class`")
        if self.jar is not None and self.classpath:
            raise ValueError("`classpath` goes with `main_class`; a jar names its own")


def execute(ctx: TaskContext, cfg: JarConfig) -> Any:
    if cfg.cwd is not None and not os.path.isdir(cfg.cwd):
        raise TaskFailed(f"the working directory {cfg.cwd} does not exist", retryable=False)
    argv = [java_command(ctx, cfg), *cfg.jvm_args]
    if cfg.jar is not None:
        jar = _resolve(ctx, cfg.jar)
        if not os.path.isfile(jar):
            raise TaskFailed(f"the jar {jar} does not exist", retryable=False)
        argv += ["-jar", jar]
    else:
        assert cfg.main_class is not None
        if cfg.classpath:
            argv += ["-cp", classpath(ctx, cfg.classpath)]
        argv.append(cfg.main_class)
    argv += [str(a) for a in cfg.args]
    env = dict(cfg.env)
    if ctx.item is not NO_ITEM:
        env["BATON_MAP_ITEM"] = ctx.item if isinstance(ctx.item, str) else json.dumps(ctx.item)
    code, last_line = process.run_capturing(ctx, argv, env=env, cwd=cfg.cwd)
    if code != 0:
        raise TaskFailed(f"java exited with code {code}")
    return {"exit_code": 0, "stdout_last_line": last_line}


def java_command(ctx: TaskContext, cfg: JarConfig) -> str:
    """The `java` to run: the configured one, else $JAVA_HOME's, else the one on PATH."""
    if cfg.java is not None:
        if os.sep in cfg.java:
            path = _resolve(ctx, cfg.java)
            found = path if os.access(path, os.X_OK) else None
        else:
            found = shutil.which(cfg.java)
        if found is None:
            raise TaskFailed(f"java was not found at {cfg.java}", retryable=False)
        return found
    java_home = cfg.env.get("JAVA_HOME") or os.environ.get("JAVA_HOME")
    if java_home:
        path = os.path.join(java_home, "bin", "java")
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("java")
    if found is None:
        raise TaskFailed(
            "java was not found: install a JDK, set JAVA_HOME, or give the task's `java` path",
            retryable=False,
        )
    return found


def classpath(ctx: TaskContext, entries: list[str]) -> str:
    """The entries joined for `-cp`, globs expanded; a missing entry is an error rather
    than the ClassNotFoundError java would give later."""
    paths: list[str] = []
    for entry in entries:
        path = _resolve(ctx, entry)
        if any(c in entry for c in "*?["):
            matches = sorted(glob.glob(path))
            if not matches:
                raise TaskFailed(f"the classpath entry {entry} matches no file", retryable=False)
            paths += matches
        elif os.path.exists(path):
            paths.append(path)
        else:
            raise TaskFailed(f"the classpath entry {path} does not exist", retryable=False)
    return os.pathsep.join(paths)


def _resolve(ctx: TaskContext, path: str) -> str:
    return os.path.normpath(os.path.join(ctx.flow_dir, os.path.expanduser(path)))


def jar_task(
    *,
    key: str,
    jar: str | None = None,
    main_class: str | None = None,
    classpath: Any = (),
    args: Any = (),
    java: str | None = None,
    jvm_args: Any = (),
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    wait_for: Any = (),
    **options: Unpack[decorators.TaskOptions],
) -> Any:
    """A Java task inside a `@flow`: `jar_task(key="etl", jar="etl.jar", args=["--day", day])`,
    or `main_class="org.example.Main"` with a `classpath` list (paths or globs).

    Paths are relative to the flow file's folder; `args` and `env` may hold task results and
    flow params. Other options as for `@task` (retries, timeout, ...).
    """
    config = {
        "jar": jar,
        "main_class": main_class,
        "classpath": classpath,
        "args": args,
        "java": java,
        "jvm_args": jvm_args,
        "env": env,
        "cwd": cwd,
    }
    return decorators.typed_task("jar", key, config, wait_for=wait_for, **options)


TYPE = TaskType("jar", JarConfig, execute, icon="jar")
