"""Who may do what on which flow: roles, grants, and the one rule that combines them.

A caller has a global role (or none: a token that carries only its user's grants), may be
limited to one namespace (a token made with `--namespace`), and holds grants: a role on a
namespace or on one flow, given to the user or to a group the user is in. Their effective
role on a flow is the highest of the global role and the grants that match it, and nothing
outside the namespace a token is limited to. Pure: the store reads the grants, this decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from baton.model.namespaces import namespace_of

# Each role may do what the one below it may, and more (see `api.auth`).
ROLES = ("viewer", "operator", "editor", "admin")
SUBJECT_KINDS = ("user", "group")
SCOPE_KINDS = ("namespace", "flow")


@dataclass(frozen=True, slots=True)
class Grant:
    """`role` on a namespace or one flow (`scope_kind`, `scope`)."""

    role: str
    scope_kind: str
    scope: str


@dataclass(frozen=True, slots=True)
class Visibility:
    """The flows a caller may see, as the store filters lists by: every flow (`everything`),
    else those in `namespaces` and those named in `flows` (full names)."""

    everything: bool = False
    namespaces: frozenset[str] = field(default_factory=frozenset)
    flows: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of_namespace(cls, namespace: str) -> Visibility:
        return cls(namespaces=frozenset([namespace]))


EVERYTHING = Visibility(everything=True)


def higher(a: str | None, b: str | None) -> str | None:
    """The higher of two roles (None: no role)."""
    if a is None or b is None:
        return a if b is None else b
    return a if ROLES.index(a) >= ROLES.index(b) else b


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True, slots=True)
class Access:
    """What a caller holds: a global role (or None), the one namespace its token is limited
    to (or None), and its grants."""

    role: str | None
    namespace: str | None = None
    grants: tuple[Grant, ...] = ()

    @property
    def global_role(self) -> str | None:
        """The role that counts outside any flow (tokens, pools, assets, metrics): none for a
        token limited to a namespace."""
        return self.role if self.namespace is None else None

    def role_on(self, flow: str) -> str | None:
        """The effective role on the flow named `flow` (its full name); None: it may not
        even see it."""
        namespace = namespace_of(flow)
        if self.namespace is not None and namespace != self.namespace:
            return None
        best = self.role
        for g in self.grants:
            if (g.scope_kind == "namespace" and g.scope == namespace) or (
                g.scope_kind == "flow" and g.scope == flow
            ):
                best = higher(best, g.role)
        return best

    def highest(self) -> str | None:
        """The highest role it holds anywhere: what a list may be asked with."""
        best = self.role
        for g in self.grants:
            if self.namespace is None or namespace_of_scope(g) == self.namespace:
                best = higher(best, g.role)
        return best

    def visibility(self) -> Visibility:
        if self.role is not None and self.namespace is None:
            return EVERYTHING
        namespaces = {
            g.scope
            for g in self.grants
            if g.scope_kind == "namespace" and self.namespace in (None, g.scope)
        }
        if self.role is not None and self.namespace is not None:
            namespaces.add(self.namespace)
        flows = {
            g.scope
            for g in self.grants
            if g.scope_kind == "flow" and self.namespace in (None, namespace_of(g.scope))
        }
        return Visibility(namespaces=frozenset(namespaces), flows=frozenset(flows))


def namespace_of_scope(grant: Grant) -> str:
    return grant.scope if grant.scope_kind == "namespace" else namespace_of(grant.scope)
