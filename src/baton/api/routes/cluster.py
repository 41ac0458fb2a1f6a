"""Cluster routes: workers, pools and queues (what `baton workers` and `baton pools` show)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Path, Request, Response
from pydantic import BaseModel, Field

from baton.api.common import out_model
from baton.api.deps import API, Admin, Operator, StoreDep, Viewer, audited_router
from baton.errors import ConflictError, NotFoundError
from baton.execution.views import WorkerView
from baton.model.graph import NAME_RE
from baton.store.store import Row, Tx

router = audited_router(prefix=API, tags=["cluster"])
MAX_SLOTS = 1_000_000  # far above any real pool; keeps the value a 32-bit integer column holds


WorkerOut = out_model(WorkerView)  # tasks: the attempts it is running, oldest first


class PoolIn(BaseModel):
    slots: int = Field(ge=0, le=MAX_SLOTS, description="how many of its tasks may run at once")
    description: str | None = Field(
        default=None, max_length=1000, description="null or absent: keep the current one"
    )


class PoolOut(BaseModel):
    name: str
    slots: int
    running: int = Field(description="its tasks running now")
    description: str | None


class QueueOut(BaseModel):
    queue: str
    queued: int
    running: int


def _pool(r: Row) -> dict[str, Any]:
    return {k: r[k] for k in ("name", "slots", "running", "description")}


@router.get("/workers", name="workers.list", response_model=list[WorkerOut])  # type: ignore[valid-type]
def workers(store: StoreDep, _: Viewer, include_stopped: bool = False) -> list[dict[str, Any]]:
    """The workers, newest first, with their queues and how many tasks each is running."""
    rows = store.read().workers(include_stopped=include_stopped)
    return [WorkerView.of(r).to_json() for r in rows]


class EmbeddedWorkerOut(BaseModel):
    started: bool = Field(description="false: this process was running one already")


@router.post("/workers/embedded", name="workers.embedded", response_model=EmbeddedWorkerOut)
def embedded_worker(request: Request, _: Operator) -> dict[str, Any]:
    """Start a worker inside this server's process, to run what nothing else would: `baton
    ui` offers it when no worker is alive (`baton server` has one of its own already). It
    runs until the process stops; 409 from a server that cannot start one."""
    start = getattr(request.app.state, "start_worker", None)
    if start is None:
        raise ConflictError(
            "this server does not run tasks itself: start `baton worker` (or `baton server`, "
            "which has one) next to the store"
        )
    return {"started": start()}


@router.get("/pools", name="pools.list", response_model=list[PoolOut])
def pools(store: StoreDep, _: Viewer) -> list[dict[str, Any]]:
    """Every pool with its slots and how many are taken now."""
    return [_pool(r) for r in store.read().pools()]


@router.put(
    "/pools/{name}",
    name="pools.set",
    response_model=PoolOut,
    responses={201: {"model": PoolOut, "description": "the pool was created"}},
)
def set_pool(
    name: Annotated[str, Path(max_length=100, pattern=NAME_RE.pattern)],
    body: PoolIn,
    store: StoreDep,
    _: Admin,
    response: Response,
) -> dict[str, Any]:
    """Create a pool (201) or change its slots (200). Fewer slots than tasks running stops
    none of them: new ones wait until the pool has room."""
    with store.transaction() as tx:
        existed = any(r["name"] == name for r in tx.pools())
        tx.set_pool(name, body.slots, body.description, time.time())
        row = next(r for r in tx.pools() if r["name"] == name)
    response.status_code = 200 if existed else 201
    return _pool(row)


@router.delete("/pools/{name}", name="pools.delete", status_code=204)
def delete_pool(name: Annotated[str, Path(max_length=100)], store: StoreDep, _: Admin) -> None:
    """Delete a pool: its tasks are then not limited."""
    with store.transaction() as tx:
        if not tx.delete_pool(name):
            raise NotFoundError(f"no pool '{name}'; GET /api/v1/pools lists the pools")


@router.get("/queues", name="queues.list", response_model=list[QueueOut])
def queues(store: StoreDep, _: Viewer) -> list[dict[str, Any]]:
    """Task runs queued and running per queue: every queue that has some, and every queue a
    live worker serves (a queue with work and no worker is what to look for)."""
    return queue_table(store.read())


def queue_table(read: Tx) -> list[dict[str, Any]]:
    """{queue, queued, running} per queue, by name (see `queues`)."""
    found = {
        r["queue"]: {"queued": int(r["queued"]), "running": int(r["running"])}
        for r in read.queue_counts()
    }
    for q in read.served_queues():
        found.setdefault(q, {"queued": 0, "running": 0})
    return [{"queue": q, **found[q]} for q in sorted(found)]
