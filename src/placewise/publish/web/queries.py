"""What the pages read from the warehouse beyond the API's snapshot: whether the data are synthetic, the
population health tables (each read once per warehouse version, read-only, and kept), a practice's
worklists and their re-identification (read on each request: person-level, never kept).

The population health view is the report's own chapter (:func:`placewise.publish.phm.build_chapter`), so
its counts pass the same disclosure rule.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ibis
import pyarrow as pa

from placewise.derive.segments import PEOPLE_TABLE
from placewise.derive.worklists import RUNS_TABLE, diff, rows_of
from placewise.profile import Profile
from placewise.profile.worklists import load_worklists
from placewise.publish.access import Requester, reidentify
from placewise.publish.access import Role as AccessRole
from placewise.publish.inputs import is_synthetic
from placewise.publish.phm import PhmChapter, build_chapter
from placewise.publish.web.roles import User
from placewise.publish.web.snapshot import open_warehouse
from placewise.warehouse.connection import table_names
from placewise.warehouse.identity import (
    STORE_ENV,
    IdentityError,
    key_from_env,
    open_store,
)

_LOCK = threading.Lock()
_SYNTHETIC: dict[tuple[str, datetime | None], bool] = {}
_PHM: dict[tuple[str, datetime | None], PhmChapter | None] = {}


def synthetic(url: str, version: datetime | None) -> bool:
    """Whether the warehouse holds the synthetic population (read once per warehouse version)."""
    key = (url, version)
    with _LOCK:
        if key in _SYNTHETIC:
            return _SYNTHETIC[key]
    with open_warehouse(url) as con:
        found = is_synthetic(con)
    with _LOCK:
        _SYNTHETIC[key] = found
    return found


def population(url: str, version: datetime | None, profile: Profile) -> PhmChapter | None:
    """The population health chapter of the warehouse, or None where its PHM tables have not been built."""
    key = (url, version)
    with _LOCK:
        if key in _PHM:
            return _PHM[key]
    with open_warehouse(url) as con:
        chapter = build_chapter(con, profile, None) if PEOPLE_TABLE in table_names(con) else None
    with _LOCK:
        _PHM[key] = chapter
    return chapter


def _access_role(user: User) -> AccessRole:
    """The user's role as the access module names roles (any role but clinician or analyst is a manager)."""
    return "clinician" if user.role == "clinician" else "analyst" if user.role == "analyst" else "manager"


@dataclass(frozen=True)
class PracticeList:
    """The latest run of one worklist for one practice: pseudonymised rows and which are new since the run before."""

    list_id: str
    title: str
    run_id: str
    reference_date: date
    rows: list[dict[str, object]]
    new: frozenset[str]


def _latest_runs(con: ibis.BaseBackend) -> list[dict[str, Any]]:
    """The newest stored run of every list."""
    runs = con.table(RUNS_TABLE)
    latest = runs.group_by("list_id").aggregate(created_at=runs.created_at.max())
    return runs.join(latest, ["list_id", "created_at"]).select("run_id", "list_id", "reference_date") \
        .order_by("list_id").to_pyarrow().to_pylist()


def practice_worklists(url: str, profile: Profile, practice: str) -> list[PracticeList]:
    """Every list's latest run for ``practice`` (pseudonyms only), in the profile's order."""
    lists = load_worklists(profile)
    titles = {w.id: w.title for w in lists.worklists}
    with open_warehouse(url) as con:
        if RUNS_TABLE not in table_names(con):
            return []
        out = []
        for r in _latest_runs(con):
            rows = rows_of(con, str(r["run_id"]), practice)
            added, _ = diff(con, str(r["run_id"]), practice)
            out.append(PracticeList(str(r["list_id"]), titles.get(str(r["list_id"]), str(r["list_id"])),
                                    str(r["run_id"]), r["reference_date"], rows.to_pylist(), frozenset(added)))
    order = {w.id: k for k, w in enumerate(lists.worklists)}
    return sorted(out, key=lambda p: order.get(p.list_id, len(order)))


def reidentified(url: str, user: User, run_id: str, purpose: str) -> pa.Table:
    """The user's practice's rows of a run with NHS numbers, through the one access module, which grants only a
    clinician of that practice stating direct care, and audits every attempt in the identity store."""
    store_url = os.environ.get(STORE_ENV)
    if not store_url:
        raise IdentityError(f"re-identification needs the identity store named in ${STORE_ENV}")
    fernet = key_from_env()
    store = open_store(store_url)
    try:
        with open_warehouse(url) as con:
            return reidentify(con, store, fernet, Requester(user.username or "", _access_role(user),
                                                            user.practice or "", purpose), run_id, user.practice or "")
    finally:
        store.disconnect()
