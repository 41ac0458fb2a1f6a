"""The plain functions behind examples/mixed: a local price API and the orders store."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRICES = {"widget": 2.5, "gadget": 4.0, "doohickey": 12.75, "gizmo": 7.2}


class _PriceHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(PRICES).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the http task logs each request already


def serve_prices() -> str:
    """Serve PRICES on a free local port for as long as this process lives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PriceHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/prices"


def orders_ready(out_dir: str) -> str | None:
    """The sensor's condition: the orders file exists and is complete."""
    path = os.path.join(out_dir, "orders.csv")
    return path if os.path.exists(path) else None


def load_orders(csv_path: str, prices: dict[str, float], out_dir: str) -> str:
    db = os.path.abspath(os.path.join(out_dir, "orders.db"))
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS prices;"
            "CREATE TABLE orders (id INTEGER, product TEXT, qty INTEGER);"
            "CREATE TABLE prices (product TEXT PRIMARY KEY, price REAL);"
        )
        with open(csv_path, encoding="utf-8") as f:
            next(f)
            rows = [line.strip().split(",") for line in f if line.strip()]
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?)", rows)
        conn.executemany("INSERT INTO prices VALUES (?, ?)", prices.items())
    conn.close()
    print(f"loaded {len(rows)} orders into {db}")
    return f"sqlite:///{db}"
