"""A stale asset's email, end to end: the scheduler finds the asset stale on a fake clock,
and the outbox sends it through a real SMTP server (aiosmtpd), once."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading
from pathlib import Path
from typing import Any

from baton.engine.service import Engine
from baton.execution.loader import LoadedFlow
from baton.execution.secrets import Secrets
from baton.model.yaml_spec import load_yaml_flow
from baton.notify import outbox
from baton.scheduling.registration import deploy
from baton.scheduling.scheduler import Scheduler
from baton.settings import Settings
from baton.store.store import Store
from engine_kit import Clock
from local_http import LocalServer

BASE_URL = "http://baton.example:8080"
START = 1_767_571_200.0  # 2026-01-05T00:00:00Z
FLOW = """
name: warehouse
assets:
  - name: warehouse.orders
    owner: data@example.com
    freshness: {max_lag: 6h}
    notifications: [{on: [stale], email: [data@example.com]}]
tasks: [{key: load, type: shell, outputs: [warehouse.orders]}]
"""


def test_a_stale_asset_is_emailed_once_with_a_link_to_it(tmp_path: Path, smtp) -> None:
    box, port = smtp
    url = f"sqlite:///{tmp_path}/baton.db"
    settings = Settings(
        home=str(tmp_path),
        database_url=url,
        base_url=BASE_URL,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="baton@example.com",
    )
    store = Store(url)
    try:
        deploy(store, [LoadedFlow(load_yaml_flow(textwrap.dedent(FLOW), file="w.yaml"))])
        clock = Clock(START)
        scheduler = Scheduler(Engine(store, clock=clock), clock=clock)
        with store.transaction() as tx:
            tx.report_materialization("warehouse.orders", {}, None, None, "dbt", START)
        scheduler.tick()
        clock.now = START + 6 * 3600 + 1
        for _ in range(3):
            scheduler.tick()
            # A send is synchronous: what is due is in the mailbox when this returns.
            outbox.deliver_due(store, settings, clock.now, secrets=Secrets.empty, timeout=10)
            clock.now += 60
    finally:
        store.close()
    ((to, msg),) = box.received
    assert to == ["data@example.com"]
    assert msg["Subject"] == "[baton] asset warehouse.orders is stale"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    body = text.get_content().replace("\r\n", "\n")
    for expected in (
        "Asset: warehouse.orders",
        "Last update: 2026-01-05T00:00:00.000000Z",
        "Due: 2026-01-05T06:00:00.000000Z",
        "Freshness: at most 6h old",
        f"See the asset: {BASE_URL}/assets/warehouse.orders",
    ):
        assert expected in body, body
    assert f"href='{BASE_URL}/assets/warehouse.orders'" in html.get_content()


class Hooks(http.server.BaseHTTPRequestHandler):
    received: list[Any] = []
    changed = threading.Condition()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Hooks.changed:
            Hooks.received.append(body)
            Hooks.changed.notify_all()
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_baton_scheduler_tells_a_webhook_when_a_reported_asset_goes_stale(baton, write) -> None:
    Hooks.received = []
    server = LocalServer(Hooks)
    try:
        write(
            "w.yaml",
            f"""
            name: warehouse
            assets:
              - name: vendor.prices
                freshness: {{max_lag: 1}}
                notifications: [{{on: [stale], webhook: "{server.url}/stale"}}]
            tasks: [{{key: use, type: shell, command: "true", inputs: [vendor.prices]}}]
            """,
        )
        baton.env["BATON_BASE_URL"] = BASE_URL
        baton("deploy", "w.yaml")
        baton("assets", "report", "vendor.prices")
        baton.start("scheduler", "--path", ".")
        # The real clock: stale a second after the report, told within a tick and a send.
        with Hooks.changed:
            assert Hooks.changed.wait_for(lambda: Hooks.received, 30), "no webhook received"
            (body,) = Hooks.received
    finally:
        server.close()
    assert (body["event"], body["asset"], body["state"]) == ("stale", "vendor.prices", "stale")
    assert body["url"] == f"{BASE_URL}/assets/vendor.prices"
    assert body["freshness"] == {"max_lag": 1.0}
