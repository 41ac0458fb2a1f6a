from __future__ import annotations

from typing import Any

import pytest

from baton.notify import message

URL = "http://baton.example/runs/1f2e3d4c5b6a7980"


def failure(**more: Any) -> dict[str, Any]:
    return {
        "event": "failure",
        "flow": "etl",
        "run_id": "1f2e3d4c5b6a7980",
        "state": "failed",
        "params": {"day": "2024-06-01"},
        "trigger": "schedule",
        "logical_date": "2024-06-01T00:00:00.000000Z",
        "created_at": "2024-06-02T00:00:00.000000Z",
        "started_at": "2024-06-02T00:00:01.000000Z",
        "ended_at": "2024-06-02T00:01:31.500000Z",
        "duration": 90.5,
        "failed_count": 1,
        "failed_tasks": [
            {"key": "load", "map_index": None, "error_kind": "user", "error": "KeyError: 'x'"}
        ],
        "url": URL,
    } | more


def retry() -> dict[str, Any]:
    return {
        "event": "retry",
        "flow": "etl",
        "run_id": "1f2e3d4c5b6a7980",
        "state": "running",
        "trigger": "manual",
        "task": {
            "key": "fetch",
            "map_index": 3,
            "attempt": 2,
            "error_kind": "timeout",
            "error": "the task ran past its timeout",
            "retry_at": "2024-06-02T00:05:00.000000Z",
        },
        "url": URL,
    }


@pytest.mark.parametrize(
    ("payload", "subject"),
    [
        (failure(), "[baton] flow etl run 1f2e3d4c5b6a7980 failed"),
        (
            failure(event="success", state="succeeded"),
            "[baton] flow etl run 1f2e3d4c5b6a7980 succeeded",
        ),
        (
            retry(),
            "[baton] flow etl run 1f2e3d4c5b6a7980: task fetch[3] failed (attempt 2), retrying",
        ),
        (
            {"event": "sla", "flow": "etl", "run_id": "1f2e3d4c5b6a7980", "sla": 3600, "url": URL},
            "[baton] flow etl run 1f2e3d4c5b6a7980 exceeded its SLA of 1h",
        ),
    ],
)
def test_the_subject_says_what_happened(payload: dict[str, Any], subject: str) -> None:
    assert message.subject(payload) == subject


def test_the_text_has_the_run_the_failed_tasks_their_errors_and_the_link() -> None:
    assert message.text(failure()) == (
        "flow etl run 1f2e3d4c5b6a7980 failed\n"
        "\n"
        "Flow: etl\n"
        "Run: 1f2e3d4c5b6a7980\n"
        "State: failed\n"
        "Trigger: schedule\n"
        "Params: day=2024-06-01\n"
        "Logical date: 2024-06-01T00:00:00.000000Z\n"
        "Created: 2024-06-02T00:00:00.000000Z\n"
        "Started: 2024-06-02T00:00:01.000000Z\n"
        "Ended: 2024-06-02T00:01:31.500000Z\n"
        "Duration: 1m30s\n"
        "\n"
        "Failed tasks:\n"
        "- load\n"
        "    KeyError: 'x'\n"
        "\n"
        f"See the run: {URL}\n"
    )


def test_a_retry_names_the_attempt_and_when_it_is_retried() -> None:
    text = message.text(retry())
    assert "Failed attempt:\n- fetch[3] (attempt 2, retry at 2024-06-02T00:05:00.000000Z)" in text
    assert "    the task ran past its timeout" in text


def test_failed_tasks_not_listed_are_counted() -> None:
    p = failure(failed_count=25)
    assert "- and 24 more" in message.text(p)
    assert "<li>and 24 more</li>" in message.html_body(p)


def test_the_html_escapes_what_tasks_wrote() -> None:
    p = failure()
    p["failed_tasks"][0]["error"] = "<script>alert(1)</script>"
    body = message.html_body(p)
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert f"<a href='{URL}'>See the run</a>" in body


def test_the_slack_format_is_a_text_with_blocks() -> None:
    p = failure()
    p["failed_tasks"][0]["error"] = "a < b & c"
    body = message.slack(p)
    assert body["text"] == f"flow etl run 1f2e3d4c5b6a7980 failed: {URL}"
    head, facts, task = body["blocks"]
    assert head == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"<{URL}|flow etl run 1f2e3d4c5b6a7980 failed>"},
    }
    assert facts["type"] == "section"
    assert {"type": "mrkdwn", "text": "*Duration*\n1m30s"} in facts["fields"]
    assert len(facts["fields"]) <= 10  # Slack's limit
    assert task["text"]["text"] == "*load*\n```a &lt; b &amp; c```"


def test_slack_splits_more_than_ten_facts() -> None:
    body = message.slack(failure(sla=60))  # 11 facts
    sections = [b for b in body["blocks"] if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 1]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0096, "0.01s"),
        (0.25, "0.25s"),
        (2, "2s"),
        (59.9, "59.9s"),
        (60, "1m"),
        (90.5, "1m30s"),
        (3600, "1h"),
        (3725, "1h2m5s"),
    ],
)
def test_durations_read_like_a_person_writes_them(seconds: float, shown: str) -> None:
    assert message.duration(seconds) == shown
