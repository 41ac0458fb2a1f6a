"""`server_kit`: a real `baton server` for the integration tests that talk to one over HTTP
or through the CLI's `--server`."""

from __future__ import annotations

import re
from typing import Any

import httpx


class Server:
    """A `baton server` on a free port, with a token of each role."""

    def __init__(self, baton: Any) -> None:
        self.proc = baton.start("server", "--port", "0")
        line = self.proc.stderr.readline()
        found = re.search(r"serving (http://\S+)/ ", line)
        assert found, line
        self.url = found.group(1)
        self.tokens = {
            role: baton("tokens", "create", "--user", f"{role}-user", "--role", role).stdout.strip()
            for role in ("viewer", "operator", "editor")
        }

    def call(self, method: str, path: str, role: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, **kwargs)

    def define(self, text: str) -> None:
        r = self.call(
            "POST", "/flows", "editor", content=text, headers={"Content-Type": "application/yaml"}
        )
        assert r.status_code == 201, r.text

    def trigger(self, flow: str, **params: Any) -> str:
        r = self.call("POST", f"/flows/{flow}/runs", "operator", json={"params": params})
        assert r.status_code == 201, r.text
        run_id: str = r.json()["id"]
        return run_id

    def flags(self, role: str = "operator") -> list[str]:
        return ["--server", self.url, "--token", self.tokens[role]]
