"""`openlineage_kit`: what OpenLineage tests share: `validated(event)` rebuilds a received
event with openlineage-python's models (their validators run: UUID run ids, ISO times) and
checks it serialises back to exactly what was received; `Receiver`, a Marquez-like HTTP
receiver on 127.0.0.1 keeping what is POSTed to /api/v1/lineage.

Importable because pytest's `pythonpath` names tests/.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.parent_run import Job as ParentJob
from openlineage.client.generated.parent_run import ParentRunFacet
from openlineage.client.generated.parent_run import Run as ParentRun
from openlineage.client.serde import Serde


def validated(d: dict[str, Any]) -> RunEvent:
    """The event `d` as the library's RunEvent; fails unless it round-trips unchanged."""
    facets: dict[str, Any] = {}
    parent = d["run"]["facets"]["parent"]
    facets["parent"] = ParentRunFacet(
        run=ParentRun(runId=parent["run"]["runId"], facets=None),
        job=ParentJob(
            namespace=parent["job"]["namespace"], name=parent["job"]["name"], facets=None
        ),
        producer=parent["_producer"],
    )
    if "errorMessage" in d["run"]["facets"]:
        error = d["run"]["facets"]["errorMessage"]
        facets["errorMessage"] = ErrorMessageRunFacet(
            message=error["message"],
            programmingLanguage=error["programmingLanguage"],
            producer=error["_producer"],
        )
    event = RunEvent(
        eventType=RunState(d["eventType"]),
        eventTime=d["eventTime"],
        run=Run(runId=d["run"]["runId"], facets=facets),
        job=Job(namespace=d["job"]["namespace"], name=d["job"]["name"], facets=None),
        inputs=[
            InputDataset(namespace=i["namespace"], name=i["name"], facets=None, inputFacets=None)
            for i in d["inputs"]
        ],
        outputs=[
            OutputDataset(namespace=o["namespace"], name=o["name"], facets=None, outputFacets=None)
            for o in d["outputs"]
        ],
        producer=d["producer"],
    )
    assert Serde.to_dict(event) == d, d
    return event


class Receiver:
    """A Marquez-compatible receiver: keeps each JSON body POSTed to /api/v1/lineage with
    its Authorization header; answers `status` (201 by default). `port`: 0 for any."""

    def __init__(self, port: int = 0, status: int = 201) -> None:
        self.events: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.status = status
        self.changed = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/api/v1/lineage" and receiver.status < 300:
                    with receiver.changed:
                        receiver.events.append(json.loads(body))
                        receiver.auth.append(self.headers.get("Authorization"))
                        receiver.changed.notify_all()
                code = receiver.status if self.path == "/api/v1/lineage" else 404
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if code >= 300 else b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The events, once there are at least `n` of them."""
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= n, timeout), self.events
            return list(self.events)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
