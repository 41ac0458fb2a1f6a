"""`spark` tasks: `spark-submit` an application (a .py file or a .jar) and wait for its driver.

`spark-submit` is `$SPARK_HOME/bin/spark-submit` when SPARK_HOME is set (in the task's
`env` or the worker's), else the one inside the installed PySpark (`baton[spark]`), found
without importing it. Paths (the application, `py_files`, `jars`) are relative to the flow
file's folder; one with a scheme (`hdfs://...`, `s3a://...`, `local:/...`) is passed as it
is. The driver runs in its own process group with its output in the attempt's log; a
timeout or cancel kills the group. Exit code 0 succeeds and the result is the JSON the
application wrote to `$BATON_RESULT_FILE` (null if it wrote none); any other code fails the
task, with the driver's last lines in the error.

With a local master (`local`, `local[N]`, `local[*]`, `local-cluster[...]`) the driver binds
to 127.0.0.1 (`spark.driver.host`, `spark.driver.bindAddress`, env `SPARK_LOCAL_IP`) unless
the task sets them: a laptop's or a CI machine's Spark then listens on no outside network.
The driver's and the Python workers' interpreter is baton's own unless PYSPARK_PYTHON is set.
In `cluster` deploy mode the driver runs on the cluster: the task's `env` and
`$BATON_RESULT_FILE` do not reach it (use `conf`, e.g. `spark.yarn.appMasterEnv.*`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from typing import Annotated, Any, Literal, Unpack

import msgspec

from baton.model import decorators
from baton.model.context import TaskContext
from baton.tasks import process, script
from baton.tasks.base import Code, TaskConfig, TaskFailed, TaskType

Path = Annotated[str, msgspec.Meta(min_length=1)]
ClassName = Annotated[str, msgspec.Meta(pattern=r"^[\w$]+(\.[\w$]+)*$")]
ConfKey = Annotated[str, msgspec.Meta(pattern=r"^[^\s=]+$")]
Arg = str | int | float  # a number in YAML is passed on as its text
ConfValue = str | int | float | bool  # true/false become Spark's `true`/`false`

LAST_LINES = 20  # of the driver's output, in a failed task's error
_SCANNED = 200  # lines kept to find them among Spark's own INFO logging
# Spark's default console layout (`yy/MM/dd HH:mm:ss LEVEL logger: message`): lines at these
# levels are its routine logging, left out of the error so that the driver's own end shows.
_ROUTINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (INFO|DEBUG|TRACE) ")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # hdfs://, s3a://, local:/ (not C:)
_LOCAL_MASTER = re.compile(r"^local(\[[^\]]*\])?$|^local-cluster\[")
LOOPBACK = "127.0.0.1"


class SparkConfig(TaskConfig, frozen=True):
    application: Path
    main_class: ClassName | None = None
    args: list[Arg] = []
    conf: dict[ConfKey, ConfValue] = {}
    master: Annotated[str, msgspec.Meta(min_length=1)] = "local[*]"
    deploy_mode: Literal["client", "cluster"] | None = None
    py_files: list[Path] = []
    jars: list[Path] = []
    env: dict[str, str] = {}

    def __post_init__(self) -> None:
        # msgspec turns these ValueErrors into validation errors, so YAML gets a clear message.
        kind = application_kind(self.application)
        if kind is None:
            raise ValueError("`application` must be a .py file or a .jar")
        if kind == "py" and self.main_class is not None:
            raise ValueError("`main_class` goes with a .jar application, not a .py one")
        if kind == "jar" and self.py_files:
            raise ValueError("`py_files` go with a .py application, not a .jar")
        if self.deploy_mode == "cluster" and is_local(self.master):
            raise ValueError(f"`deploy_mode` cluster needs a cluster `master`, not {self.master}")


def application_kind(application: str) -> Literal["py", "jar"] | None:
    """What an application is by its name's suffix: Python, a jar, or neither."""
    name = application.lower()
    if name.endswith(".py"):
        return "py"
    if name.endswith(".jar"):
        return "jar"
    return None


def is_local(master: str) -> bool:
    """Whether the master runs everything in the driver's machine (`local[2]`, ...)."""
    return _LOCAL_MASTER.match(master) is not None


def execute(ctx: TaskContext, cfg: SparkConfig) -> Any:
    submit, home = spark_submit(cfg)
    result_path = script.attempt_result_path(ctx)
    if os.path.exists(result_path):  # left by an earlier try: not this run's result
        os.remove(result_path)
    env = {**submit_env(cfg, home), **script.item_env(ctx), "BATON_RESULT_FILE": result_path}
    argv = [*submit, *submit_args(ctx, cfg)]
    try:
        code, tail = process.run_tail(ctx, argv, env=env, lines=_SCANNED)
        if code != 0:
            raise TaskFailed(failure(code, tail))
        return script.read_result(result_path, "the application")
    finally:
        if os.path.exists(result_path):
            os.remove(result_path)


