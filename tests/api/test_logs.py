"""Log routes: pages of an attempt's log, and its live tail as server-sent events."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from baton.execution.logs import log_path
from waiting import wait_until

LINES = 3000


def run_to_end(client_for, worker, flow: str, params: dict[str, Any] | None = None) -> str:
    r = client_for("operator").post(f"/api/v1/flows/{flow}/runs", json={"params": params or {}})
    assert r.status_code == 201, r.text
    worker.wake()
    viewer = client_for("viewer")
    wait_until(
        lambda: viewer.get(f"/api/v1/runs/{r.json()['id']}").json()["state"] == "succeeded",
        timeout=20,
        what="the run to succeed",
    )
    run_id: str = r.json()["id"]
    return run_id


def events(lines: list[str]) -> list[dict[str, str]]:
    """SSE lines as events: {"event", "id", "data"} (data lines joined by newlines)."""
    out: list[dict[str, str]] = []
    current: dict[str, Any] = {}
    for line in lines:
        if not line:
            if current:
                out.append({**current, "data": "\n".join(current.get("data", []))})
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            if field == "data":
                current.setdefault("data", []).append(value)
            else:
                current[field] = value
    return out


def test_pages_of_a_log_join_up_to_the_whole_file(client_for, define, worker, settings):
    # Two-byte characters: pages of an odd size must not cut one in half.
    define(
        "name: talk\ntasks:\n"
        f"  - {{key: t, type: shell, command: 'for i in $(seq {LINES}); do echo \"é $i\"; done'}}\n"
    )
    run_id = run_to_end(client_for, worker, "talk")
    whole = Path(log_path(settings, run_id, "t", 1)).read_text()
    assert whole.count("\n") == LINES
    viewer = client_for("viewer")
    texts, offset, pages = [], 0, 0
    while True:
        page = viewer.get(
            f"/api/v1/runs/{run_id}/logs/t", params={"offset": offset, "limit": 4097}
        ).json()
        assert (page["run_id"], page["task"], page["attempt"], page["offset"]) == (
            run_id,
            "t",
            1,
            offset,
        )
        assert "\ufffd" not in page["text"]
        texts.append(page["text"])
        offset, pages = page["next_offset"], pages + 1
        if page["complete"]:
            break
        assert pages < 100
    assert "".join(texts) == whole and pages > 3
    default = viewer.get(f"/api/v1/runs/{run_id}/logs/t").json()
    assert default["text"] == whole and default["complete"] is True  # 64 KiB by default
    past = viewer.get(f"/api/v1/runs/{run_id}/logs/t", params={"offset": offset}).json()
    assert (past["text"], past["next_offset"], past["complete"]) == ("", offset, True)


def test_mapped_tasks_attempts_and_what_is_not_there(client_for, define, worker, tmp_path):
    define(
        "name: fan\ntasks:\n"
        f"  - {{key: rows, type: sql, url: 'sqlite:///{tmp_path}/x.db', "
        "sql: \"SELECT 'a' AS v UNION ALL SELECT 'b'\"}\n"
        "  - {key: each, type: shell, command: 'echo item {{ item.v }}', map_over: rows}\n"
        "  - {key: quiet, type: shell, command: 'true'}\n"
    )
    run_id = run_to_end(client_for, worker, "fan")
    viewer = client_for("viewer")

    def log(task: str, **query: Any) -> Any:
        return viewer.get(f"/api/v1/runs/{run_id}/logs/{task}", params=query)

    assert log("each.1").json()["text"] == "item b\n"
    assert log("each[0]").json()["task"] == "each.0"
    assert log("quiet").json() | {"run_id": "", "task": ""} == {
        "run_id": "",
        "task": "",
        "attempt": 1,
        "offset": 0,
        "next_offset": 0,
        "text": "",
        "complete": True,
    }  # it printed nothing: no file, an empty log
    for task, query, detail in (
        ("nope", {}, f"run {run_id} has no task 'nope'"),
        ("each.7", {}, f"run {run_id} has no task 'each.7'"),
        ("quiet", {"attempt": 2}, f"task 'quiet' of run {run_id} has 1 attempt(s), not 2"),
    ):
        r = log(task, **query)
        assert (r.status_code, r.json()["detail"]) == (404, detail)
    assert log("each", attempt=0).status_code == 422
    assert viewer.get("/api/v1/runs/nope/logs/x").status_code == 404
    assert client_for(None).get(f"/api/v1/runs/{run_id}/logs/quiet").status_code == 401


def test_stream_of_an_ended_attempt_sends_it_all_then_ends(client_for, define, worker, settings):
    define(
        "name: talk\ntasks:\n"
        "  - {key: t, type: shell, command: 'printf \"one\\ntwo\\r\\nthree\"'}\n"
    )
    run_id = run_to_end(client_for, worker, "talk")
    viewer = client_for("viewer")
    with viewer.stream("GET", f"/api/v1/runs/{run_id}/logs/t/stream") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        got = events(list(r.iter_lines()))
    size = Path(log_path(settings, run_id, "t", 1)).stat().st_size
    assert got == [
        {"id": str(size), "data": "one\ntwo\nthree"},
        {"event": "end", "data": json.dumps({"next_offset": size, "complete": True})},
    ]
    # From an offset (or a reconnecting client's Last-Event-ID): only what comes after it.
    with viewer.stream("GET", f"/api/v1/runs/{run_id}/logs/t/stream?offset=4") as r:
        assert events(list(r.iter_lines()))[0]["data"] == "two\nthree"
    headers = {"Last-Event-ID": str(size)}
    with viewer.stream("GET", f"/api/v1/runs/{run_id}/logs/t/stream", headers=headers) as r:
        assert [e.get("event") for e in events(list(r.iter_lines()))] == ["end"]


def test_stream_follows_a_running_attempt(client_for, define, worker, tmp_path: Path):
    go = tmp_path / "go"
    define(
        "name: live\ntasks:\n"
        "  - key: t\n    type: shell\n"
        f"    command: 'echo first; for i in $(seq 400); do [ -f {go} ] && break; "
        "sleep 0.05; done; echo second'\n"
    )
    operator, viewer = client_for("operator"), client_for("viewer")
    run_id = operator.post("/api/v1/flows/live/runs", json={}).json()["id"]
    worker.wake()
    wait_until(
        lambda: viewer.get(f"/api/v1/runs/{run_id}/logs/t").status_code == 200,
        timeout=20,
        what="the task to start",
    )
    with viewer.stream("GET", f"/api/v1/runs/{run_id}/logs/t/stream") as r:
        lines = r.iter_lines()
        seen = []
        for line in lines:  # the first line arrives while the task still runs
            seen.append(line)
            if line == "data: first":
                break
        go.write_text("")  # now let it end
        seen += list(lines)
    got = events(seen)
    assert "".join(e["data"] + "\n" for e in got if "event" not in e).split() == [
        "first",
        "second",
    ]
    assert got[-1]["event"] == "end" and json.loads(got[-1]["data"])["complete"] is True


def test_times_say_when_each_line_was_written(client_for, define, worker):
    # Lines written 1 s apart by a child process: each line's time is when
    # it was written, between the run's trigger and its end. A time is taken
    # when the log's reader thread gets the line, so a loaded machine can
    # make the first one late: the bound on the gap leaves room for that.
    define(
        "name: slow\ntasks:\n"
        "  - {key: t, type: shell, command: 'echo first; echo same write; sleep 1; "
        'printf "second\\nthird, no newline"\'}\n'
    )
    before = time.time() * 1000
    run_id = run_to_end(client_for, worker, "slow")
    after = time.time() * 1000
    viewer = client_for("viewer")
    page = viewer.get(f"/api/v1/runs/{run_id}/logs/t", params={"times": "true"}).json()
    assert page["text"] == "first\nsame write\nsecond\nthird, no newline"
    first, same, second, third = page["times"]
    assert second - first >= 700 and third == second
    assert first <= same < first + 300
    assert before <= first and third <= after  # stamped as written, not made up
    # A page from the middle of a line: the first time is that line's.
    mid = viewer.get(
        f"/api/v1/runs/{run_id}/logs/t", params={"times": "true", "offset": 2, "limit": 9}
    ).json()
    assert (mid["text"], mid["times"]) == ("rst\nsame ", [first, same])
    # Without asking, pages are as they were.
    assert "times" not in viewer.get(f"/api/v1/runs/{run_id}/logs/t").json()
    with viewer.stream("GET", f"/api/v1/runs/{run_id}/logs/t/stream?times=true") as r:
        got = events(list(r.iter_lines()))
    assert [e.get("event") for e in got] == ["times", None, "end"]
    assert json.loads(got[0]["data"]) == page["times"] and got[1]["data"] == page["text"]


def test_times_under_concurrent_readers_and_bad_input(client_for, define, worker):
    define(
        "name: many\ntasks:\n"
        "  - {key: t, type: shell, command: 'for i in $(seq 2000); do echo \"line $i\"; done'}\n"
    )
    run_id = run_to_end(client_for, worker, "many")
    viewer = client_for("viewer")
    url = f"/api/v1/runs/{run_id}/logs/t"
    whole = viewer.get(url, params={"times": "true", "limit": 1 << 20}).json()
    assert len(whole["times"]) == 2000 and None not in whole["times"]
    offsets = list(range(0, whole["next_offset"], whole["next_offset"] // 200))[:200]

    def page(offset: int) -> tuple[int, dict[str, Any]]:
        r = viewer.get(url, params={"times": "true", "offset": offset, "limit": 700})
        return r.status_code, r.json()

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(page, offsets))
    for offset, (status, got) in zip(offsets, answers, strict=True):
        assert status == 200
        first = whole["text"].encode()[:offset].count(b"\n")  # the line `offset` is in
        assert got["times"] == whole["times"][first : first + len(got["times"])]
    bad = viewer.get(url, params={"times": "maybe"})
    assert bad.status_code == 422 and "times" in bad.text
