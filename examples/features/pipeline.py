"""The `features` flow with the Python API: two ingests in parallel, a join, features, then
persist and train side by side.

Run it with `baton run examples/features/pipeline.py`; `pipeline.yaml` is the same flow in
YAML. The work itself lives in `features_lib.py` (plain functions shared by both).
"""

from __future__ import annotations

from typing import Any

import features_lib as lib  # this file's folder is on sys.path when baton loads it

from baton import flow, task

Rows = list[dict[str, Any]]


@task(retries=2, retry_delay=1)
def clicks_ingest(n_rows: int, seed: int) -> Rows:
    return lib.clicks_ingest(n_rows, seed)


@task(retries=2, retry_delay=1)
def orders_ingest(n_rows: int, seed: int) -> Rows:
    return lib.orders_ingest(n_rows, seed)


@task
def match(clicks_ingest: Rows, orders_ingest: Rows) -> Rows:
    return lib.match(clicks_ingest, orders_ingest)


@task
def build_features(match: Rows) -> Rows:
    return lib.build_features(match)


@task
def persist_features(build_features: Rows, out_dir: str) -> dict[str, Any]:
    return lib.persist_features(build_features, out_dir)


@task
def train(build_features: Rows, seed: int) -> dict[str, Any]:
    return lib.train(build_features, seed)


@flow(name="features")
def features(n_rows: int = 2000, seed: int = 7, out_dir: str = "examples/out") -> None:
    """Clicks and orders joined per user, turned into features, persisted and trained on."""
    # Tracing, not running: each call returns a reference and records an edge of the DAG.
    clicks = clicks_ingest(n_rows, seed)
    orders = orders_ingest(n_rows, seed)
    matched = match(clicks, orders)
    feats = build_features(matched)
    persist_features(feats, out_dir)
    train(feats, seed)
