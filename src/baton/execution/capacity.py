"""A worker's capacity: what the machine offers, and what of it each running task holds.

`machine` finds the default capacity (cores, memory, GPUs listed by `nvidia-smi -L`);
`Ledger` is the worker's account of what its claimed tasks hold, so the next claim asks
only for what is still free (`free`), and each GPU task gets device ids no other running
task of this worker has (`CUDA_VISIBLE_DEVICES`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

from baton.model.resources import Resources

NVIDIA_SMI_TIMEOUT = 10.0  # seconds: a hung driver must not keep a worker from starting


def machine(named: Mapping[str, float | int] | None = None) -> Resources:
    """This machine's cores (those this process may use), memory and GPUs, or in their
    place the amounts `named` (`--resources`, as `parse_capacity` reads it)."""
    named = named or {}
    if "cpu" in named:
        cpus = float(named["cpu"])
    else:
        try:
            cpus = float(len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            cpus = float(os.cpu_count() or 1)
    if "memory" in named:
        memory = int(named["memory"])
    else:
        try:
            memory = max(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), 0)
        except (AttributeError, ValueError, OSError):
            memory = 0
    # nvidia-smi only when asked: it can take a second to answer.
    gpus = int(named["gpu"]) if "gpu" in named else gpu_count()
    return Resources(cpus, memory, gpus)


def gpu_count() -> int:
    """The GPUs `nvidia-smi -L` lists (one `GPU n: ...` line each); 0 without it."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run(
            [smi, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return 0
    if out.returncode != 0:
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


class Ledger:
    """What a worker's claimed tasks hold of its capacity, by attempt id.

    Only the worker's loop thread uses it. GPU device ids are the indexes 0..gpu-1 of the
    capacity; a task holds distinct ones until it ends (`release`).
    """

    def __init__(self, capacity: Resources) -> None:
        self.capacity = capacity
        self._held: dict[str, tuple[Resources, tuple[str, ...]]] = {}
        self._free_gpus = [str(i) for i in range(capacity.gpu)]

    def free(self) -> Resources:
        """What is left for the next claim (summed afresh: no float drift accumulates)."""
        used = Resources()
        for need, _ in self._held.values():
            used += need
        return self.capacity - used

    def take(self, attempt_id: str, need: Resources) -> None:
        """Hold `need` for a claimed attempt (the claim made sure it fits)."""
        if attempt_id in self._held:
            return
        gpus = tuple(self._free_gpus[: need.gpu])
        del self._free_gpus[: need.gpu]
        self._held[attempt_id] = (need, gpus)

    def gpu_ids(self, attempt_id: str) -> tuple[str, ...]:
        held = self._held.get(attempt_id)
        return () if held is None else held[1]

    def release(self, attempt_id: str) -> None:
        """The attempt ended (or was never started): what it held is free again."""
        held = self._held.pop(attempt_id, None)
        if held is None:
            return
        gpus = held[1]
        # Lowest ids first, so a lone GPU task tends to get device 0 again.
        self._free_gpus = sorted([*self._free_gpus, *gpus], key=int)
