from __future__ import annotations

from baton.model import triggers
from baton.scheduling.scheduler import FIRINGS, trigger_id


def test_a_trigger_keeps_its_id_across_versions_and_a_changed_one_gets_a_new_one() -> None:
    same = trigger_id({"flow": "ingest", "states": ["failed"]})
    assert same == trigger_id({"states": ["failed"], "flow": "ingest"})  # key order aside
    assert same.startswith("flow:")
    assert trigger_id({"flow": "ingest", "states": ["succeeded"]}) != same
    assert trigger_id({"assets": ["a", "b"]}).startswith("assets:")
    assert len(trigger_id({"file": "x" * 500})) < 200  # fits trigger_state.trigger_id


def test_the_scheduler_knows_how_to_fire_every_kind_of_trigger() -> None:
    assert list(FIRINGS) == list(triggers.KINDS)
    for kind, poll in FIRINGS.items():
        # Exactly the kinds whose runs carry a label are fired by the scheduler.
        assert (poll is None) == (triggers.KINDS[kind].label is None)
