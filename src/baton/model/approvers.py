"""Who may decide an approval task. Pure: names and matching.

An approver is a user name (`alice`), `role:NAME` (anyone whose role is NAME or above) or
`group:NAME` (the members of a group). A task that names none is decided by the flow's
operators: `role:operator`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

DEFAULT = "role:operator"
KINDS = ("role", "group")


def check(approver: object) -> str:
    """`approver`, if it is well formed; else ValueError saying how to write one."""
    if not isinstance(approver, str) or not approver.strip():
        raise ValueError(f"an approver is a user, role:NAME or group:NAME, got {approver!r}")
    kind, sep, name = approver.partition(":")
    if sep and kind in KINDS and not name.strip():
        raise ValueError(f"approver {approver!r} names no {kind}: write {kind}:NAME")
    return approver


def may_decide(
    approvers: Iterable[str],
    user: str,
    has_role: Callable[[str], bool],
    groups: Collection[str] = (),
) -> bool:
    """Whether `user` (whose role `has_role(NAME)` tells is NAME or above, and who belongs
    to `groups`) is one of `approvers` (DEFAULT when there are none)."""
    for approver in list(approvers) or [DEFAULT]:
        kind, sep, name = approver.partition(":")
        if sep and kind == "role":
            try:
                if has_role(name):
                    return True
            except ValueError:  # a role this baton does not know: it names no one
                continue
        elif sep and kind == "group":
            if name in groups:
                return True
        elif approver == user:
            return True
    return False
