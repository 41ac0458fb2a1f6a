"""A flow's tags and owner: how people find and group flows (the flows list filters by
them). Checked here once for YAML and `@flow(...)`; neither changes what a run does."""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from baton.errors import DefinitionError
from baton.model.yaml_fields import show

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_OWNER_LENGTH = 200
TAG_PATTERN = r"^[A-Za-z0-9_.-]+$"
_TAG = re.compile(TAG_PATTERN)


def check_tags(value: object) -> tuple[str, ...]:
    """The tags in their stored form (duplicates dropped, order kept), or a DefinitionError
    naming 'tags'."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise DefinitionError(
            f"'tags' must be a list of names, e.g. [finance, daily], got {show(value)}"
        )
    if len(value) > MAX_TAGS:
        raise DefinitionError(f"'tags' has {len(value)} tags; at most {MAX_TAGS} are allowed")
    for tag in value:
        if not isinstance(tag, str) or not _TAG.fullmatch(tag) or len(tag) > MAX_TAG_LENGTH:
            raise DefinitionError(
                f"'tags' entry {show(tag)} is not a tag: use letters, digits, '_', '.' or "
                f"'-', at most {MAX_TAG_LENGTH} characters"
            )
    return tuple(dict.fromkeys(value))


def check_owner(value: object) -> str | None:
    """The owner (an email, a team), or a DefinitionError naming 'owner'."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise DefinitionError(f"'owner' must be a string, got {show(value)}")
    owner = value.strip()
    if len(owner) > MAX_OWNER_LENGTH:
        raise DefinitionError(
            f"'owner' has {len(owner)} characters; at most {MAX_OWNER_LENGTH} are allowed"
        )
    if any(ord(c) < 32 for c in owner):
        raise DefinitionError("'owner' must be one line of text, without control characters")
    return owner or None


class _Labels(msgspec.Struct):
    tags: tuple[str, ...] = ()
    owner: str | None = None


def of_spec(spec_json: str | bytes) -> tuple[tuple[str, ...], str | None]:
    """A stored spec's tags and owner, read without decoding the rest of it (fast enough to
    check thousands of flows per page)."""
    found = msgspec.json.decode(spec_json, type=_Labels)
    return found.tags, found.owner


def matches(spec_json: str | bytes, tags: Sequence[str], owner: str | None) -> bool:
    """Whether a stored flow has every one of `tags` and, unless None, that `owner`."""
    have, its_owner = of_spec(spec_json)
    return (owner is None or its_owner == owner) and all(t in have for t in tags)
