"""The API's routes, one module per kind of object; each has a `router`, which says where its
routes are served (under /api/v1, or /metrics at the root). `create_app` includes them in
this order, which is the order of the OpenAPI document."""

from baton.api.routes import (
    admin,
    approvals,
    assets,
    cluster,
    flows,
    grants,
    logs,
    metrics,
    partitions,
    runs,
)

# partitions before flows: its GET /flows/{name}/partitions must be tried before flows.get,
# whose `{name:path}` (a flow's full name may be `namespace/name`) would take it.
MODULES = (admin, grants, cluster, partitions, flows, runs, approvals, logs, assets, metrics)
