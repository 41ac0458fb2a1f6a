from __future__ import annotations

from baton.scheduling.scheduler import trigger_id


def test_a_trigger_keeps_its_id_across_versions_and_a_changed_one_gets_a_new_one() -> None:
    same = trigger_id({"flow": "ingest", "states": ["failed"]})
    assert same == trigger_id({"states": ["failed"], "flow": "ingest"})  # key order aside
    assert same.startswith("flow:")
    assert trigger_id({"flow": "ingest", "states": ["succeeded"]}) != same
    assert trigger_id({"assets": ["a", "b"]}).startswith("assets:")
    assert len(trigger_id({"file": "x" * 500})) < 200  # fits trigger_state.trigger_id
