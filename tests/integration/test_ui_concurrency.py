"""The UI routes of round 2 under many callers at once, on a real `baton server`: the
versions diff page and the content-hashed static files."""

from __future__ import annotations

import asyncio
import re

import httpx

from server_kit import Server

CALLERS = 150


def test_150_concurrent_callers_of_the_diff_page_and_static_files(baton) -> None:
    server = Server(baton)
    for command in ("echo one", "echo two"):  # made, then changed: two versions
        r = server.call(
            "POST",
            "/flows",
            "editor",
            content=f"name: twice\ntasks: [{{key: a, type: shell, command: '{command}'}}]\n",
            headers={"Content-Type": "application/yaml"},
        )
        assert r.status_code in (200, 201), r.text
    signed = httpx.post(
        f"{server.url}/login",
        data={"token": server.tokens["viewer"], "next": "/flows"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    cookies = dict(signed.cookies)
    page = httpx.get(f"{server.url}/login")
    css = re.search(r'href="(/static/baton\.[0-9a-f]{12}\.css)"', page.text)
    assert css, page.text

    async def call_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CALLERS)
        async with httpx.AsyncClient(
            base_url=server.url, cookies=cookies, limits=limits, timeout=60
        ) as client:
            calls = []
            for i in range(CALLERS):
                if i % 3 == 0:
                    calls.append(client.get(css.group(1), headers={"Accept-Encoding": "gzip"}))
                elif i % 3 == 1:
                    calls.append(client.get("/flows/twice/diff"))
                else:
                    calls.append(client.get(f"/flows/twice/diff?from=bad{i}"))
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(call_all())
    for i, r in enumerate(answers):
        if i % 3 == 0:
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
            assert r.text.startswith("/*")
        elif i % 3 == 1:
            assert r.status_code == 200, r.text
            assert '"command": "echo two"' in r.text.replace("&#34;", '"')
        else:
            assert r.status_code == 404 and f"bad{i}" in r.text
