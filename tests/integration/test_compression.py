"""A real `baton server` compresses pages, JSON and static files, names its static files
by their content (cached for good), and never holds back a live log stream."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from baton.ui import web
from server_kit import Server

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def test_pages_json_and_static_files_are_gzipped(baton) -> None:
    server = Server(baton)
    server.define(
        "name: long_flow\ndescription: "
        + "a flow with a long description. " * 60
        + "\ntasks: [{key: a, type: shell, command: 'echo hi'}]\n"
    )
    flows = server.call("GET", "/flows", "viewer", headers=GZIP)
    assert flows.status_code == 200
    assert flows.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in flows.headers["vary"].lower()
    assert flows.num_bytes_downloaded * 3 < len(flows.content), (
        flows.num_bytes_downloaded,
        len(flows.content),
    )
    assert "long_flow" in flows.text  # what was sent still decodes
    plain = server.call("GET", "/flows", "viewer", headers=IDENTITY)
    assert "content-encoding" not in plain.headers
    assert plain.content == flows.content

    page = httpx.get(f"{server.url}/login", headers=GZIP)
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == "no-store"  # pages hold live state
    names = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert {re.sub(r"\.[0-9a-f]{12}\.", ".", n) for n in names} >= {
        "/static/baton.css",
        "/static/baton.js",
        "/static/favicon.svg",
    }, names
    folder = web.HERE / "static"
    for name in names:
        assert "?" not in name  # the hash is in the name, not a query a proxy may drop
        plain_name = re.sub(r"\.[0-9a-f]{12}\.", ".", Path(name).name)
        r = httpx.get(f"{server.url}{name}", headers=GZIP)
        assert r.status_code == 200, name
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.content == (folder / plain_name).read_bytes()
        if plain_name.endswith((".js", ".css")):
            assert r.headers["content-encoding"] == "gzip"
            assert r.num_bytes_downloaded * 2 < len(r.content)
        # Asked again with its ETag: nothing to send.
        again = httpx.get(f"{server.url}{name}", headers={"If-None-Match": r.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        # The plain name (an old page, a bookmark) answers, but is checked each time.
        old = httpx.get(f"{server.url}/static/{plain_name}", headers=IDENTITY)
        assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"
        assert "content-encoding" not in old.headers
        assert old.content == r.content
    # A hash that is not the file's (an old release's name), or a file that is not there.
    for missing in ("baton.0123456789ab.css", "nope.js", "..%2Fweb.py", "%2e%2e/web.py"):
        assert httpx.get(f"{server.url}/static/{missing}").status_code == 404, missing
    assert httpx.post(f"{server.url}{names[0]}").status_code == 405


def test_a_live_log_stream_is_not_buffered_by_compression(baton, h, tmp_path: Path) -> None:
    server = Server(baton)
    flag = tmp_path / "go.flag"
    server.define(
        "name: slow_talker\ntasks:\n"
        "  - key: talk\n    type: shell\n"
        f'    command: "echo first line; until test -f {flag}; do sleep 0.05; done; '
        'echo last line"\n'
    )
    run_id = server.trigger("slow_talker")
    h.wait_until(
        lambda: (
            "first line"
            in server.call("GET", f"/runs/{run_id}/logs/talk", "viewer").json().get("text", "")
        ),
        what="the task to write its first line",
    )
    headers = {"Authorization": f"Bearer {server.tokens['viewer']}", **GZIP}
    url = f"{server.url}/api/v1/runs/{run_id}/logs/talk/stream"
    with httpx.stream("GET", url, headers=headers, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in r.headers
        seen = ""
        lines = r.iter_lines()
        # The task waits for the flag: "first line" can only come through unbuffered.
        while "first line" not in seen:
            seen += next(lines) + "\n"
        assert "last line" not in seen
        flag.write_text("go")
        for line in lines:
            seen += line + "\n"
        assert "last line" in seen and "event: end" in seen
