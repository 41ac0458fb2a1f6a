"""Times as baton shows them: ISO-8601 in UTC, from the UNIX seconds the store keeps."""

from __future__ import annotations

import time


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    # time.strftime: ISO-8601 like datetime's, without importing datetime
    whole, micro = divmod(round(ts * 1_000_000), 1_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{micro:06d}Z"
