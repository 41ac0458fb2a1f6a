"""Round 2 of the UI in a real browser: phone and tablet layouts (no sideways scrolling, a
folding menu, tables that scroll in their card, a graph that fits), light and dark, and a
flow's version diff reached from the "showing version" note."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from waiting import wait_until

Shot = Callable[..., None]
Server = Any
SIZES = {"phone": (390, 844), "tablet": (768, 1024)}


def sign_in(page: Page, server: Server, token: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flows")


def finished_run(server: Server, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    made = httpx.post(
        f"{server.url}/api/v1/flows/orders_daily/runs", json={"params": {}}, headers=headers
    )
    assert made.status_code == 201, made.text
    run_id: str = made.json()["id"]

    def ended() -> bool:
        r = httpx.get(f"{server.url}/api/v1/runs/{run_id}", headers=headers)
        return r.json()["state"] in ("succeeded", "failed")

    wait_until(ended, what="the run to end")
    return run_id


def define_and_trigger(server: Server, editor: str, operator: str, yaml: str) -> str:
    """Define the flow `yaml` (as `editor`) and start a run of it (as `operator`): its id."""
    r = httpx.post(
        f"{server.url}/api/v1/flows",
        content=yaml,
        headers={"Authorization": f"Bearer {editor}", "Content-Type": "application/yaml"},
    )
    assert r.status_code in (200, 201), r.text
    name = yaml.split("\n", 1)[0].removeprefix("name: ")
    made = httpx.post(
        f"{server.url}/api/v1/flows/{name}/runs",
        json={"params": {}},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert made.status_code == 201, made.text
    run_id: str = made.json()["id"]
    return run_id


def test_phone_and_tablet_layouts(server: Server, browser: Browser, shot: Shot) -> None:
    token = server.token("phil", "admin")
    run_id = finished_run(server, token)
    pages = {
        "flows": "/flows",
        "flow": "/flows/orders_daily",
        "runs": "/runs",
        "run": f"/runs/{run_id}",
        "task": f"/runs/{run_id}/tasks/quality_check",
        "workers": "/workers",
        "diff": "/flows/orders_daily/diff",
    }
    errors: list[str] = []
    for scheme in ("light", "dark"):
        for size, (width, height) in SIZES.items():
            context = browser.new_context(
                viewport={"width": width, "height": height}, color_scheme=scheme
            )
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            sign_in(page, server, token)
            for name, path in pages.items():
                page.goto(server.url + path)
                # Nothing sideways: the page is as wide as the window.
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, (name, size, wide)
                # The side bar is a top bar; the page's content takes the whole width.
                box = page.locator("main").bounding_box()
                assert box and box["width"] >= width - 2, (name, size, box)
                expect(page.locator(".side li a[href='/runs']")).to_be_hidden()
                shot(page, f"r2-{name}-{size}-{scheme}", full_page=False)
            # The menu folds out, and its links work.
            page.goto(server.url + "/flows")
            toggle = page.locator("[data-menu]")
            expect(toggle).to_have_attribute("aria-expanded", "false")
            toggle.click()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            expect(page.locator(".side .me")).to_be_visible()
            shot(page, f"r2-menu-{size}-{scheme}", full_page=False)
            page.locator(".side li a[href='/runs']").click()
            page.wait_for_url(f"{server.url}/runs")
            expect(page.locator(".side li a[href='/flows']")).to_be_hidden()  # closed again
            if size == "phone":
                # A wide table scrolls inside its card, not the page.
                page.goto(server.url + "/flows")
                table = page.locator("table.flows")
                assert table.evaluate("t => t.scrollWidth > t.clientWidth")
                assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto"
            # The run's small graph fits its box: every task is in view.
            page.goto(f"{server.url}/runs/{run_id}")
            view = page.locator(".dag-view").bounding_box()
            assert view
            nodes = page.locator(".dag-view .n")
            expect(nodes).to_have_count(6)
            for node in nodes.all():
                b = node.bounding_box()
                assert (
                    b
                    and view["x"] <= b["x"]
                    and b["x"] + b["width"] <= view["x"] + view["width"] + 1
                ), (size, b, view)
            context.close()
            assert not errors, errors


def test_a_wide_window_keeps_the_side_bar(server: Server, page: Page) -> None:
    sign_in(page, server, server.token("wendy", "viewer"))
    expect(page.locator(".side li a[href='/runs']")).to_be_visible()
    expect(page.locator("[data-menu]")).to_be_hidden()
    side = page.locator("nav.side").bounding_box()
    assert side and side["width"] == 216 and side["height"] >= 900


def test_a_run_of_an_older_definition_links_to_what_changed(
    server: Server, page: Page, shot: Shot
) -> None:
    operator = server.token("otto", "operator")
    editor = server.token("edna", "editor")
    old_run = finished_run(server, operator)
    flow = (server.cwd / "flows" / "orders.yaml").read_text()
    changed = flow.replace('command: "echo report"', 'command: "echo the report, changed"')
    changed += (
        '  - key: publish\n    type: shell\n    command: "echo publish"\n    depends_on: [report]\n'
    )
    r = httpx.post(
        f"{server.url}/api/v1/flows",
        content=changed,
        headers={"Authorization": f"Bearer {editor}", "Content-Type": "application/yaml"},
    )
    assert r.status_code in (200, 201), r.text
    sign_in(page, server, operator)

    page.goto(f"{server.url}/flows/orders_daily?run={old_run}")
    note = page.locator("[data-older-version]")
    expect(note).to_contain_text(f"the version run {old_run[:8]} ran")
    note.get_by_role("link", name="What changed since").click()
    page.wait_for_url(re.compile(r"/flows/orders_daily/diff\?from=\w+&to=\w+"))
    summary = page.locator("[data-diff-summary]")
    expect(summary).to_contain_text("Tasks added: publish")
    expect(summary).to_contain_text("Tasks changed: report")
    expect(page.locator("[data-diff] .add", has_text="echo the report, changed")).to_have_count(1)
    expect(page.locator("[data-diff] .del", has_text='"echo report"')).to_have_count(1)
    shot(page, "r2-diff")
    # Picking the same version on both sides: nothing to compare.
    to = page.locator("#diff-to").input_value()
    page.select_option("#diff-from", to)
    page.wait_for_url(re.compile(rf"from={to}"))
    expect(page.locator("main")).to_contain_text("nothing to compare")

    # The latest run ran the latest definition: no note.
    new_run = finished_run(server, operator)
    page.goto(f"{server.url}/flows/orders_daily?run={new_run}")
    expect(page.locator("h1")).to_have_text("orders_daily")
    expect(page.locator("[data-older-version]")).to_have_count(0)


def test_times_show_their_zone_in_the_zone_the_user_chose(
    server: Server, browser: Browser, shot: Shot
) -> None:
    editor = server.token("zoe", "editor")
    r = httpx.post(
        f"{server.url}/api/v1/flows",
        content="name: paris_nightly\nschedule: {cron: '0 2 * * *', timezone: Europe/Paris}\n"
        "tasks: [{key: a, type: shell, command: 'true'}]\n",
        headers={"Authorization": f"Bearer {editor}", "Content-Type": "application/yaml"},
    )
    assert r.status_code in (200, 201), r.text
    run_id = finished_run(server, server.token("omar", "operator"))
    context = browser.new_context(
        viewport={"width": 1440, "height": 960}, timezone_id="America/New_York"
    )
    page = context.new_page()
    sign_in(page, server, editor)
    page.goto(f"{server.url}/runs/{run_id}")
    created = page.locator(".facts time").first
    utc = created.inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", utc), utc
    when = created.get_attribute("datetime")
    assert when

    def shown_in(zone: str) -> str:
        return page.evaluate(
            """([iso, zone]) => { const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
                 timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
                 minute: "2-digit", second: "2-digit", hourCycle: "h23"})
                 .formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
               return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`; }""",
            [when, zone],
        )

    # A named zone: every time moves to it, and says so; the choice outlives the page.
    page.select_option("[data-tz]", "Asia/Tokyo")
    expect(created).to_have_text(f"{shown_in('Asia/Tokyo')} GMT+9")
    page.reload()
    expect(created).to_have_text(f"{shown_in('Asia/Tokyo')} GMT+9")
    expect(page.locator("[data-tz]")).to_have_value("Asia/Tokyo")
    # The browser's own zone.
    page.select_option("[data-tz]", "local")
    expect(created).to_have_text(
        re.compile(rf"^{shown_in('America/New_York')} (EST|EDT|GMT-[45])$")
    )
    # A schedule's next run stays in the schedule's zone, with the chosen zone on hover.
    page.goto(f"{server.url}/flows")
    row = page.locator("tr", has=page.locator("a", has_text="paris_nightly"))
    nxt = row.locator("time[data-zone]")
    expect(nxt).to_have_text(re.compile(r" 02:00:00 (CET|CEST|GMT\+[12])$"))
    assert "GMT-5" in (nxt.get_attribute("title") or "") or "EST" in (
        nxt.get_attribute("title") or ""
    )
    # A schedule that names no zone fires in UTC, and says so.
    utc_row = page.locator("tr", has=page.locator("a", has_text="orders_daily"))
    expect(utc_row.locator("time[data-zone]")).to_have_text(re.compile(r" 06:00:00 UTC$"))
    # Relative times carry the absolute one on hover, in the chosen zone.
    ago = page.locator("time.ago").first
    expect(ago).to_have_text(re.compile(r"ago|just now"))
    assert re.search(r"\d{2}:\d{2}:\d{2} (EST|EDT|GMT-[45])", ago.get_attribute("title") or "")
    shot(page, "r2-time-zones")
    # Back to UTC: as served.
    page.goto(f"{server.url}/runs/{run_id}")
    page.select_option("[data-tz]", "utc")
    expect(page.locator(".facts time").first).to_have_text(utc)
    context.close()


def test_the_flows_list_trigger_shortcut_opens_the_trigger_form(
    server: Server, page: Page, shot: Shot
) -> None:
    sign_in(page, server, server.token("tina", "operator"))
    row = page.locator("tr", has=page.locator("a.strong", has_text="orders_daily"))
    # Labels stay on one line: each cell of the row is one line high or the name's two.
    for cell in ("td:nth-child(4)", "td:nth-child(5)", "td:nth-child(6)"):
        box = row.locator(cell).locator("> *").first.bounding_box()
        assert box and box["height"] < 34, (cell, box)
    shot(page, "r2-flows-list")
    row.locator("[data-trigger-shortcut]").click()
    page.wait_for_url(f"{server.url}/flows/orders_daily")
    dialog = page.locator("dialog#trigger")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=day]")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_a_log_downloads_whole_as_text(server: Server, page: Page) -> None:
    operator = server.token("lou", "operator")
    run_id = finished_run(server, operator)
    sign_in(page, server, operator)
    page.goto(f"{server.url}/runs/{run_id}/tasks/extract_orders")
    expect(page.locator("[data-log-status]")).to_have_text("Complete")
    with page.expect_download() as info:
        page.locator("[data-log-download]").click()
    download = info.value
    assert download.suggested_filename == "extract_orders.attempt1.log"
    text = Path(download.path()).read_text()
    assert text == "".join(f"extracted batch {i} of 2024-06-01\n" for i in range(1, 11))
    page.uncheck("[data-log-times]")  # the page shows each line's time; the download has none
    assert page.locator("pre[data-log]").inner_text().strip() == text.strip()


def test_the_log_viewer_searches_numbers_lines_and_filters_levels(
    server: Server, page: Page, shot: Shot
) -> None:
    operator = server.token("liv", "operator")
    editor = server.token("eli", "editor")
    chatty = define_and_trigger(
        server,
        editor,
        operator,
        "name: chatty\ntasks:\n  - key: talk\n    type: shell\n    command: >-\n"
        "      echo 'INFO starting'; echo 'DEBUG details'; echo 'WARNING disk at 91%';"
        " echo 'a plain line'; echo 'ERROR could not load'; echo 'INFO done'\n",
    )
    run_id = finished_run(server, operator)
    sign_in(page, server, operator)

    # Search: every match marked, stepped through with the buttons and Enter.
    page.goto(f"{server.url}/runs/{run_id}/tasks/extract_orders")
    log = page.locator("pre[data-log]")
    expect(page.locator("[data-log-status]")).to_have_text("Complete")
    expect(log.locator(".line")).to_have_count(10)
    page.fill("[data-log-search]", "BATCH 1")
    expect(log.locator("mark")).to_have_count(2)  # batch 1 and batch 10
    expect(page.locator("[data-log-count]")).to_have_text("1 of 2")
    expect(log.locator("mark.current")).to_have_text("batch 1")
    page.click("[data-log-next]")
    expect(page.locator("[data-log-count]")).to_have_text("2 of 2")
    assert log.locator("mark.current").evaluate("m => m.closest('.line').id") == "L10"
    page.press("[data-log-search]", "Enter")
    expect(page.locator("[data-log-count]")).to_have_text("1 of 2")
    page.click("[data-log-prev]")
    expect(page.locator("[data-log-count]")).to_have_text("2 of 2")
    page.fill("[data-log-search]", "no such text")
    expect(page.locator("[data-log-count]")).to_have_text("0 of 0")
    page.fill("[data-log-search]", "")
    expect(log.locator("mark")).to_have_count(0)
    third = log.inner_text().splitlines()[2]  # unmarked, after its time
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} extracted batch 3 of 2024-06-01", third)
    # Line numbers are links to their line; the link opens with the line marked.
    log.locator("#L3 a.ln").click()
    assert page.url.endswith("#L3")
    expect(log.locator("#L3")).to_have_class(re.compile("target"))
    page.reload()
    expect(log.locator("#L3")).to_have_class(re.compile("target"))
    expect(log.locator(".line.target")).to_have_count(1)
    expect(page.locator("[data-log-level]")).to_be_hidden()  # no line says a level

    # Levels: offered when lines carry one; lower levels hidden, plain lines kept.
    page.goto(f"{server.url}/runs/{chatty}/tasks/talk")
    expect(page.locator("[data-log-status]")).to_have_text("Complete")
    level = page.locator("[data-log-level]")
    expect(level).to_be_visible()
    page.select_option("[data-log-level]", "2")
    expect(log.locator(".line:visible")).to_have_count(3)
    page.uncheck("[data-log-times]")
    assert log.inner_text().splitlines() == [
        "WARNING disk at 91%",
        "a plain line",
        "ERROR could not load",
    ]
    shot(page, "r2-log-viewer")
    page.select_option("[data-log-level]", "")
    expect(log.locator(".line:visible")).to_have_count(6)


def test_every_log_line_shows_when_it_was_written(
    server: Server, page: Page, shot: Shot, tmp_path: Path
) -> None:
    operator = server.token("lena", "operator")
    editor = server.token("ed", "editor")
    go = tmp_path / "go"
    run_id = define_and_trigger(
        server,
        editor,
        operator,
        "name: stamped\ntasks:\n  - key: t\n    type: shell\n    command: >-\n"
        f"      echo one; echo two; sleep 1.2; echo three; while [ ! -f {go} ]; do sleep 0.05;"
        " done; printf 'four\\rfive\\n'\n",
    )
    sign_in(page, server, operator)
    page.goto(f"{server.url}/runs/{run_id}/tasks/t")
    log = page.locator("pre[data-log]")
    # The first lines come with the page; the rest live (server-sent events), stamped too.
    expect(log.locator(".line")).to_have_count(3, timeout=20_000)
    expect(page.locator("[data-log-status]")).to_have_text("Live")
    live: list[str] = []
    page.on("console", lambda m: live.append(m.text) if m.text.startswith("line ") else None)
    page.evaluate(
        """box => new MutationObserver((changes) => { for (const c of changes)
             for (const n of c.addedNodes) console.log(`line ${n.lastChild.textContent} `
               + (n.querySelector('.lt').dataset.ms || 'none')); }
           ).observe(box, { childList: true })""",
        log.element_handle(),
    )
    go.write_text("")
    wait_until(lambda: len(live) >= 2 or page.wait_for_timeout(20), what="the live lines")
    assert [x.rsplit(" ", 1)[0] for x in live] == ["line four", "line five"]
    assert all(x.rsplit(" ", 1)[1].isdigit() for x in live), live
    # The page reloads when the attempt ends; then every line comes from the page API.
    expect(page.locator("[data-log-status]")).to_have_text("Complete", timeout=20_000)
    stamps = log.locator(".lt").evaluate_all("ts => ts.map(t => [t.dateTime, t.textContent])")
    ms = [round(datetime.fromisoformat(iso).timestamp() * 1000) for iso, _ in stamps]
    assert ms[0] <= ms[1] < ms[0] + 500 and ms[2] - ms[1] >= 900 and ms[3] == ms[4]
    shown = log.inner_text().splitlines()  # the time of day to the ms, in UTC by default
    for m, text, line in zip(ms, [t for _, t in stamps], shown, strict=True):
        utc = datetime.fromtimestamp(m / 1000, UTC)
        assert text == utc.strftime("%H:%M:%S.%f")[:12] + " " and line.startswith(text)
    assert [x[13:] for x in shown] == ["one", "two", "three", "four", "five"]
    expect(log.locator(".lt").first).to_be_visible()
    shot(page, "r2-log-times")
    # Not copied with the line: the time cannot be selected.
    assert log.locator(".lt").first.evaluate("t => getComputedStyle(t).userSelect") == "none"
    # The chosen time zone applies (Tokyo: UTC+9), and the title gives the date.
    page.select_option("[data-tz]", "Asia/Tokyo")
    first = datetime.fromtimestamp(ms[0] / 1000, UTC) + timedelta(hours=9)
    expect(log.locator(".lt").first).to_have_text(first.strftime("%H:%M:%S.%f")[:12] + " ")
    log.locator(".lt").first.hover()
    expect(log.locator(".lt").first).to_have_attribute(
        "title", first.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] + " GMT+9"
    )
    page.select_option("[data-tz]", "utc")
    page.uncheck("[data-log-times]")
    expect(log.locator(".lt").first).to_be_hidden()
    assert log.inner_text().splitlines() == ["one", "two", "three", "four", "five"]


def test_relative_times_keep_true_and_no_output_waits_for_the_log(
    server: Server, browser: Browser
) -> None:
    operator = server.token("tim", "operator")
    run_id = finished_run(server, operator)
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    page.clock.install()  # the page's clock, moved by the test rather than waited for
    sign_in(page, server, operator)
    page.goto(f"{server.url}/runs")
    row = page.locator("tr", has=page.locator(f"a[href='/runs/{run_id}']"))
    expect(row.locator("time.ago")).to_have_text("just now")
    page.clock.fast_forward("10:00")
    expect(row.locator("time.ago")).to_have_text("10 min ago")
    page.clock.fast_forward("02:00:00")
    expect(row.locator("time.ago")).to_have_text("2 h ago")

    # A log on its way is not "(no output)".
    held: list[Any] = []

    def hold(route: Any) -> None:  # a named function: Playwright tags its handlers
        held.append(route)

    page.route(re.compile(r"/api/v1/runs/.*/logs/extract_customers\?"), hold)
    page.goto(f"{server.url}/runs/{run_id}/tasks/extract_customers")
    box = page.locator("pre[data-log]")
    # (each look lets Playwright deliver events, the held request among them)
    wait_until(lambda: held or page.wait_for_timeout(20), what="the log request")
    before = "el => getComputedStyle(el, '::before').content"
    assert box.evaluate(before) == "none"
    held[0].continue_()
    expect(box).to_have_text(re.compile("customers"))
    assert box.evaluate(before) == "none"
    context.close()
