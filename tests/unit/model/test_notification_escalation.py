"""`escalate` steps, the approval_required event and a task's own `notifications:`."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from baton.errors import DefinitionError
from baton.model.notifications import EVENTS, task_entries, validate
from baton.model.yaml_spec import load_yaml_flow


def error(entries: Any) -> str:
    with pytest.raises(DefinitionError) as info:
        validate(entries)
    return str(info.value)


def test_steps_get_their_canonical_form_in_the_order_of_after() -> None:
    (entry,) = validate(
        [
            {
                "on": ["approval_required", "failure"],
                "webhook": "https://hooks.example/a",
                "escalate": [
                    {"after": "1h", "slack": "https://hooks.slack.com/T/B/x"},
                    {"after": "15m", "unless": "acknowledged", "email": "lead@example.com"},
                    {"after": 7200, "webhook": "${secret:PAGER}"},
                ],
            }
        ]
    )
    assert entry == {
        "on": ["failure", "approval_required"],
        "webhook": "https://hooks.example/a",
        "format": "json",
        "escalate": [
            {"after": 900.0, "unless": "acknowledged", "email": ["lead@example.com"]},
            {"after": 3600.0, "webhook": "https://hooks.slack.com/T/B/x", "format": "slack"},
            {"after": 7200.0, "webhook": "${secret:PAGER}", "format": "json"},
        ],
    }
    assert "approval_required" in EVENTS


@pytest.mark.parametrize(
    ("escalate", "says"),
    [
        ([], "notification 1: 'escalate' must be a non-empty list of steps"),
        ({"after": "1h"}, "'escalate' must be a non-empty list"),
        (["1h"], "notification 1, escalate step 1 must be a mapping"),
        ([{"email": "a@b.c"}], "escalate step 1 has no 'after'"),
        ([{"after": "soon", "email": "a@b.c"}], "escalate step 1: 'after' must be a duration"),
        ([{"after": -5, "email": "a@b.c"}], "'after' must be a duration > 0"),
        ([{"after": "1h"}], "escalate step 1 names none: give exactly one of 'email', 'webhook'"),
        (
            [{"after": "1h", "email": "a@b.c", "slack": "https://x"}],
            "escalate step 1 names email and slack",
        ),
        ([{"after": "1h", "slack": "hooks.slack.com"}], "'slack' must be an http:// or https://"),
        ([{"after": "1h", "email": "nobody"}], "'email' holds 'nobody', which is not an address"),
        (
            [{"after": "1h", "email": "a@b.c", "unless": "approved"}],
            "'unless' must be acknowledged, got 'approved'",
        ),
        (
            [{"after": "1h", "email": "a@b.c"}, {"after": "2h", "emial": "a@b.c"}],
            "escalate step 2 has unknown field(s) 'emial'",
        ),
    ],
)
def test_bad_steps_are_named(escalate: Any, says: str) -> None:
    assert says in error([{"email": "x@example.com", "escalate": escalate}])


def test_escalate_needs_an_event_it_can_escalate() -> None:
    said = error(
        [{"on": ["success"], "email": "a@b.c", "escalate": [{"after": 1, "email": "c@d.e"}]}]
    )
    assert "'escalate' needs 'on' to include failure or approval_required" in said


def test_a_tasks_entries_take_task_events_only() -> None:
    assert task_entries([{"on": "approval_required", "email": "a@b.c"}], "t") == (
        {"on": ["approval_required"], "email": ["a@b.c"]},
    )
    with pytest.raises(DefinitionError, match="task t: notification 1 wants success, sla"):
        task_entries([{"on": ["success", "sla"], "email": "a@b.c", "sla": 5}], "t")


def test_yaml_tasks_take_notifications_and_name_the_task_and_line() -> None:
    text = """
        name: etl
        tasks:
          - key: load
            type: shell
            command: "true"
            notifications:
              - on: [failure]
                email: owner@example.com
                escalate: [{after: 30m, unless: acknowledged, slack: "https://hooks.slack.com/x"}]
          - {key: plain, type: shell, command: "true"}
        """
    spec = load_yaml_flow(textwrap.dedent(text), file="etl.yaml")
    assert spec.task("load").notifications[0]["escalate"][0]["after"] == 1800.0
    assert spec.task("plain").notifications == ()
    assert "notifications" not in spec.task("plain").config
    # A task without entries has the content hash it had before tasks could have them.
    assert "notifications" not in spec.to_json().split('"plain"')[1]
    bad = text.replace("after: 30m", "after: 30 minutes")
    with pytest.raises(DefinitionError) as info:
        load_yaml_flow(textwrap.dedent(bad), file="etl.yaml")
    said = str(info.value)
    assert said.startswith("etl.yaml:7, flow 'etl', task 'load': notification 1, escalate step 1")
    assert "got '30 minutes'" in said
