"""`LocalServer`: an HTTP server on a free port of 127.0.0.1 for a test, serving from a
thread of its own until `close()`.

Importable because pytest's `pythonpath` names tests/ (test modules cannot import each
other).
"""

from __future__ import annotations

import http.server
import threading


class LocalServer:
    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True  # (its default) an open request does not hold up the end
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
