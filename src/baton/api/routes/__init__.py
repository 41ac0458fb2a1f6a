"""The API's routes, one module per kind of object; each has a `router`."""

from baton.api.routes import admin, cluster, flows, logs, runs

MODULES = (admin, cluster, flows, runs, logs)
