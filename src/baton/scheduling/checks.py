"""Deploy-time checks of what triggers name: flows and assets must exist somewhere; and
that a flow the scheduler starts can start without anyone giving it params.

A trigger's shape is checked when the flow is defined (`model.triggers.validate_triggers`);
whether the flow or asset it names exists can only be known against the other flows, which
is what `baton deploy` has: the flows it deploys and those deployed before.
"""

from __future__ import annotations

from collections.abc import Sequence

from baton.errors import DefinitionError
from baton.model import triggers
from baton.model.spec import FlowSpec


def check_references(deploying: Sequence[FlowSpec], deployed: Sequence[FlowSpec]) -> None:
    """Raise DefinitionError for a trigger naming a flow, or an asset, that no deploying or
    deployed flow defines (an asset is defined by a task declaring it in `outputs`, or by a
    flow's `assets:` entry: an asset written outside baton and reported)."""
    everyone = (*deploying, *deployed)
    flows = {s.name for s in everyone}
    assets = {a for s in everyone for t in s.tasks for a in t.outputs}
    assets |= {a.name for s in everyone for a in s.assets}
    for spec in deploying:
        source = spec.source.path if spec.source else None
        _check_params(spec, source)
        for number, trigger in enumerate(_typed(spec, source), 1):
            if isinstance(trigger, triggers.FlowTrigger) and trigger.flow not in flows:
                raise DefinitionError(
                    f"trigger {number} waits for flow '{trigger.flow}', which is not "
                    f"deployed (deployed or deploying: {', '.join(sorted(flows))})",
                    file=source,
                    flow=spec.name,
                )
            unknown = [a for a in trigger.assets_named() if a not in assets]
            if unknown:
                raise DefinitionError(
                    f"trigger {number} waits for asset {', '.join(map(repr, unknown))}, which "
                    "no deployed task declares in its outputs and no deployed flow under "
                    "`assets:` (known assets: "
                    f"{', '.join(sorted(assets)) or 'none'})",
                    file=source,
                    flow=spec.name,
                )


def _typed(spec: FlowSpec, source: str | None) -> tuple[triggers.Trigger, ...]:
    try:
        return triggers.validate_triggers(spec.triggers)
    except DefinitionError as exc:
        raise exc.located(file=source, flow=spec.name) from None


def _check_params(spec: FlowSpec, source: str | None) -> None:
    """The scheduler starts runs with the params' defaults (a webhook passes its own)."""
    fired = any(t.label is not None for t in _typed(spec, source))
    automatic = spec.schedule is not None or fired
    required = [name for name, p in spec.params.items() if p.required]
    if automatic and required:
        raise DefinitionError(
            f"param {', '.join(map(repr, required))} has no default, but the flow's schedule "
            "or triggers start runs without params: give it a default",
            file=source,
            flow=spec.name,
        )
