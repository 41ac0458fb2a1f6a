"""Every time names its zone; a schedule's times are in the schedule's own zone."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from baton.api.auth import create_token
from baton.engine.service import Engine
from baton.model.spec import FlowSpec, TaskSpec
from baton.store.store import Store
from baton.ui import views

TASKS = (TaskSpec(key="a", type="shell", config={"command": "true"}),)


def sign_in(client: TestClient, store: Store) -> None:
    with store.transaction() as tx:
        token = create_token(tx, "vic", "viewer")[1]
    r = client.post("/login", data={"token": token, "next": "/flows"}, follow_redirects=False)
    assert r.status_code == 303


def test_zone_names_and_times_in_a_zone() -> None:
    winter = datetime(2026, 12, 5, 1, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    summer = datetime(2026, 7, 5, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert views.when(winter) == "2026-12-05 01:00:00"
    assert views.zone_name(winter) == "UTC"
    assert views.when(winter, "Europe/Paris") == "2026-12-05 02:00:00"
    assert views.zone_name(winter, "Europe/Paris") == "CET"
    assert views.zone_name(summer, "Europe/Paris") == "CEST"
    assert views.schedule_zone({"cron": "0 2 * * *", "timezone": "Europe/Paris"}) == "Europe/Paris"
    assert views.schedule_zone({"cron": "0 2 * * *", "timezone": "UTC"}) == "UTC"
    assert views.schedule_zone("0 2 * * *") == "UTC"
    assert views.zone_name(winter, "UTC") == "UTC"
    assert views.schedule_zone(None) is None


def test_a_schedule_in_paris_shows_its_next_run_in_paris_time(
    client: TestClient, store: Store
) -> None:
    engine = Engine(store)
    schedule = {"cron": "0 2 * * *", "timezone": "Europe/Paris"}
    engine.register(FlowSpec(name="paris", schedule=schedule, tasks=TASKS))
    engine.register(FlowSpec(name="plain", schedule="0 2 * * *", tasks=TASKS))
    with store.transaction() as tx:
        tx.mark_deployed("paris", 0)
        tx.mark_deployed("plain", 0)
    sign_in(client, store)
    for path in ("/flows", "/flows/paris"):
        html = client.get(path).text
        found = re.search(
            r'<time datetime="([^"]+)" data-zone="Europe/Paris" title="([^"]+) UTC">'
            r'([^<]+) <span class="tz">(CES?T)</span></time>',
            html,
        )
        assert found, html
        at = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
        # 02:00 in Paris, said as such, and the same instant in UTC on hover.
        assert found.group(3).endswith(" 02:00:00"), found.group(3)
        assert at.astimezone(ZoneInfo("Europe/Paris")).hour == 2
        assert found.group(2) == at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S")
    plain = client.get("/flows/plain").text
    assert re.search(
        r'<time datetime="[^"]+" data-zone="UTC" title="[^"]+">'
        r'[\d-]+ 02:00:00 <span class="tz">UTC</span>',
        plain,
    ), plain
