"""What the pages read from the warehouse beyond the API's snapshot: whether the data are synthetic, and
the population health tables. Each is read once per warehouse version, read-only, and kept.

The population health view is the report's own chapter (:func:`placewise.publish.phm.build_chapter`), so
its counts pass the same disclosure rule.
"""

from __future__ import annotations

import threading
from datetime import datetime

from placewise.derive.segments import PEOPLE_TABLE
from placewise.profile import Profile
from placewise.publish.inputs import is_synthetic
from placewise.publish.phm import PhmChapter, build_chapter
from placewise.publish.web.snapshot import open_warehouse
from placewise.warehouse.connection import table_names

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
