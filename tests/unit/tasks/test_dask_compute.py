"""The Dask backend's pure parts: resources, and the remote call (run here, in-process)."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from baton.model.resources import Resources
from baton.tasks import dask_compute, remote_call


def test_declared_resources_only_become_dask_worker_resources():
    assert dask_compute._resources(None) == {}
    assert dask_compute._resources(Resources(cpu=2)) == {"CPU": 2.0}
    assert dask_compute._resources(Resources(cpu=0.5, memory=1024, gpu=1)) == {
        "CPU": 0.5,
        "MEMORY": 1024.0,
        "GPU": 1.0,
    }


@pytest.fixture(autouse=True)
def _routing_undone():
    """The remote call routes this process's output as it would a Dask worker's: undone."""
    root = logging.getLogger()
    saved = sys.stdout, sys.stderr, list(root.handlers), root.level
    yield
    sys.stdout, sys.stderr = saved[0], saved[1]
    root.handlers[:] = saved[2]
    root.setLevel(saved[3])


def _chatty(x):
    import logging

    print(f"printed {x}")
    logging.getLogger("chatty").warning("logged %s", x)
    return x + 1


def _broken():
    raise KeyError("nope")


def test_a_call_returns_its_output_per_thread():
    ref = f"{__name__}:_chatty"
    results: dict[int, dict] = {}

    def one(i):
        results[i] = remote_call.call(ref, [i], {})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, got in results.items():
        assert got["ok"] and got["value"] == i + 1
        assert f"printed {i}\n" in got["log"] and f"WARNING chatty: logged {i}" in got["log"]
        assert all(f"printed {j}" not in got["log"] for j in results if j != i)


def test_a_failure_comes_back_as_data():
    got = remote_call.call(f"{__name__}:_broken", [], {})
    assert got["ok"] is False
    assert got["error"] == "KeyError: 'nope'"
    assert "builtins.KeyError" in got["types"] and "builtins.LookupError" in got["types"]
    assert "raise KeyError" in got["traceback"]
