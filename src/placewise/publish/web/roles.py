"""Roles of the web application, who may call each endpoint, and which areas each role reads unsuppressed.

- ``public``: anyone, logged in or not: disclosure-controlled aggregates only.
- ``analyst``: unsuppressed aggregates for every area.
- ``place_lead``: unsuppressed aggregates for their own Place and the PCNs and practices in it;
  disclosure-controlled aggregates elsewhere.
- ``clinician``: disclosure-controlled aggregates; their own practice's worklists, and re-identification
  of those patients for direct care (:mod:`placewise.publish.access`).
- ``admin``: disclosure-controlled aggregates; users, tokens and the audit.

Every endpoint declares the roles it admits with :func:`allow`; an endpoint with no declaration
is refused to everyone (and the role matrix test fails on it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

Role = Literal["public", "analyst", "place_lead", "clinician", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
UNSUPPRESSED_EVERYWHERE: frozenset[Role] = frozenset({"analyst"})
"""Roles that read unsuppressed aggregates for every area."""
ALLOWED_ATTRIBUTE = "placewise_allowed_roles"

F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True)
class User:
    """Who is calling: a named user (or nobody, for the public), their role and the area they work for."""

    username: str | None
    role: Role
    place: str | None = None
    practice: str | None = None


ANONYMOUS = User(None, "public")


def allow(*roles: Role) -> Callable[[F], F]:
    """Declare the roles an endpoint admits (``public`` admits everyone, logged in or not)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"allow(): unknown or no roles {sorted(unknown)}; roles are {', '.join(ROLES)}")

    def mark(endpoint: F) -> F:
        setattr(endpoint, ALLOWED_ATTRIBUTE, frozenset(ROLES) if "public" in roles else frozenset(roles))
        return endpoint
    return mark


def allowed_roles(endpoint: Callable[..., object]) -> frozenset[Role] | None:
    """The roles an endpoint admits, or None if it declares none."""
    return getattr(endpoint, ALLOWED_ATTRIBUTE, None)


def reads_unsuppressed(user: User, place_of_area: str | None) -> bool:
    """Whether this user reads an area's aggregates unsuppressed (an area's Place is None above Place level)."""
    if user.role in UNSUPPRESSED_EVERYWHERE:
        return True
    return user.role == "place_lead" and place_of_area is not None and place_of_area == user.place
