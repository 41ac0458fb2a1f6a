"""The API's routes, one module per kind of object; each has a `router`, which says where its
routes are served (under /api/v1, or /metrics at the root). `create_app` includes them in
this order, which is the order of the OpenAPI document."""

from baton.api.routes import (
    admin,
    approvals,
    assets,
    cluster,
    flows,
    logs,
    metrics,
    partitions,
    runs,
)

MODULES = (admin, cluster, flows, runs, approvals, logs, assets, partitions, metrics)
