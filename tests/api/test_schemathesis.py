"""Property-based tests of the whole API from its OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid, with an admin token over a
store holding a flow, a finished run, a pool and tokens. None may answer a server error, and
every answer must match the document (status, content type, body schema).
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import baton
from baton.api import create_app
from baton.api.auth import create_token
from baton.settings import Settings
from baton.store.store import Store

MAX_EXAMPLES = 25  # per operation: the file runs in well under a minute


@baton.task
def hello() -> str:
    print("hello")
    return "hi"


@baton.flow(name="fuzzed")
def fuzzed(n: int = 1) -> None:
    hello()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, dict[str, str]]:
    """The app over a store with a flow, a finished run, a pool; an admin's headers."""
    home = tmp_path_factory.mktemp("fuzz") / ".baton"
    settings = Settings.from_env({"BATON_HOME": str(home)})
    assert baton.run_flow(fuzzed, settings=settings).state == "succeeded"
    store = Store(settings.database_url)
    with store.transaction() as tx:
        token = create_token(tx, "fuzzer", "admin")[1]
        tx.set_pool("p", 2, None, 0.0)
    store.close()
    return create_app(settings), {"Authorization": f"Bearer {token}"}


# The document needs no store: read it from an app over none, call the one above.
schema = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json",
    create_app(Settings(home="/nonexistent", database_url="sqlite:////nonexistent")),
)


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_the_api_answers_every_request_as_its_document_says(case, served):
    app, admin = served
    case.headers = {**(case.headers or {}), **admin}  # the generated ones may lack it
    case.call_and_validate(
        app=app,
        checks=[
            not_a_server_error,
            content_type_conformance,
            response_schema_conformance,
            status_code_conformance,
        ],
    )
