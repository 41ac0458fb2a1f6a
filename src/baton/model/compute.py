"""Compute backends: where a python task's function runs (`compute:`).

`local` (the default) runs it in the baton worker; `dask` and `ray` send it, by reference
(`module:function`) with its resolved arguments, to a cluster while the task run waits
without a worker slot (`baton.tasks.dask_compute`, `baton.tasks.ray_compute`). A task says
`compute: dask`, `compute: {backend: dask, address: tcp://host:8786}`,
`compute: {backend: ray, address: ray://host:10001}` (or `address: auto`) or, in Python,
`@task(compute="ray")`; a flow's `compute:` is the default of its python tasks.

The backends are one table (`BACKENDS`): another backend is a row (its module, what it
imports, its addresses).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from baton.errors import DefinitionError
from baton.model.names import did_you_mean
from baton.model.yaml_fields import show


class Backend(NamedTuple):
    """What baton knows of a compute backend without importing it."""

    name: str
    module: str | None  # baton.tasks.<module> runs it; None: in the worker (local)
    requires: tuple[str, ...] = ()  # modules it imports, checked when a flow is loaded
    extra: str | None = None  # `pip install 'baton[<extra>]'` installs them
    address_env: str | None = None  # the default address, from the worker's environment
    schemes: tuple[str, ...] = ()  # of its addresses; the first is implied when none is given
    keywords: tuple[str, ...] = ()  # addresses that are words, not host:port (`auto`)
    example: str = ""  # an address, shown when one is wrong


BACKENDS: dict[str, Backend] = {
    "local": Backend("local", None),
    "dask": Backend(
        "dask",
        "dask_compute",
        ("distributed",),
        extra="dask",
        address_env="BATON_DASK_ADDRESS",
        schemes=("tcp", "tls"),
        example="tcp://host:8786",
    ),
    "ray": Backend(
        "ray",
        "ray_compute",
        ("ray",),
        extra="ray",
        address_env="BATON_RAY_ADDRESS",
        schemes=("ray",),
        keywords=("auto",),  # Ray's own: RAY_ADDRESS, else the cluster on this machine
        example="ray://host:10001 or auto",
    ),
}
FIELDS = ("backend", "address")


def parse_compute(value: object, field: str = "compute") -> dict[str, Any] | None:
    """A `compute:` value in its one stored form, `{backend, address?}`; None for None.

    Raises:
        DefinitionError: naming `field` (or `field.backend` ...) and what is wrong.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = {"backend": value}
    if not isinstance(value, dict):
        raise DefinitionError(
            f"'{field}' must be a backend name ({', '.join(BACKENDS)}) or a mapping such as "
            f"{{backend: dask, address: tcp://host:8786}}, got {show(value)}"
        )
    unknown = sorted(str(k) for k in value if k not in FIELDS)
    if unknown:
        raise DefinitionError(
            f"'{field}' has unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}"
        )
    name = value.get("backend")
    if name not in BACKENDS:
        hint = did_you_mean(str(name), BACKENDS) if isinstance(name, str) else ""
        raise DefinitionError(
            f"'{field}.backend' must be one of {', '.join(BACKENDS)}, got {show(name)}{hint}"
        )
    backend = BACKENDS[name]
    address = value.get("address")
    if address is not None and (backend.address_env is None or not is_address(address, backend)):
        if backend.address_env is None:
            raise DefinitionError(f"'{field}.address' means nothing to the {name} backend")
        raise DefinitionError(
            f"'{field}.address' must be a {name} address such as {backend.example}, "
            f"got {show(address)}"
        )
    if name == "local":
        return {"backend": "local"}
    return {"backend": name} | ({"address": address} if address is not None else {})


def with_default(config: dict[str, Any], default: dict[str, Any] | None) -> dict[str, Any]:
    """A python task's config with the flow's default `compute` where it names none."""
    if default is None or "compute" in config:
        return config
    return {**config, "compute": default}


def runs_remotely(config: dict[str, Any]) -> bool:
    """Whether a task's function runs on a compute backend's cluster: it then holds none of
    its worker's capacity (the cluster places it by its `resources`)."""
    compute = config.get("compute")
    if isinstance(compute, str):
        return compute != "local"
    return isinstance(compute, dict) and compute.get("backend", "local") != "local"


def is_address(value: object, backend: Backend) -> bool:
    """Whether `value` is an address of `backend`'s clusters."""
    if not isinstance(value, str):
        return False
    return value in backend.keywords or split_address(value, backend.schemes) is not None


def split_address(
    address: str, schemes: tuple[str, ...] = BACKENDS["dask"].schemes
) -> tuple[str, int] | None:
    """(host, port) of `<scheme>://host:port` or `host:port` (the first scheme implied);
    None if it is not such an address."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = schemes[0] if schemes else "", address
    if scheme not in schemes:
        return None
    host, colon, port = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)
