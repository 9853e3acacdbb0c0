"""The measurements as each role may read them, made once when the server starts (or is told to reload).

The warehouse is opened read-only for as long as it takes to read the measurements, the areas and
the data quality summary, and closed again, so a load can run beside the server. Publishing reads the
measurements through the one query layer (:func:`placewise.publish.inputs.published_measurements`):
the disclosure decision is made once over the whole table (or read from the web store, where it was kept for
exactly the same measurements, rule, geographies and method), and every response is cut from its two
results kept side by side, row for row: the published figures (suppressed, rounded) and the
unsuppressed ones, which only the roles that may read them are given (:mod:`.roles`).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

import ibis
import numpy as np
import pandas as pd

from placewise.measure import Catalogue, load_catalogue
from placewise.profile import Profile
from placewise.publish.disclosure import (
    UNPUBLISHED,
    Decision,
    DisclosureRule,
    KeptDecisions,
    ReaderDecisions,
    geography_relations,
    kept_or_made,
    load_rule,
    publishable,
    reader_digest,
)
from placewise.publish.inputs import event_spreads, printed_alone, published_measurements, read_measurements, warehouse_quality
from placewise.publish.report import DataQuality
from placewise.publish.web.roles import User, reads_unsuppressed
from placewise.warehouse.connection import require_tables
from placewise.warehouse.engines import engine_class

T = TypeVar("T")

ROW_COLUMNS = ["period_start", "period_end", "geography_type", "geography_code", "area_name", "breakdown",
               "breakdown_group", "numerator", "denominator", "value", "lower", "upper", "suppressed",
               "suppression_reason"]
"""The columns of one data row, as every response gives them."""
AREA_COLUMNS = ["geography_type", "geography_code", "name", "parent_type", "parent_code", "place"]


class Warehouse:
    """Brief reads of the warehouse per request, as its engine does them (DuckDB opened read-only and closed
    again, PostgreSQL pooled)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._reader = engine_class(url).reader(url)

    @contextmanager
    def read(self) -> Iterator[ibis.BaseBackend]:
        """An Ibis backend on the warehouse for the length of one request."""
        with self._reader.read() as con:
            yield con

    def close(self) -> None:
        """Release the engine's connections, if it holds any."""
        self._reader.close()


@contextmanager
def open_warehouse(url: str) -> Iterator[ibis.BaseBackend]:
    """The warehouse, read-only where the engine allows (so a load can run beside it once this closes), closed
    after use."""
    con = engine_class(url).open_read_only(url)
    try:
        yield con
    finally:
        con.disconnect()


