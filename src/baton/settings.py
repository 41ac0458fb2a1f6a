"""Settings: one frozen object, built from the environment in main(), passed everywhere."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    home: str
    database_url: str
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = os.path.abspath(env.get("BATON_HOME") or ".baton")
        url = env.get("BATON_DATABASE_URL") or f"sqlite:///{os.path.join(home, 'baton.db')}"
        lease = _seconds(env, "BATON_LEASE_SECONDS", 30.0)
        heartbeat = _seconds(env, "BATON_HEARTBEAT_SECONDS", min(10.0, lease / 3))
        return cls(home=home, database_url=url, lease_seconds=lease, heartbeat_seconds=heartbeat)

    @property
    def cluster(self) -> bool:
        """Whether the store is shared by many machines (PostgreSQL) rather than embedded."""
        return self.database_url.startswith(("postgresql:", "postgresql+psycopg:", "postgres:"))

    @property
    def logs_dir(self) -> str:
        return os.path.join(self.home, "logs")

    @property
    def results_dir(self) -> str:
        return os.path.join(self.home, "results")

    @property
    def work_dir(self) -> str:
        return os.path.join(self.home, "work")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        from baton.errors import InputError

        raise InputError(f"{name}={text!r}: expected a number of seconds > 0")
    return value
