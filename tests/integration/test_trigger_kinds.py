"""Runs fired by file, asset and flow-completion triggers say so: their trigger is `file`,
`asset` or `flow` (not `event`), with the detail (path, asset, upstream run), in `runs
list`, `runs show`, and for runs an older baton stored as `event` too."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baton.ui import views

FLOWS = {
    "producer.yaml": (
        "name: producer\ntasks:\n"
        "  - {key: make, type: shell, command: 'echo made', outputs: [raw_orders]}\n"
    ),
    "on_file.yaml": (
        "name: on_file\ntriggers: [{file: 'inbox/*.csv'}]\n"
        "tasks: [{key: a, type: shell, command: 'true'}]\n"
    ),
    "on_asset.yaml": (
        "name: on_asset\ntriggers: [{asset: raw_orders}]\n"
        "tasks: [{key: a, type: shell, command: 'true'}]\n"
    ),
    "on_flow.yaml": (
        "name: on_flow\ntriggers: [{flow: producer}]\n"
        "tasks: [{key: a, type: shell, command: 'true'}]\n"
    ),
}


def test_event_triggered_runs_show_their_trigger_kind_and_detail(
    baton: Any, write: Callable[[str, str], str], workdir: Path, h: Any, sql: Any
) -> None:
    for name, text in FLOWS.items():
        write(name, text)
    baton("deploy", ".")
    scheduler, worker = baton.start("scheduler"), baton.start("worker")
    producer = baton.run("producer.yaml")
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "orders.csv").write_text("id\n1\n")

    def fired() -> dict[str, dict[str, Any]] | None:
        runs = {r["flow"]: r for r in baton.json("runs", "list")}
        wanted = ("on_file", "on_asset", "on_flow")
        if all(f in runs and runs[f]["state"] == "succeeded" for f in wanted):
            return runs
        return None

    runs = h.wait_until(fired, timeout=60, what="the three triggers to fire")
    for p in (scheduler, worker):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
    csv = str(workdir / "inbox" / "orders.csv")
    expected = {
        "on_file": ("file", csv),
        "on_asset": ("asset", "raw_orders"),
        "on_flow": ("flow", f"producer run {producer['id']}"),
    }
    for flow, (kind, detail) in expected.items():
        listed = runs[flow]
        assert (listed["trigger"], listed["trigger_detail"]) == (kind, detail), listed
        shown = baton.json("runs", "show", listed["id"])
        assert shown["trigger"] == kind
        assert shown["trigger_detail"] == detail
        assert views.trigger_text(shown["trigger"], shown["trigger_info"]) == f"{kind}: {detail}"
    text = baton("runs", "list").stdout
    assert f"file: {csv}" in text and "asset: raw_orders" in text

    # A database written by an older baton labelled all three `event`: shown by kind too.
    url = f"sqlite:///{workdir / '.baton' / 'baton.db'}"
    sql(url, "UPDATE runs SET trigger = 'event' WHERE flow_name LIKE 'on_%'")
    again = {r["flow"]: r for r in baton.json("runs", "list")}
    for flow, (kind, detail) in expected.items():
        assert (again[flow]["trigger"], again[flow]["trigger_detail"]) == (kind, detail)
        assert baton.json("runs", "show", again[flow]["id"])["trigger"] == kind
    # A manual run has no detail.
    assert again["producer"]["trigger"] == "manual"
    assert again["producer"]["trigger_detail"] is None
