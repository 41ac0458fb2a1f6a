"""A database URL as people may see it: its password masked.

Every message, log line, API answer and page that shows a database URL (the store's
`BATON_DATABASE_URL`, a sql task's `url`) shows `redacted(url)`; a driver's own message,
which can quote the URL or a piece of it, goes through `redact(text, url)` first. Pure
string work, so the store and the task types (which import the model only) share it.
"""

from __future__ import annotations

import functools
import re

MASK = "***"
MIN_BARE = 4  # a shorter password is masked only where it is quoted or in the URL itself

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# `password=...` as a URL query parameter or a libpq keyword (`host=x password='a b'`).
_PARAM = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s#]+)", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"')


def redacted(url: str) -> str:
    """`url` with its password, if any, replaced by `***`.

    The password is what stands between the first `:` and the last `@` of the part before
    the query (`scheme://user:PASSWORD@host...`), and any `password=` parameter. A URL that
    cannot be read that way loses more than its password, never less.
    """
    text = url
    userinfo = _userinfo(url)
    if userinfo is not None:
        start, at = userinfo
        user, colon, password = url[start:at].partition(":")
        if colon and password:
            text = f"{url[:start]}{user}:{MASK}{url[at:]}"
    return _PARAM.sub(lambda p: p.group(1) + MASK, text)


def redact(text: str, url: str) -> str:
    """`text` with `url` shown as `redacted(url)` and its password masked wherever else it
    appears: a driver's message can quote the URL, or the token of it that it could not read.
    """
    if not url:
        return text
    text = text.replace(url, redacted(url))
    for secret in passwords(url):
        text = _QUOTED.sub(functools.partial(_mask_quoted, secret), text)
        if len(secret) >= MIN_BARE:
            text = text.replace(secret, MASK)
    return text


def _mask_quoted(secret: str, quoted: re.Match[str]) -> str:
    return f'"{MASK}"' if secret in quoted.group() else quoted.group()


def passwords(url: str) -> list[str]:
    """The password of `url` as written in it and as decoded (`%40` is `@`), longest first."""
    from urllib.parse import unquote  # ~2 ms with ipaddress: not on every CLI start-up

    found: list[str] = []
    userinfo = _userinfo(url)
    if userinfo is not None:
        found.append(url[userinfo[0] : userinfo[1]].partition(":")[2])
    found += [p.group(2).strip("'") for p in _PARAM.finditer(url)]
    every = {s for f in found for s in (f, unquote(f)) if s}
    return sorted(every, key=len, reverse=True)


def _userinfo(url: str) -> tuple[int, int] | None:
    """Where `user:password` of `scheme://user:password@host/...` starts, and its `@`."""
    m = _SCHEME.match(url)
    if not m:
        return None
    end = len(url)
    for stop in "?#":
        i = url.find(stop, m.end())
        if i >= 0:
            end = min(end, i)
    at = url.rfind("@", m.end(), end)
    return None if at < 0 else (m.end(), at)


def masked(text: str, url: str) -> str:
    """`text` without the password of `url` (a driver's message may quote the URL)."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text
