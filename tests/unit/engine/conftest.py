"""The engine tests' SQLite `store`, fake `clock` and `engine` (tests/engine_kit.py)."""

from engine_kit import clock, engine, store

__all__ = ["clock", "engine", "store"]
