from __future__ import annotations

import textwrap
from typing import Any

import pytest

from baton import flow, task
from baton.errors import DefinitionError
from baton.model.notifications import excerpt, validate, wanted
from baton.model.yaml_spec import load_yaml_flow


def error(entries: Any) -> str:
    with pytest.raises(DefinitionError) as info:
        validate(entries)
    return str(info.value)


def test_entries_get_their_canonical_form() -> None:
    assert validate(
        [
            {"on": ["sla", "failure", "failure"], "email": "oncall@example.com", "sla": 3600},
            {"webhook": "https://hooks.example.com/x", "format": "slack"},
            {"on": "retry", "webhook": "${secret:HOOK}"},
        ]
    ) == (
        {"on": ["failure", "sla"], "email": ["oncall@example.com"], "sla": 3600},
        {"on": ["failure"], "webhook": "https://hooks.example.com/x", "format": "slack"},
        {"on": ["retry"], "webhook": "${secret:HOOK}", "format": "json"},
    )


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"on": ["failure"]}, "notification 1 names neither: give exactly one of 'email'"),
        (
            {"email": "a@b.c", "webhook": "https://x"},
            "notification 1 names email and webhook",
        ),
        ({"on": ["failed"], "email": "a@b.c"}, "unknown event 'failed' in 'on' ("),
        ({"on": ["failed"], "email": "a@b.c"}, "did you mean 'failure'?"),
        ({"on": [], "email": "a@b.c"}, "'on' must be an event or a non-empty list"),
        ({"email": "not-an-address"}, "'email' holds 'not-an-address', which is not an address"),
        ({"email": []}, "'email' must be an address or a non-empty list"),
        ({"webhook": "ftp://x"}, "'webhook' must be an http:// or https:// URL"),
        ({"webhook": "https://x", "format": "xml"}, "'format' must be one of json, slack"),
        ({"email": "a@b.c", "format": "slack"}, "'format' is for webhooks"),
        ({"on": ["sla"], "email": "a@b.c"}, "'on' includes sla, so give 'sla'"),
        ({"email": "a@b.c", "sla": 60}, "'sla' is set but 'on' does not include sla"),
        ({"on": "sla", "email": "a@b.c", "sla": 0}, "'sla' must be a number of seconds > 0"),
        ({"on": "sla", "email": "a@b.c", "sla": True}, "'sla' must be a number of seconds > 0"),
        ({"emails": "a@b.c"}, "unknown field(s) 'emails' (allowed: on, email, webhook"),
        ({"emails": "a@b.c"}, "did you mean 'email'?"),
        ("oncall@example.com", "notification 1 must be a mapping"),
    ],
)
def test_a_bad_entry_is_refused_naming_it_and_the_field(entry: Any, says: str) -> None:
    message = error([{"email": "ok@example.com"}, entry])
    assert message.startswith("notification 2") or "notification 2" in message, message
    assert says.replace("notification 1", "notification 2") in message


def test_notifications_must_be_a_list() -> None:
    assert "notifications must be a list" in error({"email": "a@b.c"})


def test_wanted_picks_the_entries_of_an_event_with_their_index() -> None:
    entries = validate([{"email": "a@b.c"}, {"on": ["success", "failure"], "webhook": "http://h"}])
    assert [i for i, _ in wanted(entries, "failure")] == [0, 1]
    assert [i for i, _ in wanted(entries, "success")] == [1]
    assert wanted(entries, "sla") == []


def test_excerpt_cuts_long_errors() -> None:
    assert excerpt(None) is None
    assert excerpt("short") == "short"
    cut = excerpt("x" * 600)
    assert cut is not None and len(cut) == 500 and cut.endswith("…")


def test_yaml_notifications_are_checked_with_the_line_of_the_entry() -> None:
    text = textwrap.dedent(
        """
        name: f
        notifications:
          - on: [failure, sla]
            email: [oncall@example.com]
            sla: 3600
          - on: [failure, success]
            webhook: https://hooks.slack.com/services/XXX
            format: slak
        tasks: [{key: a, type: shell, command: "true"}]
        """
    )
    with pytest.raises(DefinitionError) as info:
        load_yaml_flow(text, file="f.yaml")
    assert str(info.value) == (
        "f.yaml:7, flow 'f': notification 2: 'format' must be one of json, slack, got 'slak'"
    )
    spec = load_yaml_flow(text.replace("slak", "slack"), file="f.yaml")
    assert spec.notifications[1] == {
        "on": ["failure", "success"],
        "webhook": "https://hooks.slack.com/services/XXX",
        "format": "slack",
    }


def test_python_flows_take_the_same_entries() -> None:
    @task
    def a() -> None:
        pass

    @flow(notifications=[{"on": "success", "webhook": "http://127.0.0.1:1/hook"}])
    def notified() -> None:
        a()

    assert notified.spec.notifications == (
        {"on": ["success"], "webhook": "http://127.0.0.1:1/hook", "format": "json"},
    )

    with pytest.raises(DefinitionError, match="flow 'bad': notification 1: 'on' includes sla"):

        @flow(name="bad", notifications=[{"on": "sla", "email": "a@b.c"}])
        def bad() -> None:
            a()
