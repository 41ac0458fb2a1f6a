"""The Ray backend's pure parts, and what compute backends share: resources as Ray options,
the load-time check of a Ray address, the re-check setting, a stream whose write returns
None (Ray's), the result read from the remote call."""

from __future__ import annotations

import io
import socket
from typing import Any, cast

import pytest

from baton.errors import DefinitionError, Skip
from baton.model.resources import Resources
from baton.model.states import ErrorKind
from baton.tasks import compute, ray_compute, remote_call
from baton.tasks.base import TaskFailed


def test_declared_resources_only_become_ray_options():
    assert ray_compute._options(None) == {}
    assert ray_compute._options(Resources(cpu=2)) == {"num_cpus": 2.0}
    assert ray_compute._options(Resources(cpu=0.5, memory=1024, gpu=1)) == {
        "num_cpus": 0.5,
        "num_gpus": 1,
        "memory": 1024,
    }


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_ray_address_is_checked_at_load_and_auto_is_left_to_the_worker():
    compute.check({"compute": {"backend": "ray", "address": "auto"}})  # no connection tried
    closed = f"ray://127.0.0.1:{_closed_port()}"
    with pytest.raises(DefinitionError, match=f"'compute.address' {closed}: cannot connect"):
        compute.check({"compute": {"backend": "ray", "address": closed}})
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        compute.check({"compute": {"backend": "ray", "address": f"ray://127.0.0.1:{port}"}})


def test_the_recheck_setting_is_per_backend_and_checked(monkeypatch):
    assert compute.recheck("ray") == compute.RECHECK
    monkeypatch.setenv("BATON_RAY_RECHECK", "2.5")
    assert compute.recheck("ray") == 2.5
    assert compute.recheck("dask") == compute.RECHECK
    for bad in ("soon", "0", "inf", "nan"):
        monkeypatch.setenv("BATON_RAY_RECHECK", bad)
        with pytest.raises(TaskFailed, match="BATON_RAY_RECHECK must be a number of seconds"):
            compute.recheck("ray")


class _NoneWriter(io.StringIO):
    """A stream whose write returns None, as Ray's workers' stdout does."""

    def write(self, s):  # type: ignore[override]
        super().write(s)


def test_a_fallback_stream_whose_write_returns_none_counts_what_it_wrote():
    fallback = _NoneWriter()
    router = remote_call._Router(fallback, {})
    assert router.write("hello") == 5
    assert fallback.getvalue() == "hello"


def test_the_outcome_of_a_remote_call(capsys):
    assert compute.outcome({"ok": True, "value": 3, "log": "said"}, "Ray", "baton-a") == 3
    assert capsys.readouterr().out == "said\nRay key baton-a succeeded\n"
    failed = {
        "ok": False,
        "error": "ValueError: bad",
        "types": ["builtins.ValueError", "builtins.Exception"],
        "traceback": "tb",
        "log": "",
    }
    with pytest.raises(TaskFailed, match=r"ValueError: bad \(on Ray, key baton-a\)") as err:
        compute.outcome(failed, "Ray", "baton-a")
    assert err.value.error_types == ("builtins.ValueError", "builtins.Exception")
    skipped = failed | {"error": "Skip: not today", "types": ["baton.errors.Skip"]}
    with pytest.raises(Skip, match="not today"):
        compute.outcome(skipped, "Ray", "baton-a")


def test_an_attempt_resumed_where_its_ray_task_was_not_submitted_is_lost():
    """Ray keeps a result for the process that submitted the task only: resumed in another
    process (no connection, no ObjectRef here), the attempt fails `lost` and is retried."""
    state = {"key": "baton-x", "address": "ray://head:10001", "since": 0.0}
    with pytest.raises(TaskFailed, match="the result of Ray task baton-x at ray://head") as err:
        ray_compute.resume(cast(Any, None), state)
    assert err.value.error_kind == ErrorKind.LOST


def test_an_address_from_the_environment_is_checked_when_the_task_runs(monkeypatch):
    ray = {"backend": "ray"}
    monkeypatch.delenv("BATON_RAY_ADDRESS", raising=False)
    with pytest.raises(TaskFailed, match=r"set compute\.address .* or BATON_RAY_ADDRESS") as err:
        compute.address_of(ray)
    assert not err.value.retryable
    monkeypatch.setenv("BATON_RAY_ADDRESS", "tcp://head:8786")
    with pytest.raises(TaskFailed, match="BATON_RAY_ADDRESS must be a ray address") as err:
        compute.address_of(ray)
    assert not err.value.retryable
    for good in ("auto", "ray://head:10001", "head:6379"):
        monkeypatch.setenv("BATON_RAY_ADDRESS", good)
        assert compute.address_of(ray) == good
    assert compute.address_of(ray | {"address": "ray://other:1"}) == "ray://other:1"
