"""Webhooks: a JSON POST, answered with a 2xx."""

from __future__ import annotations

from typing import Any

import httpx

from baton.errors import BatonError


class WebhookError(BatonError):
    """The webhook answered with an error status."""


def post(url: str, body: Any, *, timeout: float) -> None:
    """POST `body` as JSON to `url`.

    Raises:
        WebhookError: the answer was not a 2xx (the message has its status and the start
            of its body, never the URL, which often holds a token).
        httpx.HTTPError: the request could not be made.
    """
    response = httpx.post(url, json=body, timeout=timeout)
    if not response.is_success:
        detail = " ".join(response.text.split())[:200]
        raise WebhookError(f"HTTP {response.status_code}{': ' + detail if detail else ''}")
