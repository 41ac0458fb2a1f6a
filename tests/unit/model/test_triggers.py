from __future__ import annotations

from typing import Any

import pytest

from baton import flow, task
from baton.errors import DefinitionError
from baton.model import run_trigger, triggers
from baton.model.triggers import (
    AllAssetsTrigger,
    AssetTrigger,
    FileTrigger,
    FlowTrigger,
    WebhookTrigger,
    parse_trigger,
    validate_triggers,
)
from baton.model.yaml_spec import load_yaml_flow

# Ids as baton computed them before triggers were typed: stored cursors (`trigger_state`)
# are keyed by them, so they must never change. In the order CONSUMER declares them.
STORED_IDS: list[tuple[dict[str, Any], str]] = [
    ({"file": "data/in/*.csv"}, "file:33420066dfd01713"),
    ({"asset": "raw.events"}, "asset:c995a9e18f860a8e"),
    ({"assets": ["raw.events", "raw.users"]}, "assets:1b19d1287297a117"),
    ({"flow": "ingest", "states": ["succeeded", "failed"]}, "flow:4c037aaae22885b9"),
    ({"flow": "ingest"}, "flow:226ff84d20122038"),
    ({"webhook": True}, "webhook:73ae976e8040b2b4"),
]

CONSUMER = """
name: consumer
triggers:
  - {file: "data/in/*.csv"}
  - {asset: raw.events}
  - {assets: [raw.events, raw.users]}
  - {flow: ingest, states: [succeeded, failed]}
  - {flow: ingest}
  - {webhook: true}
tasks:
  - {key: a, type: shell, command: 'echo hi'}
"""


@pytest.mark.parametrize(("written", "tid"), STORED_IDS)
def test_ids_are_those_stored_before(written: dict[str, Any], tid: str) -> None:
    assert parse_trigger(1, written).id == tid


@pytest.mark.parametrize(("written", "tid"), STORED_IDS)
def test_a_trigger_is_stored_as_written(written: dict[str, Any], tid: str) -> None:
    assert parse_trigger(1, written).to_builtins() == written


def test_each_kind_is_typed() -> None:
    assert validate_triggers([t for t, _ in STORED_IDS]) == (
        FileTrigger("data/in/*.csv"),
        AssetTrigger("raw.events"),
        AllAssetsTrigger(("raw.events", "raw.users")),
        FlowTrigger("ingest", ("succeeded", "failed")),
        FlowTrigger("ingest"),
        WebhookTrigger(),
    )


def test_tuples_from_python_are_stored_as_lists() -> None:
    parsed = parse_trigger(1, {"flow": "a", "states": ("failed",)})
    assert parsed == FlowTrigger("a", ("failed",))
    assert parsed.to_builtins() == {"flow": "a", "states": ["failed"]}
    assert parsed.id == parse_trigger(1, {"flow": "a", "states": ["failed"]}).id


def test_a_changed_trigger_has_a_new_id() -> None:
    assert FlowTrigger("ingest").id != FlowTrigger("ingest", ("succeeded",)).id
    assert AssetTrigger("a").id != AllAssetsTrigger(("a",)).id
    assert AllAssetsTrigger(("a", "b")).id != AllAssetsTrigger(("b", "a")).id


def test_one_table_of_kinds() -> None:
    assert list(triggers.KINDS) == ["file", "asset", "assets", "flow", "webhook"]
    for kind, cls in triggers.KINDS.items():
        assert cls.kind == kind
        assert cls.fields[0] == kind


def test_run_labels_come_from_the_kinds() -> None:
    assert run_trigger.EVENT_KINDS == ("file", "asset", "flow")
    labels = {kind: cls.label for kind, cls in triggers.KINDS.items()}
    assert labels == {
        "file": "file",
        "asset": "asset",
        "assets": "asset",
        "flow": "flow",
        "webhook": None,
    }
    for kind, label in labels.items():
        expected = label or run_trigger.OLD_EVENT
        assert run_trigger.event_kind({"type": kind}) == expected


def test_a_flow_trigger_waits_for_success_unless_told() -> None:
    assert FlowTrigger("a").ends == ("succeeded",)
    assert FlowTrigger("a", ("failed", "cancelled")).ends == ("failed", "cancelled")


def test_the_assets_a_trigger_names() -> None:
    assert AssetTrigger("a").assets_named() == ("a",)
    assert AllAssetsTrigger(("a", "b")).assets_named() == ("a", "b")
    assert FileTrigger("x").assets_named() == ()
    assert FlowTrigger("f").assets_named() == ()
    assert WebhookTrigger().assets_named() == ()


def test_a_flow_version_hashes_as_before() -> None:
    # The content hash of this flow before triggers were typed: no new version on upgrade.
    spec = load_yaml_flow(CONSUMER, file="consumer.yaml")
    assert spec.triggers == tuple(t for t, _ in STORED_IDS)
    assert spec.content_hash() == "2fb5e9dabbd5bcfa"


def test_an_unknown_kind_in_yaml_names_the_file_flow_and_kind() -> None:
    text = CONSUMER.replace("{webhook: true}", "{webhok: true}")
    with pytest.raises(DefinitionError) as caught:
        load_yaml_flow(text, file="consumer.yaml")
    message = str(caught.value)
    assert message.startswith("consumer.yaml:9, flow 'consumer': trigger 6 has no known kind")
    assert "(keys: 'webhok')" in message
    assert message.endswith("; did you mean 'webhook'?")


def test_an_unknown_kind_in_python_names_the_flow_and_kind() -> None:
    @task
    def a() -> int:
        return 1

    with pytest.raises(DefinitionError) as caught:

        @flow(triggers=[{"asset": "raw"}, {"sql": "select 1"}])
        def consumer() -> None:
            a()

    message = str(caught.value)
    assert message.startswith("flow 'consumer': trigger 2 has no known kind (keys: 'sql')")
    assert "expected one of file, asset, assets, flow, webhook" in message


def test_the_kind_of_a_stored_trigger_is_its_kind_key_wherever_it_stands() -> None:
    assert triggers.kind_of({"states": ["failed"], "flow": "upstream"}) == "flow"
    assert triggers.kind_of({"file": "/data/*.csv"}) == "file"
    assert triggers.kind_of({"assets": ["a", "b"]}) == "assets"
