"""The web application's append-only audit: logins, refusals, person-level reads and re-identifications.

One row per audited call in ``web_audit`` (who, role, action, target, outcome, detail, time); nothing
updates or deletes a row. Re-identifications are also audited by :mod:`placewise.publish.access` in the
identity store's ``reidentification_audit``, as every re-identification is, whoever calls it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from placewise.publish.web.roles import User
from placewise.publish.web.store import WebStore

Action = Literal["login", "logout", "refused", "person_level_read", "reidentification", "user_added", "token_issued",
                 "reload"]
AUDIT_COLUMNS = ("at", "who", "role", "action", "target", "outcome", "detail")


def record(store: WebStore, user: User, action: Action, target: str, outcome: str, detail: str = "") -> None:
    """Append one audit row."""
    store.run("INSERT INTO web_audit VALUES (?, ?, ?, ?, ?, ?, ?)",
              (datetime.now(UTC).replace(tzinfo=None), user.username, user.role, action, target, outcome, detail))


def rows(store: WebStore, limit: int = 1000) -> list[dict[str, object]]:
    """The latest audit rows, newest first."""
    columns = ", ".join(f'"{c}"' for c in AUDIT_COLUMNS)
    got = store.run(f'SELECT {columns} FROM web_audit ORDER BY "at" DESC LIMIT ?', (limit,))
    return [dict(zip(AUDIT_COLUMNS, r, strict=True)) for r in got]
