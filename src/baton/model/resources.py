"""Resources: what a task needs (cpu, memory, gpu) and what a worker offers.

One parser for both sides, so a task's `resources: {cpu: 2, memory: 4Gi, gpu: 1}` and a
worker's `--resources cpu=8,memory=32Gi,gpu=2` accept the same spellings:

- cpu: a number of cores (`2`, `0.5`) or millicores as Kubernetes writes them (`500m`);
- memory: bytes, or a quantity with a binary (`Ki Mi Gi Ti Pi`) or decimal (`k M G T P`)
  suffix, an optional trailing `B` (`4Gi`, `512Mi`, `1.5G`, `4GiB`);
- gpu: a whole number of devices.

A worker claims a task only while the sum of what its running tasks need, plus the task's
need, fits its capacity (`fits`). Memory is kept in bytes so the sum is exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

from baton.errors import DefinitionError, InputError
from baton.model.yaml_fields import show

KINDS = ("cpu", "memory", "gpu")
MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}
# A typo, not a policy: no machine has more (and the sums must stay exact integers).
MAX_MEMORY = 2**60
MAX_CPU = 100_000.0
MAX_GPU = 1_000
# Sums of fractional cores are floats: 0.1 + 0.2 must still fit in 0.3.
CPU_SLACK = 1e-9
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)\s*([kKMGTP]i?)?[bB]?")
_MILLI = re.compile(r"(\d+)m")


class Resources(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An amount of each resource; 0 is "none of it" (a task that declares only `gpu: 1`
    needs no cpu or memory for placement)."""

    cpu: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    memory: Annotated[int, msgspec.Meta(ge=0)] = 0  # bytes
    gpu: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory, self.gpu + other.gpu)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.memory - other.memory, self.gpu - other.gpu)

    def fits(self, capacity: Resources) -> bool:
        """Whether this amount is within `capacity` in every resource (a little slack on cpu,
        whose sums of fractions are floats)."""
        return (
            self.cpu <= capacity.cpu + CPU_SLACK
            and self.memory <= capacity.memory
            and self.gpu <= capacity.gpu
        )

    def short_of(self, capacity: Resources) -> list[str]:
        """What this amount needs beyond `capacity`, one phrase per resource:
        `gpu 1 > 0`."""
        short = []
        for kind in KINDS:
            mine, theirs = getattr(self, kind), getattr(capacity, kind)
            if not Resources(**{kind: mine}).fits(Resources(**{kind: theirs})):
                short.append(f"{kind} {spell(kind, mine)} > {spell(kind, theirs)}")
        return short

    def is_zero(self) -> bool:
        return self.cpu == 0 and self.memory == 0 and self.gpu == 0

    def describe(self) -> str:
        """`cpu=2,memory=4Gi,gpu=1` (what `parse_capacity` reads back), zeros left out
        unless all are zero."""
        parts = [f"{k}={spell(k, getattr(self, k))}" for k in KINDS if getattr(self, k)]
        return ",".join(parts) or "cpu=0"

    def to_builtins(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


NONE = Resources()


def usage(used: Resources, capacity: Resources | None) -> str:
    """`cpu 2/8, memory 4Gi/32Gi, gpu 1/2` (what `baton workers` and the UI show); a worker
    from before resources (no capacity) shows what its tasks use only."""
    if capacity is None:
        return used.describe() if not used.is_zero() else ""
    return ", ".join(
        f"{k} {spell(k, getattr(used, k))}/{spell(k, getattr(capacity, k))}" for k in KINDS
    )


class Offer(msgspec.Struct, frozen=True):
    """A live worker as placement sees it: its name, the queues it serves (none: all) and
    its capacity (None: a worker from before resources, which takes anything)."""

    worker: str
    queues: tuple[str, ...]
    capacity: Resources | None


SHOWN_OFFERS = 3  # workers a reason names, the rest counted


def unschedulable(need: Resources, queue: str, offers: Sequence[Offer]) -> str | None:
    """Why a queued task needing `need` in `queue` can run on none of the live workers
    (`offers`), however long it waits: None if one of those serving its queue could take it,
    and None when none serves it (no worker yet is no proof it never will fit)."""
    serving = [o for o in offers if not o.queues or queue in o.queues]
    if not serving or any(o.capacity is None or need.fits(o.capacity) for o in serving):
        return None
    named = "; ".join(
        f"{o.worker} {', '.join(need.short_of(o.capacity or NONE))}" for o in serving[:SHOWN_OFFERS]
    )
    more = f"; {len(serving) - SHOWN_OFFERS} more" if len(serving) > SHOWN_OFFERS else ""
    return (
        f"needs {need.describe()}, more than any live worker serving queue {queue} has "
        f"({named}{more})"
    )


def need_fields(need: Resources | None) -> dict[str, float | int]:
    """A task's needs as a task run's fields (`need_cpu`, `need_memory`, `need_gpu`): the
    claim compares them with a worker's free capacity in plain SQL."""
    need = need or NONE
    return {"need_cpu": need.cpu, "need_memory": need.memory, "need_gpu": need.gpu}


def spell(kind: str, amount: float) -> str:
    """An amount as a user writes it: memory `4Gi` (or bytes), cpu `2` / `0.5`, gpu `1`."""
    if kind == "memory":
        for unit in ("Pi", "Ti", "Gi", "Mi", "Ki"):
            if amount and amount % MEMORY_UNITS[unit] == 0:
                return f"{int(amount) // MEMORY_UNITS[unit]}{unit}"
        return str(int(amount))
    return f"{amount:g}"


def parse_amount(kind: str, value: object, field: str, *, error: type[Exception]) -> float | int:
    """One resource amount; `error` (DefinitionError or InputError) names `field`."""
    if kind == "cpu":
        cpu = _cpu(value)
        if cpu is None:
            raise error(
                f"'{field}' must be a number of cores >= 0 (2, 0.5) or millicores (500m), "
                f"got {show(value)}"
            )
        return cpu
    if kind == "memory":
        memory = _memory(value)
        if memory is None:
            raise error(
                f"'{field}' must be bytes or a quantity such as 512Mi, 4Gi or 1.5G, "
                f"got {show(value)}"
            )
        return memory
    gpu = _gpu(value)
    if gpu is None:
        raise error(f"'{field}' must be a whole number of GPUs >= 0, got {show(value)}")
    return gpu


def parse_resources(
    value: object, field: str = "resources", *, error: type[Exception] = DefinitionError
) -> Resources | None:
    """A task's `resources` mapping (`{cpu: 2, memory: 4Gi, gpu: 1}`); None for None or an
    empty mapping (the task needs nothing in particular)."""
    if value is None:
        return None
    if isinstance(value, Resources):
        return None if value.is_zero() else value
    if not isinstance(value, dict):
        raise error(f"'{field}' must be a mapping such as {{cpu: 2, memory: 4Gi, gpu: 1}}")
    unknown = sorted(str(k) for k in value if k not in KINDS)
    if unknown:
        raise error(
            f"'{field}' has unknown resource(s) {', '.join(unknown)}; known: {', '.join(KINDS)}"
        )
    amounts: dict[str, Any] = {
        k: parse_amount(k, v, f"{field}.{k}", error=error) for k, v in value.items()
    }
    found = Resources(**amounts)
    return None if found.is_zero() else found


def parse_capacity(text: str, *, error: type[Exception] = InputError) -> dict[str, float | int]:
    """A worker's `--resources cpu=8,memory=32Gi,gpu=2`: the amounts it names (the caller
    fills the others from the machine)."""
    amounts: dict[str, float | int] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise error(
                f"--resources must be kind=amount pairs such as cpu=8,memory=32Gi,gpu=2 "
                f"(kinds: {', '.join(KINDS)}), got {show(part.strip())}"
            )
        if name in amounts:
            raise error(f"--resources names {name} twice")
        amounts[name] = parse_amount(name, value.strip(), f"--resources {name}", error=error)
    return amounts


def _cpu(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        milli = _MILLI.fullmatch(text)
        if milli:
            return int(milli.group(1)) / 1000
        try:
            value = float(text)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        cpu = float(value)
    except OverflowError:
        return None
    return cpu if math.isfinite(cpu) and 0 <= cpu <= MAX_CPU else None


def _memory(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_MEMORY else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and 0 <= value <= MAX_MEMORY else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY.fullmatch(value.strip())
    if match is None:
        return None
    amount = float(match.group(1)) * MEMORY_UNITS[match.group(2) or ""]
    return int(amount) if amount <= MAX_MEMORY else None


def _gpu(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_GPU:
        return value
    return None
