"""Namespaces: a flow belongs to one, and its full name says which.

A flow's full name is its identity everywhere (tables, URLs, runs): `orders` in the default
namespace, `finance/orders` in namespace `finance`. So every table that names a flow keeps
naming it the one way, and exactly one `/` may appear in a name: the separator.
"""

from __future__ import annotations

import re

from baton.errors import InputError

DEFAULT = "default"
PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
NAMESPACE_RE = re.compile(PART)
# A flow's full name: `name` or `namespace/name`.
FULL_NAME_RE = re.compile(rf"(?:{PART}/)?{PART}")
MAX_NAMESPACE = 100


def namespace_of(flow_name: str) -> str:
    """The namespace a flow's full name is in."""
    namespace, sep, _ = flow_name.partition("/")
    return namespace if sep else DEFAULT


def full_name(namespace: str | None, name: str) -> str:
    """The full name of `name` in `namespace` (the default one leaves no prefix)."""
    if not namespace or namespace == DEFAULT or "/" in name:
        return name
    return f"{namespace}/{name}"


def check_namespace(value: object, field: str = "namespace") -> str:
    """A namespace given by a user, or an InputError naming `field`."""
    if (
        not isinstance(value, str)
        or len(value) > MAX_NAMESPACE
        or not NAMESPACE_RE.fullmatch(value)
    ):
        raise InputError(
            f"{field}: a namespace is letters, digits, '_', '.' or '-' "
            f"(at most {MAX_NAMESPACE} characters), got {value!r}"
        )
    return value


def check_flow_name(value: object, field: str = "flow") -> str:
    """A flow's full name given by a user (`orders` or `finance/orders`), or an InputError."""
    if not isinstance(value, str) or len(value) > 200 or not FULL_NAME_RE.fullmatch(value):
        raise InputError(
            f"{field}: a flow is named `name` or `namespace/name` (letters, digits, '_', '.', "
            f"'-'), got {value!r}"
        )
    return value
