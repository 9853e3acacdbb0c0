"""What the pages read from the warehouse beyond the API: whether the data are synthetic and the population
health tables (each read once per warehouse version, read-only, and kept), and who is new on a worklist.

The population health view is the report's own chapter (:func:`placewise.publish.phm.build_chapter`), so
its counts pass the same disclosure rule.
"""

from __future__ import annotations

import threading
from datetime import datetime


from placewise.derive.segments import PEOPLE_TABLE
from placewise.derive.worklists import diff
from placewise.profile import Profile
from placewise.publish.inputs import is_synthetic, synthetic_share
from placewise.publish.phm import PhmChapter, build_chapter
from placewise.publish.web.snapshot import Warehouse
from placewise.warehouse.connection import table_names

_LOCK = threading.Lock()
_SYNTHETIC: dict[tuple[str, datetime | None], bool] = {}
_PHM: dict[tuple[str, datetime | None], PhmChapter | None] = {}
_SHARE: dict[tuple[str, datetime | None], float] = {}


def synthetic(warehouse: Warehouse, version: datetime | None) -> bool:
    """Whether the warehouse holds the synthetic population (read once per warehouse version)."""
    key = (warehouse.url, version)
    with _LOCK:
        if key in _SYNTHETIC:
            return _SYNTHETIC[key]
    with warehouse.read() as con:
        found = is_synthetic(con)
    with _LOCK:
        _SYNTHETIC[key] = found
    return found


def population_share(warehouse: Warehouse, version: datetime | None, profile: Profile) -> float:
    """The measured population's share of the ICS its plans are for: a synthetic sample's share, else 1 (read once
    per warehouse version). The plans of counts are scaled by it, as in the report."""
    key = (warehouse.url, version)
    with _LOCK:
        if key in _SHARE:
            return _SHARE[key]
    with warehouse.read() as con:
        share = synthetic_share(con, profile) if is_synthetic(con) else 1.0
    with _LOCK:
        _SHARE[key] = share
    return share


def population(warehouse: Warehouse, version: datetime | None, profile: Profile) -> PhmChapter | None:
    """The population health chapter of the warehouse, or None where its PHM tables have not been built."""
    key = (warehouse.url, version)
    with _LOCK:
        if key in _PHM:
            return _PHM[key]
    with warehouse.read() as con:
        chapter = build_chapter(con, profile, None) if PEOPLE_TABLE in table_names(con) else None
    with _LOCK:
        _PHM[key] = chapter
    return chapter


def new_since_last_run(warehouse: Warehouse, run_id: str, practice: str) -> frozenset[str]:
    """Pseudonyms on a practice's rows of a run that were not on the run of the same list before it."""
    with warehouse.read() as con:
        added, _ = diff(con, run_id, practice)
    return frozenset(added)
