"""Numbers in YAML fields: an integer too large for a float is refused by name, not raised."""

from __future__ import annotations

import pytest

from baton.errors import DefinitionError
from baton.model import yaml_spec
from baton.model.yaml_fields import is_number

HUGE = "1" + "0" * 400


def test_is_number() -> None:
    assert is_number(3) and is_number(2.5)
    assert not is_number(float("inf")) and not is_number(True) and not is_number("3")
    assert not is_number(int(HUGE))


@pytest.mark.parametrize(
    ("field", "named"),
    [
        (f"timeout: {HUGE}", "'timeout' must be a number > 0"),
        (f"notifications: [{{on: sla, email: a@x.io, sla: {HUGE}}}]", "'sla' must be a number"),
    ],
)
def test_an_integer_too_large_for_a_float_is_a_definition_error(field: str, named: str) -> None:
    task = "  - {key: t, type: shell, command: 'true'}"
    if field.startswith("timeout"):
        text = f"name: f\ntasks:\n  - key: t\n    type: shell\n    command: 'true'\n    {field}\n"
    else:
        text = f"name: f\n{field}\ntasks:\n{task}\n"
    with pytest.raises(DefinitionError, match=named):
        yaml_spec.load_yaml_flow(text, file="f.yaml")
