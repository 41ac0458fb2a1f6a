"""A flow's `partitions:` (YAML) and `@flow(partitions=...)` (Python) in its FlowSpec."""

from __future__ import annotations

import textwrap

import pytest

from baton.errors import DefinitionError
from baton.model.decorators import flow, task
from baton.model.partitions import PartitionsSpec, daily, static
from baton.model.spec import FlowSpec, TaskSpec
from baton.model.yaml_spec import load_yaml_flow


def load(text: str) -> FlowSpec:
    return load_yaml_flow(textwrap.dedent(text), file="flows/f.yaml")


def test_yaml_partitions_are_the_flows() -> None:
    spec = load("""
        name: sales
        partitions: {type: daily, start: 2024-01-01, timezone: Europe/Paris}
        tasks: [{key: a, type: shell, command: "echo {{ partition }}"}]
    """)
    assert spec.partitions == PartitionsSpec(
        type="daily", start="2024-01-01", timezone="Europe/Paris"
    )
    assert FlowSpec.from_json(spec.to_json()) == spec


def test_a_bad_partitions_field_names_file_line_and_field() -> None:
    with pytest.raises(DefinitionError) as err:
        load("""
            name: sales
            tasks: [{key: a, type: shell, command: x}]
            partitions:
              type: daily
              start: 2024-01-01
              timezon: UTC
        """)
    text = str(err.value)
    assert text.startswith("flows/f.yaml:7, flow 'sales': unknown field 'partitions.timezon'")
    assert "did you mean 'timezone'?" in text


def test_a_flow_without_partitions_keeps_its_version_id() -> None:
    """The field is left out of the JSON when absent: older flows hash as before."""
    spec = FlowSpec(name="f", tasks=(TaskSpec(key="a", type="shell"),))
    assert "partitions" not in spec.to_json()


@task
def load_day(partition: str, context: object) -> str:
    return partition


def test_python_flows_take_partitions_and_the_partition_parameter() -> None:
    @flow(partitions=static(["eu", "us"]))
    def regions() -> None:
        load_day()  # `partition` and `context` come from the run

    assert regions.spec.partitions == static(["eu", "us"])
    assert regions.spec.params == {}


def test_python_partitions_must_be_made_by_the_helpers() -> None:
    with pytest.raises(DefinitionError, match=r"partitions must be made by daily\(...\)"):

        @flow(partitions={"type": "daily", "start": "2024-01-01"})  # type: ignore[arg-type]
        def sales() -> None:
            load_day()


def test_daily_checks_its_start() -> None:
    with pytest.raises(DefinitionError, match="start"):
        daily("2024-01-01T05:00")