def areas(profile: Profile, practices: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Every area with its name, parent and Place (None for the ICS, groupings, providers and their sites)."""
    ics = profile.ics
    rows: list[tuple[str, str, str, str | None, str | None, str | None]] = [
        ("ics", ics.code, ics.name, None, None, None)]
    rows += [("place", p.code, p.name, "ics", ics.code, p.code) for p in ics.places]
    rows += [(g.kind, g.code, g.name, "ics", ics.code, None) for g in ics.groupings]
    rows += [("provider", p.code, p.name, "ics", ics.code, None) for p in ics.providers]
    rows += [("site", s.code, s.name, "provider", p.code, None) for p in ics.providers for s in p.sites]
    pr = practices.dropna(subset=["practice_code"])
    pcn_place = pr.dropna(subset=["pcn_code"]).groupby("pcn_code").la_code.agg(lambda s: s.iloc[0] if s.nunique() == 1
                                                                              else None)
    pcns = pr.dropna(subset=["pcn_code"]).drop_duplicates("pcn_code")
    rows += [("pcn", r.pcn_code, r.pcn_name or r.pcn_code, "place" if pcn_place[r.pcn_code] else "ics",
              pcn_place[r.pcn_code] or ics.code, pcn_place[r.pcn_code]) for r in pcns.itertuples()]
    rows += [("practice", r.practice_code, r.practice_name or r.practice_code, "pcn" if r.pcn_code else "place",
              r.pcn_code or r.la_code, r.la_code) for r in pr.itertuples()]
    known = pd.DataFrame(rows, columns=AREA_COLUMNS).drop_duplicates(["geography_type", "geography_code"])
    seen = measured[["geography_type", "geography_code"]].drop_duplicates()
    extra = seen.merge(known, how="left", on=["geography_type", "geography_code"], indicator=True)
    extra = extra[extra._merge == "left_only"][["geography_type", "geography_code"]]
    extra = extra.assign(name=extra.geography_code, parent_type="ics", parent_code=ics.code, place=None)
    return pd.concat([known, extra], ignore_index=True).sort_values(["geography_type", "geography_code"],
                                                                    ignore_index=True)


OPEN_COLUMNS = ("numerator", "denominator", "value", "lower", "upper", "suppressed", "suppression_reason")
"""The columns in which a published row and its unsuppressed twin differ."""


@dataclass(frozen=True)
class IndicatorRows:
    """One indicator's rows as column arrays: published, the unsuppressed values, each row's Place."""

    published: dict[str, np.ndarray]
    unsuppressed: dict[str, np.ndarray]
    place: np.ndarray
    spans: dict[tuple[str, str | None], tuple[int, int]]
    """Row range of each level ``(type, None)`` and area ``(type, code)`` (rows are sorted by them)."""
    ends: np.ndarray
    """Period ends as ``datetime64[D]``, to filter by number rather than by text."""
    breakdowns: np.ndarray
    """Breakdown of each row as a code of :attr:`breakdown_codes`."""
    breakdown_codes: dict[str, int]

    def span(self, level: str | None, area: str | None) -> tuple[int, int]:
        """The rows of a level or area (all rows if neither is given; none if unknown)."""
        if level is None and area is None:
            return 0, len(self.place)
        if level is None:
            found = [v for (t, c), v in self.spans.items() if c == area]
            return found[0] if len(found) == 1 else (0, 0)
        return self.spans.get((level, area), (0, 0))


@dataclass(frozen=True)
class ReaderInputs:
    """The published decision and its inputs, kept to decide again for a reader who knows some cells' true
    values (a Place lead knows their own Place's), so that no hidden cell of another Place can be worked out."""

    frame: pd.DataFrame
    decision: Decision
    measures: dict[str, str]
    relations: pd.DataFrame
    place: np.ndarray
    """Each row's Place (None where it has none), in the frame's order."""
    order: np.ndarray
    """The frame's rows in the order of the per-indicator arrays (see :func:`_split`)."""
    kept: KeptDecisions | None
    """Where each reader's decision is kept for the next start on the same measurements (the web store)."""


@dataclass(frozen=True)
class Snapshot:
    """What the server reads from the warehouse at start-up."""

    profile: Profile
    catalogue: Catalogue
    rule: DisclosureRule
    by_indicator: dict[str, IndicatorRows]
    areas: pd.DataFrame
    quality: DataQuality
    measurements: int
    computed_at: datetime | None
    version: Version
    reader: ReaderInputs
    alone: dict[str, frozenset[tuple[str, date]]]
    """The returned values printed without their counts, by indicator (:func:`printed_alone`)."""
    spreads: dict[str, tuple[tuple[date, float, float], ...]] = field(default_factory=dict)
    """The ICS's spread of a value summed per event, by indicator and period (:func:`event_spreads`)."""
    _memo: OrderedDict[Hashable, object] = field(default_factory=OrderedDict, repr=False, compare=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _making: dict[Hashable, threading.Lock] = field(default_factory=dict, repr=False, compare=False)

    MEMO_SIZE = 4096
    """How many responses, views and models are kept (least recently used dropped first)."""

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """What ``make`` returns for ``key``, made once while this snapshot lasts (its figures never change; a
        reload is a new snapshot, so nothing kept here outlives the figures it was made from). Requests that ask
        for a key while it is being made wait for it rather than make it again."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]  # type: ignore[return-value]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._memo_lock:
                if key in self._memo:
                    return self._memo[key]  # type: ignore[return-value]
            made = make()
            with self._memo_lock:
                self._memo[key] = made
                self._making.pop(key, None)
                if len(self._memo) > self.MEMO_SIZE:
                    self._memo.popitem(last=False)
        return made

    def place_views(self) -> None:
        """Make every Place lead's figures (:meth:`_place_view`), so a Place lead's first request need not wait
        for them (``placewise serve`` runs this before it serves)."""
        for place in self.profile.ics.places:
            self._place_view(place.code)

    @staticmethod
    def audience(user: User) -> Hashable:
        """What decides the figures a user reads: every area open (analyst), one Place open (Place lead), or
        none (the public and every other role); the key of everything kept per reader."""
        if reads_unsuppressed(user, None):
            return "open"
        return ("place", user.place) if user.role == "place_lead" else "published"

    def rows(self, user: User, indicator_id: str, level: str | None = None, area: str | None = None,
             breakdown: str | None = "none", first: str | None = None, last: str | None = None) -> pd.DataFrame:
        """An indicator's rows as this user may read them, filtered (periods by their end, ISO dates)."""
        ind = self.by_indicator.get(indicator_id)
        if ind is None:
            return pd.DataFrame(columns=ROW_COLUMNS)
        lo, hi = ind.span(level, area)
        pub = ind.published
        keep = np.ones(hi - lo, dtype=bool)
        if breakdown is not None:
            keep &= ind.breakdowns[lo:hi] == ind.breakdown_codes.get(breakdown, -1)
        if first is not None:
            keep &= ind.ends[lo:hi] >= np.datetime64(first, "D")
        if last is not None:
            keep &= ind.ends[lo:hi] <= np.datetime64(last, "D")
        idx = lo + np.flatnonzero(keep)
        open_rows = self._unsuppressed_rows(user, ind.place[idx])
        columns = {c: pub[c][idx] for c in ROW_COLUMNS}
        audience = self.audience(user)
        if isinstance(audience, tuple):
            changed, values = self._place_view(audience[1]).get(indicator_id, _UNCHANGED)
            at = np.searchsorted(idx, changed)
            hit = at < len(idx)
            hit[hit] = idx[at[hit]] == changed[hit]
            for c in OPEN_COLUMNS:
                columns[c][at[hit]] = values[c][hit]
        if open_rows.any():
            for c in OPEN_COLUMNS:
                columns[c] = np.where(open_rows, ind.unsuppressed[c][idx], columns[c])
        shown = ~((columns["suppression_reason"] == UNPUBLISHED) & ~open_rows)
        return pd.DataFrame({c: v[shown] for c, v in columns.items()})

    def _place_view(self, place: str | None) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Where a Place lead of ``place`` reads other published figures than the public, by indicator: those rows
        (positions in the indicator's arrays, ascending) and their columns, from the decision made again for a
        reader who knows that Place's cells (:class:`ReaderDecisions`), once per Place and measurements (kept in
        the web store). Only the rows whose decision changed are published again (publishing is row by row), so
        the view is small."""
        def make() -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
            r = self.reader
            known = r.place == place

            def decide() -> Decision:
                """The decision made again for this Place's lead."""
                readers = self.memo("readers", lambda: ReaderDecisions(r.frame, r.decision, r.measures, r.relations))
                return readers.for_known(known)

            cells = kept_or_made(r.kept, reader_digest(r.decision, known), r.frame, r.decision.rule, decide).cells
            was = r.decision.cells
            rows = np.flatnonzero((cells.suppressed.to_numpy() != was.suppressed.to_numpy())
                                  | (cells.reason.to_numpy() != was.reason.to_numpy()))
            changed = Decision(r.decision.rule, cells.iloc[rows].reset_index(drop=True))
            table = publishable(r.frame.iloc[rows], changed, r.measures).assign(suppression_reason=changed.cells.reason)
            where = np.argsort(r.order)[rows]
            sort = np.argsort(where)
            where = where[sort]
            columns = {c: table[c].to_numpy(dtype=object if c == "suppression_reason" else None)[sort]
                       for c in OPEN_COLUMNS}
            out = {}
            for i, lo, hi in _indicator_bounds(r.frame, r.order):
                a, b = np.searchsorted(where, [lo, hi])
                if b > a:
                    out[i] = (where[a:b] - lo, {c: v[a:b] for c, v in columns.items()})
            return out

        return self.memo(("place view", place), make)

    @staticmethod
    def _unsuppressed_rows(user: User, places: np.ndarray) -> np.ndarray:
        """Which rows (by their Place) this user reads unsuppressed."""
        if reads_unsuppressed(user, None):
            return np.ones(len(places), dtype=bool)
        if user.role != "place_lead":
            return np.zeros(len(places), dtype=bool)
        # Areas with no Place are codes of their own (``pd.unique`` and the default codes disagree on them).
        codes, distinct = pd.factorize(places, use_na_sentinel=False)
        return np.array([isinstance(p, str) and reads_unsuppressed(user, p) for p in distinct], dtype=bool)[codes]


def _order(frame: pd.DataFrame) -> np.ndarray:
    """The rows in the order of a response: by indicator, area, breakdown and period."""
    return frame.sort_values(["indicator_id", "geography_type", "geography_code", "breakdown", "breakdown_group",
                              "period_end"]).index.to_numpy()


def _indicator_bounds(frame: pd.DataFrame, order: np.ndarray) -> list[tuple[str, int, int]]:
    """Each indicator with the range of its rows in ``order``."""
    ids = _column(frame.indicator_id, order)
    bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
    return [(str(ids[lo]), int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]


def _places(frame: pd.DataFrame, area_table: pd.DataFrame) -> pd.Series:
    """Each row's Place, from its area."""
    names = area_table.set_index(["geography_type", "geography_code"])
    return names.place.reindex(pd.MultiIndex.from_frame(frame[["geography_type", "geography_code"]]))


def _split(frame: pd.DataFrame, published: pd.DataFrame, reasons: pd.Series, area_table: pd.DataFrame,
           order: np.ndarray) -> dict[str, IndicatorRows]:
    """Both tables cut by indicator, in the columns of a response, in ``order`` (see :func:`_order`)."""
    names = area_table.set_index(["geography_type", "geography_code"])
    key = pd.MultiIndex.from_frame(frame[["geography_type", "geography_code"]])
    shared = {"area_name": _column(names.name.reindex(key), order),
              **{c: _column(frame[c], order, str) for c in ("period_start", "period_end")}}
    shared_pub = {**shared, "suppression_reason": _column(reasons, order)}
    pub = {c: shared_pub[c] if c in shared_pub else _column(published[c], order) for c in ROW_COLUMNS}
    raw = {c: _column(frame[c], order) for c in OPEN_COLUMNS if c in frame.columns}
    raw["suppressed"] = np.zeros(len(order), dtype=bool)
    raw["suppression_reason"] = np.full(len(order), "", dtype=object)
    place = _column(_places(frame, area_table), order)
    ends = _column(frame.period_end, order, str, "datetime64[D]")
    codes, names_of = pd.factorize(pub["breakdown"])
    breakdown_codes = {str(b): i for i, b in enumerate(names_of)}
    return {i: IndicatorRows({c: v[lo:hi] for c, v in pub.items()},
                                        {c: raw[c][lo:hi] for c in OPEN_COLUMNS}, place[lo:hi],
                                        _spans(pub["geography_type"][lo:hi], pub["geography_code"][lo:hi]),
                                        ends[lo:hi], codes[lo:hi], breakdown_codes)
            for i, lo, hi in _indicator_bounds(frame, order)}


def _column(values: pd.Series, order: np.ndarray, convert: Callable[[object], object] | None = None,
            dtype: str = "object") -> np.ndarray:
    """A column in row order ``order``: numbers and flags as they are; text (and dates, through ``convert``) as a
    NumPy array (objects unless ``dtype`` says) made from its distinct values, fast to make and to compare."""
    plain = values.to_numpy() if convert is None and values.dtype.kind in "fbiu" else None
    if plain is not None and plain.dtype.kind in "fbiu":
        return plain[order]
    codes, distinct = pd.factorize(values)
    made = [convert(v) if convert else v for v in distinct]
    return np.array([*made, None], dtype=dtype)[codes[order]]


def _spans(types: np.ndarray, codes: np.ndarray) -> dict[tuple[str, str | None], tuple[int, int]]:
    """Row ranges of each level and each area in rows sorted by level and area."""
    out: dict[tuple[str, str | None], tuple[int, int]] = {}
    for keys in ((types,), (types, codes)):
        change = np.zeros(len(types), dtype=bool)
        change[0:1] = True
        for k in keys:
            change[1:] |= k[1:] != k[:-1]
        starts = np.flatnonzero(change)
        ends = np.r_[starts[1:], len(types)]
        for a, b in zip(starts, ends, strict=True):
            out[(str(types[a]), str(codes[a]) if len(keys) == 2 else None)] = (int(a), int(b))
    return out


_UNCHANGED: tuple[np.ndarray, dict[str, np.ndarray]] = (np.empty(0, dtype=np.int64),
                                                        {c: np.empty(0, dtype=object) for c in OPEN_COLUMNS})
"""A Place lead's view of an indicator with no row changed."""

Version = tuple[int, datetime | None]
"""Which measurements a snapshot holds: the warehouse's row count and latest computation time."""
_CACHE: dict[str, Snapshot] = {}
_CACHE_LOCK = threading.Lock()


def _version(con: ibis.BaseBackend) -> Version:
    """The measurements' row count and latest computation time (a new load changes the second)."""
    t = con.table("measurements")
    got = t.aggregate(n=t.count(), latest=t.computed_at.max()).to_pandas().iloc[0]
    return int(got.n), None if pd.isna(got.latest) else pd.Timestamp(got.latest).to_pydatetime()


def version(url: str) -> Version:
    """The warehouse's measurements version, read briefly (read-only)."""
    with open_warehouse(url) as con:
        require_tables(con, ["measurements"])
        return _version(con)


def load(url: str, profile: Profile, decisions: KeptDecisions | None = None) -> Snapshot:
    """Read the warehouse's measurements, areas and data quality, and make the disclosure decision (or read the
    one ``decisions`` holds for exactly these measurements, profile and method, and keep it there once made).

    The latest snapshot of each warehouse is kept for the life of the process, so a second application
    on the same warehouse and version (a test's client and server) does not decide again.
    """
    with open_warehouse(url) as con:
        require_tables(con, ["measurements", "practices", "load_log", "load_files", "quarantine"])
        found = _version(con)
        with _CACHE_LOCK:
            kept = _CACHE.get(url)
            if kept is not None and kept.version == found:
                return kept
        catalogue = load_catalogue(profile)
        frame = read_measurements(con)
        published, decision = published_measurements(con, profile, catalogue, frame, decisions)
        practices = con.table("practices").select("practice_code", "practice_name", "pcn_code", "pcn_name",
                                                  "la_code").to_pandas()
        area_table = areas(profile, practices, frame)
        order = _order(frame)
        reader = ReaderInputs(frame.reset_index(drop=True), decision, {i.id: i.measure for i in catalogue.indicators},
                              geography_relations(profile, practices, frame),
                              _places(frame, area_table).to_numpy(dtype=object), order, decisions)
        rule = load_rule(profile)
        snap = Snapshot(profile=profile, catalogue=catalogue, rule=rule,
                        by_indicator=_split(frame, published, decision.cells.reason, area_table, order),
                        areas=area_table, quality=warehouse_quality(con, frame), measurements=len(frame),
                        computed_at=found[1], version=found, reader=reader,
                        alone=printed_alone(con, catalogue, frame), spreads=event_spreads(con, catalogue, rule))
    with _CACHE_LOCK:
        _CACHE[url] = snap
    return snap
