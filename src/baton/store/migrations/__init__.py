"""alembic migrations of the store's schema: one tree for SQLite and PostgreSQL (see migrate)."""
