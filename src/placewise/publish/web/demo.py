"""What the demo site needs beyond the demo warehouse: PHM tables, worklists and one user per role.

The demo's data are synthetic, so its users share one published password; a real deployment adds
its own users (``POST /api/v1/admin/users``) and never these.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis

from placewise.derive.segments import build, latest_month_end
from placewise.derive.worklists import ROWS_TABLE, run
from placewise.profile import Profile
from placewise.profile.worklists import HighRiskGap, load_worklists
from placewise.publish.web.auth import Auth
from placewise.publish.web.roles import Role

DEMO_PASSWORD = "placewise-demo-only"
"""The demo users' password (synthetic data only)."""


@dataclass(frozen=True)
class DemoUser:
    """A demo login: name, role and the area it is scoped to."""

    username: str
    role: Role
    place: str | None = None
    practice: str | None = None


def build_worklists(con: ibis.BaseBackend, profile: Profile) -> tuple[str, str]:
    """Build the PHM tables and every worklist that needs no risk model; the practice with most worklist
    rows, and its Place."""
    build(con, profile, latest_month_end(con))
    lists = load_worklists(profile)
    run(con, lists, [w.id for w in lists.worklists if not isinstance(w, HighRiskGap)])
    rows = con.table(ROWS_TABLE)
    busiest = rows.group_by("practice_code").aggregate(n=rows.count()).order_by([ibis.desc("n"), "practice_code"])
    practice = busiest.limit(1).to_pyarrow()["practice_code"][0].as_py()
    practices = con.table("practices")
    place = practices.filter(practices.practice_code == practice).la_code.to_pyarrow()[0].as_py()
    return practice, place


def demo_users(place: str, practice: str) -> list[DemoUser]:
    """One demo user per role that logs in."""
    return [DemoUser("analyst", "analyst"), DemoUser("place.lead", "place_lead", place=place),
            DemoUser("clinician", "clinician", practice=practice), DemoUser("admin", "admin")]


def add_demo_users(auth: Auth, place: str, practice: str) -> list[DemoUser]:
    """Add the demo users that are not there yet (a re-run adds nothing)."""
    users = demo_users(place, practice)
    for u in users:
        if auth.user(u.username) is None:
            auth.add_user(u.username, DEMO_PASSWORD, u.role, u.place, u.practice)
    return users
