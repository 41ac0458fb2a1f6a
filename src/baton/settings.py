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
        return cls(home=home, database_url=url)

    @property
    def logs_dir(self) -> str:
        return os.path.join(self.home, "logs")

    @property
    def results_dir(self) -> str:
        return os.path.join(self.home, "results")

    @property
    def work_dir(self) -> str:
        return os.path.join(self.home, "work")
