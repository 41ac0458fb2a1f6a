"""What an asset's notifications say (stale, check_failed); run-shaped ones are
tests/unit/notify/test_message.py's, unchanged."""

from __future__ import annotations

from typing import Any

from baton.notify import message

URL = "http://baton.example/assets/warehouse.orders"


def stale(**more: Any) -> dict[str, Any]:
    return {
        "event": "stale",
        "asset": "warehouse.orders",
        "state": "stale",
        "last_update": "2026-01-05T05:30:00.000000Z",
        "due": "2026-01-06T07:00:00.000000Z",
        "since": "2026-01-06T07:00:00.000000Z",
        "freshness": {"cron": "0 7 * * *", "timezone": "Europe/Paris", "max_lag": 3600.0},
        "url": URL,
    } | more


def check_failed(**more: Any) -> dict[str, Any]:
    return {
        "event": "check_failed",
        "asset": "warehouse.orders",
        "run_id": "1f2e3d4c5b6a7980",
        "flow": "etl",
        "task": "load",
        "check": "ids_unique",
        "severity": "error",
        "error": None,
        "metadata": {"rows": 120, "ratio": 0.5},
        "failing_rows": 3,
        "at": "2026-01-05T05:31:00.000000Z",
        "url": URL,
    } | more


def test_a_stale_asset_says_what_was_missed_and_links_the_asset():
    p = stale()
    assert message.subject(p) == "[baton] asset warehouse.orders is stale"
    assert message.text(p) == (
        "asset warehouse.orders is stale\n\n"
        "Asset: warehouse.orders\n"
        "Last update: 2026-01-05T05:30:00.000000Z\n"
        "Due: 2026-01-06T07:00:00.000000Z\n"
        "Stale since: 2026-01-06T07:00:00.000000Z\n"
        "Freshness: by each tick of 0 7 * * * (Europe/Paris), with 1h of grace\n\n"
        f"See the asset: {URL}\n"
    )
    html = message.html_body(p)
    assert f"<a href='{URL}'>See the asset</a>" in html
    assert "<th align='left'>Due</th><td>2026-01-06T07:00:00.000000Z</td>" in html


def test_a_max_lag_policy_and_a_never_updated_asset_read_plainly():
    p = stale(last_update=None, freshness={"max_lag": 21600.0})
    facts = dict(message.facts(p))
    assert facts["Last update"] == "never"
    assert facts["Freshness"] == "at most 6h old"


def test_a_failed_check_names_the_check_its_run_rows_and_metadata():
    p = check_failed()
    assert message.subject(p) == "[baton] asset warehouse.orders: check ids_unique failed"
    text = message.text(p)
    for line in (
        "Check: ids_unique",
        "Severity: error",
        "Flow: etl",
        "Run: 1f2e3d4c5b6a7980",
        "Task: load",
        "Failing rows: 3",
        "Metadata: rows=120, ratio=0.5",
        f"See the asset: {URL}",
    ):
        assert line in text, text
    assert "Why the check failed" not in text  # it ran and found rows: no error to quote


def test_a_warning_check_that_could_not_run_quotes_its_error():
    p = check_failed(severity="warn", error="OperationalError: no such table", failing_rows=20)
    assert message.summary(p) == "asset warehouse.orders: check ids_unique failed (warning)"
    text = message.text(p)
    assert "Why the check failed:\n- check ids_unique\n    OperationalError: no such table" in text
    assert "Failing rows: 20 or more" in text
    assert "<pre>OperationalError: no such table</pre>" in message.html_body(p)


def test_many_metadata_entries_are_cut_and_counted():
    p = check_failed(metadata={f"k{i}": i for i in range(12)})
    assert dict(message.facts(p))["Metadata"].endswith("k9=9 and 2 more")


def test_slack_messages_of_asset_events_link_the_asset_and_escape_markup():
    p = check_failed(error="value <> 0 & more")
    body = message.slack(p)
    assert body["text"] == f"asset warehouse.orders: check ids_unique failed: {URL}"
    assert body["blocks"][0]["text"]["text"] == (
        f"<{URL}|asset warehouse.orders: check ids_unique failed>"
    )
    assert "value &lt;&gt; 0 &amp; more" in body["blocks"][-1]["text"]["text"]
    fields = [f["text"] for b in body["blocks"] if "fields" in b for f in b["fields"]]
    assert "*Check*\nids_unique" in fields
    stale_body = message.slack(stale())
    assert stale_body["text"] == f"asset warehouse.orders is stale: {URL}"
