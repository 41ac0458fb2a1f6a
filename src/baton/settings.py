"""Settings: one frozen object, built from the environment in main(), passed everywhere."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LEASE_SECONDS = 30.0  # the default lease; readers without the workers' settings use it too


LIVE_HEARTBEATS = 3  # a worker is alive if it heartbeated within this many heartbeat periods


@dataclass(frozen=True, slots=True)
class Settings:
    home: str
    database_url: str
    lease_seconds: float = LEASE_SECONDS
    heartbeat_seconds: float = 10.0
    secrets_file: str | None = None  # a YAML/JSON mapping NAME: value (`${secret:NAME}`)
    host: str = "127.0.0.1"  # where `baton server` listens
    port: int = 8080
    base_url: str = ""  # how users reach the server: links in notifications
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "baton@localhost"
    api_max_body: int = 1 << 20  # bytes of a request body the API reads at most (else 413)
    # OpenLineage events of every attempt (`notify.lineage`): POSTed to a receiver's
    # /api/v1/lineage, and/or appended to a file as JSON lines; neither set: none made.
    openlineage_url: str | None = None
    openlineage_file: str | None = None
    openlineage_namespace: str = "baton"
    # Where results too big for the database go (`execution.results`): a folder or any
    # fsspec URL; None: `file://<home>/results`.
    results_url: str | None = None
    results_inline_max: int = 1 << 20  # bytes of a JSON result kept in the database

    def alive_since(self, now: float) -> float:
        """The oldest heartbeat of a worker counted alive: within LIVE_HEARTBEATS periods."""
        return now - LIVE_HEARTBEATS * self.heartbeat_seconds

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = os.path.abspath(env.get("BATON_HOME") or ".baton")
        url = env.get("BATON_DATABASE_URL") or f"sqlite:///{os.path.join(home, 'baton.db')}"
        lease = _seconds(env, "BATON_LEASE_SECONDS", 30.0)
        heartbeat = _seconds(env, "BATON_HEARTBEAT_SECONDS", min(10.0, lease / 3))
        host = env.get("BATON_HOST") or "127.0.0.1"
        port = _port(env, "BATON_PORT", 8080)
        secrets = env.get("BATON_SECRETS_FILE") or os.path.join(home, "secrets.yaml")
        return cls(
            home=home,
            database_url=url,
            lease_seconds=lease,
            heartbeat_seconds=heartbeat,
            secrets_file=os.path.abspath(secrets),
            host=host,
            port=port,
            base_url=(env.get("BATON_BASE_URL") or f"http://{host}:{port}").rstrip("/"),
            smtp_host=env.get("BATON_SMTP_HOST") or "localhost",
            smtp_port=_port(env, "BATON_SMTP_PORT", 25),
            smtp_user=env.get("BATON_SMTP_USER") or None,
            smtp_password=env.get("BATON_SMTP_PASSWORD") or None,
            smtp_starttls=(env.get("BATON_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
            smtp_from=env.get("BATON_SMTP_FROM") or "baton@localhost",
            api_max_body=_bytes(env, "BATON_API_MAX_BODY", 1 << 20),
            openlineage_url=_http_url(env, "BATON_OPENLINEAGE_URL"),
            openlineage_file=_path(env, "BATON_OPENLINEAGE_FILE"),
            openlineage_namespace=_namespace(env, "BATON_OPENLINEAGE_NAMESPACE", "baton"),
            results_url=_store_url(env, "BATON_RESULTS_URL"),
            results_inline_max=_bytes(env, "BATON_RESULTS_INLINE_MAX", 1 << 20),
        )

    @property
    def cluster(self) -> bool:
        """Whether the store is shared by many machines (PostgreSQL) rather than embedded."""
        return self.database_url.startswith(("postgresql:", "postgresql+psycopg:", "postgres:"))

    @property
    def openlineage(self) -> bool:
        """Whether OpenLineage events are made (a receiver or a file is set)."""
        return bool(self.openlineage_url or self.openlineage_file)

    @property
    def logs_dir(self) -> str:
        return os.path.join(self.home, "logs")

    @property
    def results_store(self) -> str:
        """The result store's URL (`execution.results`)."""
        return self.results_url or "file://" + os.path.join(self.home, "results")

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


def _bytes(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) == 0:
        from baton.errors import InputError

        raise InputError(f"{name}={text!r}: expected a number of bytes > 0")
    return int(text)


def _store_url(env: Mapping[str, str], name: str) -> str | None:
    text = env.get(name)
    if not text:
        return None
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme.replace("+", "").isalnum() or not rest:
        from baton.errors import InputError

        shown = f"={text!r}" if "@" not in text else " (not shown: it may hold a password)"
        raise InputError(
            f"{name}{shown} is not a URL: expected one such as file:///var/baton/results or"
            " s3://bucket/baton/results"
        )
    return text.rstrip("/")


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or not 0 <= int(text) < 65536:
        from baton.errors import InputError

        raise InputError(f"{name}={text!r}: expected a port number (0: any free one)")
    return int(text)


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    text = env.get(name)
    if not text:
        return None
    import urllib.parse

    from baton.model import urls

    try:
        parts = urllib.parse.urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != -1
    except ValueError:  # a bad port, an unclosed IPv6 bracket
        ok = False
    if not ok:
        from baton.errors import InputError

        # Shown only where its password can be told apart and masked.
        shown = text if "@" not in text else urls.redacted(text) if "://" in text else None
        raise InputError(
            f"{name}{'=' + repr(shown) if shown else ''}: expected the base URL of an "
            "OpenLineage receiver, such as http://marquez:5000 (events go to its /api/v1/lineage)"
        )
    return text.rstrip("/")


def _path(env: Mapping[str, str], name: str) -> str | None:
    text = env.get(name)
    return os.path.abspath(text) if text else None


def _namespace(env: Mapping[str, str], name: str, default: str) -> str:
    text = env.get(name)
    if not text:
        return default
    if len(text) > 200 or not text.isprintable() or text != text.strip():
        from baton.errors import InputError

        raise InputError(
            f"{name}={text[:50]!r}: expected a namespace name (printable, at most 200 "
            "characters, no spaces around it), such as `baton` or `prod`"
        )
    return text
