"""`container` tasks: run an image on a Docker engine (the Docker SDK, `baton[docker]`).

`command` replaces the image's entrypoint and `args` its default arguments (Kubernetes'
names); a `command` string is split as a shell would, without a shell. The container's
stdout and stderr stream into the attempt's log as it runs. Exit code 0 succeeds,
`skip_exit_code` (99) skips, any other fails the task with the code and the last lines.
The result is the JSON the container wrote to `/baton/result.json` (`$BATON_RESULT_FILE`,
a folder of the worker's mounted there), else the last line it printed to stdout, as for a
shell task.

A timeout or cancel stops the container (SIGTERM, KILL_GRACE, then SIGKILL); it is removed
whatever the end. The task's `resources` limit the container's cpu and memory, and its gpus
are the devices the worker gave the attempt. For what happens to a container whose worker
dies, see `baton.tasks.docker_engine`. `volumes` host paths are on the worker's machine,
relative to the flow file's folder: a remote DOCKER_HOST does not see them.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shlex
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, Unpack

import msgspec

from baton.errors import Skip
from baton.model import decorators
from baton.model.context import TaskContext
from baton.tasks import docker_engine, process, script
from baton.tasks.base import TaskConfig, TaskFailed, TaskType

STDOUT = 1  # the engine's number of a container's stdout in its output stream
LAST_LINES = 20  # of the container's output, in a failed task's error
RESULT_DIR = "/baton"  # where the container sees its result folder
RESULT_FILE = f"{RESULT_DIR}/result.json"
Text = Annotated[str, msgspec.Meta(min_length=1)]
ContainerPath = Annotated[str, msgspec.Meta(pattern=r"^/")]
Arg = str | int | float  # a number in YAML is passed on as its text


class ContainerConfig(TaskConfig, frozen=True):
    image: Text
    command: Text | list[Arg] | None = None
    args: list[Arg] = []
    env: dict[str, str] = {}
    workdir: ContainerPath | None = None
    volumes: list[Text] = []
    network: Text | None = None
    pull: Literal["never", "if_missing", "always"] = "if_missing"
    user: Text | None = None
    skip_exit_code: int | None = 99
    backend: Literal["docker"] = "docker"

    def __post_init__(self) -> None:
        # msgspec turns these ValueErrors into validation errors, so YAML gets a clear message.
        for volume in self.volumes:
            volume_parts(volume)


def volume_parts(volume: str) -> tuple[str, str, str]:
    """`host:container[:ro|rw]` as (host, container, mode); ValueError naming what is wrong."""
    parts = volume.split(":")
    if len(parts) == 2:
        parts.append("rw")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ValueError(f"`volumes` entry {volume!r} is not host:container[:ro]")
    host, inside, mode = parts
    if not inside.startswith("/"):
        raise ValueError(f"`volumes` entry {volume!r}: the container path must be absolute")
    if mode not in ("ro", "rw"):
        raise ValueError(f"`volumes` entry {volume!r}: the mode must be ro or rw, not {mode!r}")
    return host, inside, mode


def execute(ctx: TaskContext, cfg: ContainerConfig) -> Any:
    try:
        api = docker_engine.client()
        # Waiting for the container and following its output may take as long as it runs.
        slow = docker_engine.client(timeout=None)
    except docker_engine.EngineUnavailable as exc:
        raise TaskFailed(str(exc)) from None
    results = os.path.join(os.path.abspath(ctx.work_dir), "container-results", ctx.attempt_id)
    try:
        ensure_image(api, cfg.image, cfg.pull)
        shutil.rmtree(results, ignore_errors=True)  # an earlier try's is not this one's
        os.makedirs(results)
        os.chmod(results, 0o777)  # writable by whatever user the container runs as
        code, output = _run(ctx, cfg, api, slow, results)
        if cfg.skip_exit_code is not None and code == cfg.skip_exit_code:
            raise Skip(f"the container exited with code {code}")
        if code != 0:
            raise TaskFailed(failure(code, output.both.lines()))
        return _result(os.path.join(results, "result.json"), output.stdout.lines())
    finally:
        with contextlib.suppress(Exception):  # gone already, or the engine went away
            docker_engine.remove(api, docker_engine.container_name(ctx.attempt_id))
        docker_engine.forget(ctx.work_dir, ctx.attempt_id)
        shutil.rmtree(results, ignore_errors=True)
        api.close()
        slow.close()


def ensure_image(api: Any, image: str, pull: str) -> None:
    """Make sure the engine has `image`, pulling it as `pull` says."""
    if pull != "always":
        try:
            api.inspect_image(image)
            return
        except Exception as exc:
            if not docker_engine.not_found(exc):
                raise TaskFailed(f"could not inspect the image {image}: {exc}") from None
        if pull == "never":
            raise TaskFailed(
                f"the image {image} is not on the Docker engine and `pull` is never: build or "
                "load it there first, or set `pull: if_missing`",
                retryable=False,
            )
    try:
        api.pull(image)
    except Exception as exc:
        raise TaskFailed(f"could not pull the image {image}: {exc}") from None


class Tail:
    """The last non-empty lines of a stream of bytes, fed in pieces (not cut at lines)."""

    def __init__(self, lines: int) -> None:
        self._max = lines
        self._lines: collections.deque[bytes] = collections.deque(maxlen=lines)
        self._partial = b""

    def feed(self, data: bytes) -> None:
        *complete, self._partial = (self._partial + data).split(b"\n")
        self._lines.extend(line for line in complete if line.strip())

    def lines(self) -> list[str]:
        found = [*self._lines, *([self._partial] if self._partial.strip() else [])]
        return [line.decode(errors="replace").rstrip() for line in found][-self._max :]


class Output:
    """What the container printed, as the log got it: the last lines of its stdout (for
    the result) and of both streams in the order they came (for a failure's error)."""

    def __init__(self) -> None:
        self.stdout = Tail(1)
        self.both = Tail(LAST_LINES)


def _run(
    ctx: TaskContext, cfg: ContainerConfig, api: Any, slow: Any, results: str
) -> tuple[int, Output]:
    """Create, start and wait for the attempt's container, its output streamed to the log;
    its exit code and output, or the interrupt that stopped it."""
    name = docker_engine.container_name(ctx.attempt_id)
    ctx.spawning()  # the watchdog runs from now on, should this worker die
    docker_engine.record(ctx.work_dir, ctx.attempt_id, name)
    docker_engine.remove(api, name)  # an earlier try's, left by a worker that died
    env = {**ctx.env(), **script.item_env(ctx), "BATON_RESULT_FILE": RESULT_FILE, **cfg.env}
    output = Output()
    ended: list[int] = []
    stream = None
    try:
        api.create_container(
            cfg.image,
            name=name,
            entrypoint=_argv(cfg.command),
            command=[str(a) for a in cfg.args] or None,
            environment=env,
            working_dir=cfg.workdir,
            user=cfg.user,
            labels=docker_engine.labels(ctx.attempt_id, ctx.run_id),
            host_config=api.create_host_config(
                binds=[*_binds(ctx, cfg), f"{results}:{RESULT_DIR}:rw"],
                network_mode=cfg.network,
                # The engine removes it as it ends, as `docker run --rm` does (which saves a
                # tenth of a second on every task): its output is kept here as it comes.
                auto_remove=True,
                **limits(ctx),
            ),
        )
        # Both before it starts, as `docker run` does: a container that ends at once is
        # removed at once, and neither its output nor its exit code may be missed.
        stream = docker_engine.attach(slow, name)
        waiter = threading.Thread(target=_wait, args=(slow, name, ended), daemon=True)
        waiter.start()
        api.start(name)
    except Exception as exc:
        if stream is not None:
            stream[1]()
        raise TaskFailed(f"could not start a container of {cfg.image}: {exc}") from None
    reader = threading.Thread(target=_follow, args=(*stream, ctx.log_file(), output), daemon=True)
    reader.start()

    def stop(_: object) -> None:
        # Not in the caller's thread: stopping takes up to the grace, and the worker loop
        # that interrupts must not wait for it.
        threading.Thread(target=_stop, args=(api, name), daemon=True).start()

    unregister = ctx.on_interrupt(stop)
    ctx.children += 1
    try:
        waiter.join()
    finally:
        ctx.children -= 1
        unregister()
    reader.join(timeout=process.KILL_GRACE)
    if ctx.interrupted is not None:
        raise ctx.interrupted(f"stopped: {ctx.interrupted.__name__}")
    if not ended:
        raise TaskFailed(f"lost the container {name}: it was removed before it ended")
    return ended[0], output


def _wait(api: Any, name: str, ended: list[int]) -> None:
    """Wait for the container to end and be removed; its exit code goes in `ended`."""
    with contextlib.suppress(Exception):  # removed by someone else: no exit code
        ended.append(int(api.wait(name, condition="removed")["StatusCode"]))


def _follow(
    frames: Iterator[tuple[int, bytes]], close: Callable[[], None], log: Any, output: Output
) -> None:
    """Copy the container's output to the attempt's log until it ends."""
    try:
        for kind, data in frames:
            log.write(data)
            log.flush()
            output.both.feed(data)
            if kind == STDOUT:
                output.stdout.feed(data)
    except Exception:  # the connection broke: the exit code tells how it ended
        pass
    finally:
        close()


def _stop(api: Any, name: str) -> None:
    with contextlib.suppress(Exception):  # it ended, or was removed, meanwhile
        api.stop(name, timeout=int(process.KILL_GRACE))


def _argv(command: str | list[Arg] | None) -> list[str] | None:
    if command is None:
        return None
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _binds(ctx: TaskContext, cfg: ContainerConfig) -> list[str]:
    binds = []
    for volume in cfg.volumes:
        host, inside, mode = volume_parts(volume)
        binds.append(f"{script.resolve_path(ctx, host)}:{inside}:{mode}")
    return binds


def limits(ctx: TaskContext) -> dict[str, Any]:
    """The container's cpu and memory limits and its gpus, from the task's `resources`."""
    need = ctx.resources
    if need is None:
        return {}
    found: dict[str, Any] = {}
    if need.cpu:
        found["nano_cpus"] = round(need.cpu * 1e9)
    if need.memory:
        found["mem_limit"] = need.memory
    if need.gpu:
        # The devices the worker handed this attempt; without a list, as many as it needs.
        gpus: dict[str, Any] = {"capabilities": [["gpu"]]}
        if ctx.gpu_ids:
            gpus["device_ids"] = list(ctx.gpu_ids)
        else:
            gpus["count"] = need.gpu
        found["device_requests"] = [gpus]
    return found


def failure(code: int, lines: list[str]) -> str:
    message = f"the container exited with code {code}"
    return message + ("; its last lines:\n" + "\n".join(lines) if lines else "")


def _result(path: str, stdout: list[str]) -> Any:
    """The JSON of /baton/result.json when the container wrote one, else its last line."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return stdout[-1].strip() if stdout else None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise TaskFailed(f"the container's {RESULT_FILE} is not JSON: {exc}") from None


def container_task(
    image: str,
    *,
    key: str,
    command: str | list[Any] | None = None,
    args: Any = (),
    env: dict[str, str] | None = None,
    workdir: str | None = None,
    volumes: Any = (),
    network: str | None = None,
    pull: Literal["never", "if_missing", "always"] | None = None,
    user: str | None = None,
    skip_exit_code: int | None = 99,
    wait_for: Any = (),
    **options: Unpack[decorators.TaskOptions],
) -> Any:
    """A container task inside a `@flow`: `container_task("alpine:3", key="hello",
    command=["echo", "hi"])`.

    `command` replaces the image's entrypoint, `args` its default arguments; `volumes` are
    `host:container[:ro]` with the host path relative to the flow file's folder; `pull` is
    `never`, `if_missing` (default) or `always`. `command`, `args` and `env` may hold task
    results and flow params. The result is the JSON written to `/baton/result.json`, else
    the last line printed. `resources` limit the container. Other options as for `@task`.
    """
    config = {
        "image": image,
        "command": command,
        "args": args,
        "env": env,
        "workdir": workdir,
        "volumes": volumes,
        "network": network,
        "pull": pull,
        "user": user,
        "skip_exit_code": skip_exit_code,
    }
    return decorators.typed_task(
        "container", key, config, wait_for=wait_for, keep_none=("skip_exit_code",), **options
    )


TYPE = TaskType(
    "container",
    ContainerConfig,
    execute,
    icon="container",
    requires=("docker",),
    extra="docker",
)
