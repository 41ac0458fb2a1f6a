"""The UI's pages over the API app of tests/app_kit.py (`settings`, `store`, `app`), and a
`client` of that app with the UI installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app_kit import app, settings, store
from baton import ui

__all__ = ["app", "client", "settings", "store"]


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    ui.install(app)
    with TestClient(app) as c:  # `with`: the app's startup and shutdown run
        yield c
