"""`http` tasks: one call to an API with httpx; the response body is the task's result.

A status in `expect` (any 2xx by default) succeeds. Otherwise the task fails, retryably
(through the common retry policy) for 5xx, 429 or the statuses in `retryable_statuses`, at
once for anything else (a 4xx will not change by asking again). Connection errors and
timeouts are retryable. The whole attempt is bounded by the task's `timeout`; a timeout or a
cancel aborts the request in flight. Credentials come from secret references
(`auth: {bearer: "${secret:NAME}"}`) or the environment at run time and are never logged.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import socket
import threading
import time
from typing import Annotated, Any, Literal

import httpx
import msgspec

from baton.model import decorators
from baton.model.context import TaskContext
from baton.model.spec import Spec
from baton.tasks.base import TaskConfig, TaskFailed, TaskType

Scalar = str | int | float | bool
Status = Annotated[int, msgspec.Meta(ge=100, le=599)]
EnvVar = Annotated[str, msgspec.Meta(min_length=1)]
EXCERPT = 500  # characters of a failed response's body quoted in the error


class Auth(Spec, frozen=True):
    """Where the credentials come from (exactly one source).

    `bearer` (a token) and `basic` (user, password) are meant for secret references,
    `bearer: "${secret:API_TOKEN}"`: the flow keeps the reference, the worker puts the value
    in when the attempt runs and masks it in the log. `bearer_env` and `basic_env` name
    environment variables read where the task runs.
    """

    bearer: str | None = None
    basic: tuple[str, str] | None = None
    bearer_env: EnvVar | None = None
    basic_env: tuple[EnvVar, EnvVar] | None = None

    def __post_init__(self) -> None:
        given = [f for f in self.__struct_fields__ if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                f"auth needs exactly one of {', '.join(self.__struct_fields__)}"
                + (f" (got {', '.join(given)})" if given else "")
            )


class HttpConfig(TaskConfig, frozen=True):
    url: str
    method: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]+$")] = "GET"
    headers: dict[str, str] = {}
    query: dict[str, Scalar | list[Scalar]] = {}
    json: Any = None
    body: str | None = None
    auth: Auth | None = None
    expect: Annotated[tuple[Status, ...], msgspec.Meta(min_length=1)] | None = None
    retryable_statuses: tuple[Status, ...] | None = None
    response: Literal["json", "text", "none"] = "json"

    def __post_init__(self) -> None:
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https:// (got {self.url!r})")
        if self.json is not None and self.body is not None:
            raise ValueError("give json or body, not both")


def execute(ctx: TaskContext, cfg: HttpConfig) -> Any:
    method = cfg.method.upper()
    try:
        url = httpx.URL(cfg.url).copy_merge_params(cfg.query)
    except httpx.InvalidURL as exc:
        raise TaskFailed(f"invalid url {cfg.url!r}: {exc}", retryable=False) from None
    shown = shown_url(url)
    headers = dict(cfg.headers)
    if cfg.auth is not None:
        headers["Authorization"] = authorization(cfg.auth)
    # httpx's own INFO line repeats the one below, without the time taken and with any
    # password in the URL; a level set on purpose by the user is kept.
    httpx_logger = logging.getLogger("httpx")
    if httpx_logger.level == logging.NOTSET:
        httpx_logger.setLevel(logging.WARNING)
    aborter = Aborter()
    unhook = ctx.on_interrupt(lambda _kind: aborter.abort())
    # The task's timeout bounds the whole attempt; as an httpx timeout too, a request the
    # abort could not reach (still connecting) gives up by then anyway.
    client = httpx.Client(timeout=ctx.timeout)
    started = time.monotonic()
    try:
        request = client.build_request(
            method,
            url,
            headers=headers,
            json=cfg.json,
            content=cfg.body,
            extensions={"trace": aborter.trace},
        )
        response = client.send(request)
    except httpx.HTTPError as exc:
        if ctx.interrupted is not None:
            raise ctx.interrupted() from None
        print(f"{method} {shown} failed after {time.monotonic() - started:.3f}s")
        raise TaskFailed(
            f"{method} {shown}: {type(exc).__name__}: {exc}",
            error_types=error_types(type(exc)),
            retryable=isinstance(exc, httpx.TransportError),
        ) from None
    finally:
        unhook()
        client.close()
    status = response.status_code
    elapsed = response.elapsed.total_seconds()
    print(f"{method} {shown} -> {status} {response.reason_phrase} in {elapsed:.3f}s")
    if not accepted(cfg, status):
        raise TaskFailed(
            f"{method} {shown} answered {status} {response.reason_phrase}: "
            f"{response.text[:EXCERPT]}",
            error_types=error_types(httpx.HTTPStatusError),
            retryable=retryable(cfg, status),
        )
    return result(response, cfg.response)


def authorization(auth: Auth) -> str:
    """The Authorization header's value; a variable that is not set fails for good."""
    if auth.bearer is not None:
        return f"Bearer {auth.bearer}"
    if auth.bearer_env is not None:
        return f"Bearer {_env(auth.bearer_env, 'auth.bearer_env')}"
    if auth.basic is not None:
        user, password = auth.basic
    else:
        assert auth.basic_env is not None
        user, password = (_env(name, "auth.basic_env") for name in auth.basic_env)
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _env(name: str, field: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise TaskFailed(
            f"the environment variable {name} ({field}) is not set; set it where the worker runs",
            retryable=False,
        )
    return value


def accepted(cfg: HttpConfig, status: int) -> bool:
    return status in cfg.expect if cfg.expect is not None else 200 <= status < 300


def retryable(cfg: HttpConfig, status: int) -> bool:
    if cfg.retryable_statuses is not None:
        return status in cfg.retryable_statuses
    return status >= 500 or status == 429


def result(response: httpx.Response, mode: str) -> Any:
    if mode == "none":
        return None
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if mode == "text" or not (media_type == "application/json" or media_type.endswith("+json")):
        return response.text
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise TaskFailed(
            f"the response is not valid JSON though its content type says so ({exc}): "
            f"{response.text[:EXCERPT]}"
        ) from None


def shown_url(url: httpx.URL) -> str:
    """The URL as logged: a password in it is masked."""
    if url.password:
        url = url.copy_with(username=url.username, password="***")
    return str(url)


def error_types(cls: type[BaseException]) -> tuple[str, ...]:
    """Qualified class names, as `retry_on` matches them (`retry_on: [ReadTimeout]`)."""
    return tuple(f"{t.__module__}.{t.__qualname__}" for t in cls.__mro__)


class Aborter:
    """Shuts down the request's sockets when the attempt is interrupted.

    Closing the client would not do: closing a socket does not wake a thread blocked
    reading it, shutting it down does. httpcore's `trace` extension hands over each
    socket as its connection opens.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._aborted = False

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        sock = info["return_value"].get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            aborted = self._aborted
        if aborted:  # interrupted while connecting
            _shutdown(sock)

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def http_task(
    url: str,
    *,
    key: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    query: dict[str, Any] | None = None,
    json: Any = None,
    body: str | None = None,
    auth: dict[str, Any] | None = None,
    expect: list[int] | None = None,
    retryable_statuses: list[int] | None = None,
    response: str = "json",
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """An HTTP call inside a `@flow`: `http_task("https://api.example.com/x", key="x")`.

    Any value may be a task result or a flow param (`url=f"..."` cannot: build strings in
    a python task). `auth` is `{"bearer": "${secret:NAME}"}`, `{"basic": [user, password]}`
    (secret references too), `{"bearer_env": "VAR"}` or `{"basic_env": ["USER", "PASS"]}`;
    other options as for `@task` (retries, timeout, ...). The result is the parsed body.
    """
    config = {
        "url": url,
        "method": method,
        "headers": headers,
        "query": query,
        "json": json,
        "body": body,
        "auth": auth,
        "expect": expect,
        "retryable_statuses": retryable_statuses,
        "response": response,
    }
    return decorators.typed_task("http", key, config, wait_for=wait_for, **options)


TYPE = TaskType("http", HttpConfig, execute, icon="http")
