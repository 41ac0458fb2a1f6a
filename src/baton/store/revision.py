"""The alembic revision this code reads and writes, said once.

A module of its own, without imports, so that `store.store` (on every command's path) and
`store.schema` (which imports SQLAlchemy's schema machinery) share it without the first
importing the second. Bump it with each new migration under migrations/versions (a test
checks it against the newest one).
"""

HEAD = "0012"
