"""A worker's capacity (`execution.capacity`): the machine's, and what running tasks hold."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from baton.execution import capacity
from baton.execution.capacity import Ledger
from baton.model.resources import Resources

GiB = 2**30


def test_the_ledger_hands_out_distinct_gpus_and_takes_them_back() -> None:
    ledger = Ledger(Resources(4, 8 * GiB, 3))
    ledger.take("a", Resources(1, GiB, 2))
    ledger.take("b", Resources(0.5, 0, 1))
    ledger.take("c", Resources(0.25))
    assert ledger.gpu_ids("a") == ("0", "1") and ledger.gpu_ids("b") == ("2",)
    assert ledger.gpu_ids("c") == () and ledger.gpu_ids("unknown") == ()
    assert ledger.free() == Resources(2.25, 7 * GiB, 0)
    ledger.release("a")
    ledger.release("a")  # a second report of one attempt frees nothing twice
    assert ledger.free() == Resources(3.25, 8 * GiB, 2)
    ledger.take("d", Resources(0, 0, 1))
    assert ledger.gpu_ids("d") == ("0",)  # the lowest free device
    for a in ("b", "c", "d"):
        ledger.release(a)
    assert ledger.free() == Resources(4, 8 * GiB, 3)


def test_fractions_of_cores_add_up_without_drift() -> None:
    ledger = Ledger(Resources(cpu=0.3))
    for i in range(3):
        ledger.take(str(i), Resources(cpu=0.1))
    assert abs(ledger.free().cpu) < 1e-9 and not Resources(cpu=0.1).fits(ledger.free())
    for i in range(3):
        ledger.release(str(i))
    assert ledger.free() == Resources(cpu=0.3)


def test_the_machine_capacity_and_what_resources_named_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    smi = tmp_path / "nvidia-smi"  # a stand-in for the driver's tool, run as a real process
    smi.write_text(
        "#!/bin/sh\n"
        'echo "GPU 0: NVIDIA A100 (UUID: GPU-1)"\n'
        'echo "GPU 1: NVIDIA A100 (UUID: GPU-2)"\n'
    )
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = capacity.machine()
    assert found.cpu == len(os.sched_getaffinity(0)) and found.memory > 0 and found.gpu == 2
    assert capacity.machine({"cpu": 0.5, "gpu": 0}) == Resources(0.5, found.memory, 0)
    smi.write_text("#!/bin/sh\nexit 9\n")  # a broken driver: no GPUs, no failure
    assert capacity.gpu_count() == 0
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert capacity.gpu_count() == 0
