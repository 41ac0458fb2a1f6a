"""The REST API (FastAPI), served by `baton server`: `create_app(settings, store)`."""

from baton.api.app import create_app

__all__ = ["create_app"]
