"""What an escalation step and an approval_required notification say."""

from __future__ import annotations

from typing import Any

from baton.notify import message

RUN = {"flow": "etl", "run_id": "abc", "url": "http://b/runs/abc"}


def test_a_step_says_which_it_is_and_after_how_long() -> None:
    p: dict[str, Any] = RUN | {
        "event": "failure",
        "state": "failed",
        "failed_tasks": [{"key": "load", "error": "boom"}],
        "escalation": {"step": 2, "steps": 3, "after": 3600.0},
    }
    assert message.subject(p) == "[baton] escalation 2/3 after 1h: flow etl run abc failed"
    assert message.slack(p)["text"] == (
        "escalation 2/3 after 1h: flow etl run abc failed: http://b/runs/abc"
    )
    assert "boom" in message.text(p)


def test_an_approval_and_a_tasks_own_failure_name_the_task() -> None:
    task = {"key": "deploy", "map_index": None, "task_run_id": 7, "attempt": 1}
    waiting = RUN | {"event": "approval_required", "state": "waiting", "task": task}
    assert message.summary(waiting) == "flow etl run abc: task deploy is waiting for an approval"
    failed = RUN | {"event": "failure", "task": task | {"map_index": 3}, "failed_tasks": []}
    assert message.summary(failed) == "flow etl run abc: task deploy[3] failed"