def spark_submit(cfg: SparkConfig) -> tuple[list[str], str]:
    """The command that runs `spark-submit` and the SPARK_HOME it belongs to."""
    home = cfg.env.get("SPARK_HOME") or os.environ.get("SPARK_HOME")
    if not home:
        # find_spec locates the package without importing it (and the JVM gateway with it).
        spec = importlib.util.find_spec("pyspark")
        if spec is None or not spec.submodule_search_locations:
            raise TaskFailed(
                "spark-submit was not found: pip install 'baton[spark]', or set SPARK_HOME",
                retryable=False,
            )
        home = spec.submodule_search_locations[0]
    path = os.path.join(home, "bin", "spark-submit")
    if not os.path.isfile(path):
        raise TaskFailed(f"spark-submit was not found in SPARK_HOME {home}", retryable=False)
    # An installer that dropped the execute bit leaves a script bash still runs.
    return ([path] if os.access(path, os.X_OK) else ["bash", path]), home


def submit_args(ctx: TaskContext, cfg: SparkConfig) -> list[str]:
    """spark-submit's arguments: options, the application, then its own arguments."""
    argv = ["--master", cfg.master]
    if cfg.deploy_mode is not None:
        argv += ["--deploy-mode", cfg.deploy_mode]
    if cfg.main_class is not None:
        argv += ["--class", cfg.main_class]
    if cfg.py_files:
        argv += ["--py-files", ",".join(_located(ctx, p, "py_files entry") for p in cfg.py_files)]
    if cfg.jars:
        argv += ["--jars", ",".join(_located(ctx, p, "jars entry") for p in cfg.jars)]
    for key, value in conf(cfg).items():
        argv += ["--conf", f"{key}={value}"]
    argv.append(_located(ctx, cfg.application, "application"))
    argv += [str(a) for a in cfg.args]
    return argv


def conf(cfg: SparkConfig) -> dict[str, str]:
    """The `--conf` settings: the task's, after the loopback defaults of a local master."""
    settings: dict[str, str] = {}
    if is_local(cfg.master):
        settings = {"spark.driver.host": LOOPBACK, "spark.driver.bindAddress": LOOPBACK}
    for key, value in cfg.conf.items():
        settings[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return settings


def submit_env(cfg: SparkConfig, home: str) -> dict[str, str]:
    """The driver's environment on top of the worker's: SPARK_HOME (so spark-submit does not
    look for it with whatever `python3` is on PATH), baton's Python for PySpark, the
    loopback address for a local master, then the task's `env`."""
    env = {"SPARK_HOME": home}
    if "PYSPARK_PYTHON" not in os.environ:
        env["PYSPARK_PYTHON"] = sys.executable
    if is_local(cfg.master) and "SPARK_LOCAL_IP" not in os.environ:
        env["SPARK_LOCAL_IP"] = LOOPBACK
    return {**env, **cfg.env}


def failure(code: int, lines: list[str]) -> str:
    """A failed driver's error: its exit code and its last lines, less Spark's INFO logging
    (all of them if that leaves nothing)."""
    own = [line for line in lines if not _ROUTINE.match(line)]
    tail = (own or lines)[-LAST_LINES:]
    message = f"spark-submit exited with code {code}"
    if not tail:
        return message
    return message + "; the driver's last lines:\n" + "\n".join(tail)


def _located(ctx: TaskContext, path: str, what: str) -> str:
    """A local path from the flow file's folder, which must exist; a URL as it is."""
    if _SCHEME.match(path):
        return path
    found = script.resolve_path(ctx, path)
    if not os.path.exists(found):
        raise TaskFailed(f"the {what} {found} does not exist", retryable=False)
    return found


def spark_task(
    application: str,
    *,
    key: str,
    main_class: str | None = None,
    args: Any = (),
    conf: dict[str, Any] | None = None,
    master: str | None = None,
    deploy_mode: str | None = None,
    py_files: Any = (),
    jars: Any = (),
    env: dict[str, str] | None = None,
    wait_for: Any = (),
    **options: Unpack[decorators.TaskOptions],
) -> Any:
    """A Spark task inside a `@flow`: `spark_task("jobs/count.py", key="count", args=[day],
    conf={"spark.executor.memory": "2g"})`, or a .jar with `main_class`.

    `application`, `py_files` and `jars` are relative to the flow file's folder; `master`
    defaults to `local[*]`. `args`, `conf` and `env` may hold task results and flow params.
    The result is the JSON the application writes to `$BATON_RESULT_FILE`. Other options as
    for `@task` (retries, timeout, ...).
    """
    config = {
        "application": application,
        "main_class": main_class,
        "args": args,
        "conf": conf,
        "master": master,
        "deploy_mode": deploy_mode,
        "py_files": py_files,
        "jars": jars,
        "env": env,
    }
    return decorators.typed_task("spark", key, config, wait_for=wait_for, **options)


def code(ctx: TaskContext, config: dict[str, Any]) -> Code:
    """A local application's bytes are its code, for the key of cached results."""
    application = config.get("application")
    if not isinstance(application, str) or _SCHEME.match(application):
        return None
    return ("script", script.resolve_path(ctx, application))


TYPE = TaskType(
    "spark",
    SparkConfig,
    execute,
    icon="spark",
    code=code,
    requires=("pyspark",),
    extra="spark",
)
