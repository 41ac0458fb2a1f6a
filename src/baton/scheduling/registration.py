"""`baton deploy`: register flows, their versions and triggers, for the cluster to run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

from baton.engine import assets
from baton.errors import DefinitionError
from baton.execution.loader import LoadedFlow
from baton.model.spec import FlowSpec
from baton.scheduling.checks import check_references
from baton.store.store import Store


class Deployed(NamedTuple):
    spec: FlowSpec
    version: str
    changed: bool  # a new version (else this definition was deployed already)


def deploy(store: Store, flows: Sequence[LoadedFlow]) -> list[Deployed]:
    """Register each flow's latest version and mark it deployed, all or nothing.

    Raises:
        DefinitionError: two flows share a name, a trigger names a flow or asset that
            neither these flows nor the deployed ones define, or two flows declare the
            same asset.
    """
    seen: dict[str, str] = {}
    for lf in flows:
        name, path = lf.spec.name, lf.spec.source.path if lf.spec.source else "?"
        if name in seen:
            raise DefinitionError(f"flow '{name}' is defined twice: in {seen[name]} and {path}")
        seen[name] = path
    specs = [lf.spec for lf in flows]
    others = [s for s in store.read().deployed_specs() if s.name not in seen]
    check_references(specs, others)
    now = time.time()
    out = []
    with store.transaction() as tx:
        for spec in specs:
            version = spec.content_hash()
            changed = tx.flow_version(spec.name) != version
            tx.save_version(spec, now, deployed=True)
            tx.mark_deployed(spec.name, now)
            # The catalog says what deployed flows declare, so it changes with them.
            tx.sync_catalog(spec.name, spec.assets, assets.links(spec), now)
            out.append(Deployed(spec, version, changed))
    return out
