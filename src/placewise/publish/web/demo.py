"""What the demo site needs beyond the demo warehouse: PHM tables, worklists, the risk model's card and fairness
panel, and one user per role.

The demo's data are synthetic, so its users share one published password; a real deployment adds
its own users (``POST /api/v1/admin/users``) and never these.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import ibis
from rich.console import Console

from placewise.analyse.risk import CARD_FILE, RiskModelError, train
from placewise.derive.segments import build, latest_month_end
from placewise.derive.worklists import ROWS_TABLE, run
from placewise.profile import Profile
from placewise.profile.worklists import HighRiskGap, load_worklists
from placewise.publish.web.auth import Auth
from placewise.publish.web.roles import Role
from placewise.publish.web.store import WebStore, default_store_url
from placewise.warehouse import connect
from placewise.warehouse.identity import KEY_ENV, STORE_ENV

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


def train_risk_model(con: ibis.BaseBackend, profile: Profile, out: Path, console: Console) -> Path | None:
    """Train the emergency admission risk model on the demo warehouse (``placewise risk train``) into ``out``, so
    the population page shows its card and fairness panel; the folder, or None if no card was written. A model
    that fails its checks still has a card, marked failed, and that is what the site shows."""
    try:
        done = train(con, profile, out, 1, latest_month_end(con))
        console.print(f"  risk model {done.version}: AUROC {done.panel[0].auroc:.3f} on {done.panel[0].people:,} "
                      f"people in the test year; card {done.card}")
    except RiskModelError as e:
        console.print(f"  [yellow]risk model not trained:[/] {e}")
    return out if (out / CARD_FILE).is_file() else None


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


DEMO_IDENTITY_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"placewise-demo-identity-key").digest()).decode()
"""The demo's identity key (synthetic NHS numbers only), used when ``$PLACEWISE_IDENTITY_KEY`` is not set."""


def use_demo_identity_store(out: Path) -> None:
    """Record identity links at the demo's ingest in ``out/identity.duckdb`` (unless the environment names a
    store and key already), so the demo site's clinician can re-identify their worklists."""
    os.environ.setdefault(STORE_ENV, str(out / "identity.duckdb"))
    os.environ.setdefault(KEY_ENV, DEMO_IDENTITY_KEY)


def serve_demo(db: Path, profile: Profile, host: str, port: int) -> None:
    """Build the worklists, train the risk model, add the demo users, print the address and logins, and serve the
    demo site."""
    from placewise.publish.web.cli import serve

    console = Console()
    con = connect(db)
    try:
        practice, place = build_worklists(con, profile)
        model = train_risk_model(con, profile, db.parent / "risk-model", console)
    finally:
        con.disconnect()
    store = WebStore(default_store_url(str(db)))
    try:
        users = add_demo_users(Auth(store), place, practice)
    finally:
        store.close()
    console.print(f"\n[bold]Demo site: http://{host}:{port}/[/] (public pages need no login). Demo logins, "
                  f"password [bold]{DEMO_PASSWORD}[/]:")
    for u in users:
        scope = f" ({u.place or u.practice})" if u.place or u.practice else ""
        console.print(f"  {u.username}: {u.role.replace('_', ' ')}{scope}")
    serve(str(db), host, port, None, profile, model)
