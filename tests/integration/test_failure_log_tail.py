"""Failure emails and webhooks carry the last 20 lines of the failed attempt's log, secret
values masked: read from the log file (one machine), or from what the worker shipped to the
store (cluster: the sender is on another machine than the worker, so it has no file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from borrow import borrow

_n = borrow(Path(__file__).with_name("test_notifications.py"))  # its SMTP and webhook servers
mailbox, hooks, base_url = _n.mailbox, _n.hooks, _n.base_url

TOKEN = "hush-4b3a2918"
FLOW = """
name: noisy
notifications:
  - {{on: [failure], email: [oncall@example.com]}}
  - {{on: [failure], webhook: "{hook}"}}
tasks:
  - key: chatty
    type: shell
    command: "for i in $(seq 1 30); do echo line $i; done; echo token ${{secret:TOKEN}}; exit 4"
"""
# The last 20 lines: the runner logs the error last.
TAIL = [f"line {i}" for i in range(13, 31)] + ["token ***", "error: the command exited with code 4"]


def check(mail: Any, webhook: dict[str, Any]) -> None:
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "    Last lines of its log:\n" + "".join(f"    | {x}\n" for x in TAIL) in text, text
    assert "line 12\n" not in text and TOKEN not in text
    html = mail.get_body(("html",)).get_content()
    assert "line 30" in html and "line 12\n" not in html and TOKEN not in html
    (failed,) = webhook["failed_tasks"]
    assert failed["log_tail"].splitlines() == TAIL
    assert failed["error"] == "the command exited with code 4"


def test_a_failure_notification_has_the_end_of_the_log(
    baton: Any, write: Callable[[str, str], str], mailbox: Any, hooks: Any
) -> None:
    baton.env["BATON_SECRET_TOKEN"] = TOKEN
    write("noisy.yaml", FLOW.format(hook=f"{hooks.url}/hook"))
    baton.run("noisy.yaml", check=1)
    ((_, mail),) = mailbox.received
    (body,) = hooks.wait_for(1)
    check(mail, body)


@pytest.mark.postgres
def test_in_cluster_mode_it_comes_from_the_shipped_log(
    baton: Any,
    write: Callable[[str, str], str],
    mailbox: Any,
    hooks: Any,
    pg_url: str,
    workdir: Path,
    h: Any,
) -> None:
    baton.env |= {"BATON_DATABASE_URL": pg_url, "BATON_SECRET_TOKEN": TOKEN}
    write("noisy.yaml", FLOW.format(hook=f"{hooks.url}/hook"))
    run = baton.json("run", "noisy.yaml")
    scheduler = baton.start("scheduler")  # sends notifications, never sees a log file
    sender_home = baton.env["BATON_HOME"]
    baton.env["BATON_HOME"] = str(workdir / "worker-home")  # another machine's disk
    worker = baton.start("worker")
    baton.env["BATON_HOME"] = sender_home
    h.wait_until(lambda: mailbox.received, timeout=60, what="the failure email")
    (body,) = hooks.wait_for(1)
    assert body["run_id"] == run["id"]
    assert not (workdir / ".baton" / "logs").exists()  # so the store's copy was read
    check(mailbox.received[0][1], body)
    for p in (scheduler, worker):
        p.terminate()
        p.wait(timeout=20)
