"""Turn the catalogue's counts into measurements: value and confidence interval.

The ``measurements`` table (one row per indicator × period × geography × breakdown group):

- ``indicator_id``: the catalogue id.
- ``period_start``, ``period_end``: first and last day of the period (a month, a financial
  quarter or year, or a rolling twelve months ending on ``period_end``).
- ``geography_type``: ``ics``, ``place``, ``pcn``, ``practice``, ``provider``, ``site`` or a profile
  grouping kind (``care_alliance``, ``legacy_ccg``); ``geography_code``: its ODS/ONS/profile code.
- ``breakdown``: ``none``, ``imd_quintile``, ``ethnic_group``, ``sex``, ``age_band``, the two-attribute
  ``sex_by_imd_quintile`` and ``ethnic_group_by_imd_quintile`` or, for means broken down by deprivation,
  ``imd_quintile_gap``; ``breakdown_group``: the group (``All`` for ``none``; quintile ``1`` is the most
  deprived; a two-attribute group is ``female|1``; the gap row is ``5 minus 1``).
- ``numerator``, ``denominator``: events or persons counted; for a DSR the totals over age bands;
  for a ratio against expected cases the expected count; for a mean or median the sum of values and
  the number of units; null on gap rows.
- ``value``: per the indicator's multiplier (percentage, rate per 1,000 or 100,000, days, years);
  ``lower``, ``upper``: 95% confidence limits (null where the method gives none).
- ``computed_at``: when this computation ran (UTC).
- ``events``, ``sum_squares``: for a rate whose numerator sums a value per event (bed days), the number of events
  with a value (O) and the sum of the squared values (V), from which its interval and funnel limits come; null for
  every other indicator.

Methods (all from :mod:`placewise.analyse.statistics`): proportions, Wilson; crude rates and counts,
exact Poisson below 10 and Byar's from 10; a rate of a value summed over events (bed days), Dobson's limits from
the sum of squared values (:func:`placewise.analyse.statistics.compound_poisson_rate`); DSR, 2013 ESP with Dobson limits; ratios, observed over
denominator with the exact/Byar limits of the observed count (the indirect-standardisation method,
exact when the denominator is an expected count); means, Student's t on the sample standard
deviation (as PHEindicatormethods ``phe_mean``); medians, no interval.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from placewise.analyse.statistics import (
    ESP2013,
    compound_poisson_rate,
    crude_rate,
    directly_standardised_rate,
    z_score,
    indirectly_standardised_ratio,
    poisson_limits,
    proportion,
)
from placewise.measure import COUNTS_SCHEMA, Catalogue, Indicator, ReportingRange, load_catalogue
from placewise.measure.catalogue import Persons
from placewise.measure.computation import KEYS as COUNTS_KEYS
from placewise.measure.computation import counts_by_indicator, key_groups, sort_by_keys
from placewise.profile import Profile
from placewise.warehouse.connection import table_names
from placewise.warehouse.engines import engine_for

if TYPE_CHECKING:
    import pandas as pd

TABLE = "measurements"
KEYS = ["indicator_id", "period_start", "period_end", "geography_type", "geography_code", "breakdown",
        "breakdown_group"]
SCHEMA = pa.schema([
    *(COUNTS_SCHEMA.field(k) for k in [*KEYS, "numerator", "denominator"]),
    ("value", pa.float64()),
    ("lower", pa.float64()),
    ("upper", pa.float64()),
    ("computed_at", pa.timestamp("us")),
    ("events", pa.float64()),
    ("sum_squares", pa.float64()),
])
COUNTED = ("numerator", "denominator", "sum_squares", "events", "median")
"""The columns of the counts a measurement is computed from, in :func:`_statistic`'s order."""
CONFIDENCE = 0.95


def _statistic(ind: Indicator, num: np.ndarray, den: np.ndarray, sum_sq: np.ndarray, events: np.ndarray,
               median: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value and limits for rows of one non-standardised indicator; NaN where undefined (no denominator)."""
    value, lower, upper = (np.full(len(num), np.nan) for _ in range(3))
    ok = den > 0
    if ind.measure == "count":
        lo, hi = poisson_limits(num, CONFIDENCE)
        return num.copy(), lo, hi
    if ind.measure == "returned":  # a published figure covers everyone counted: no sampling interval
        value[ok] = num[ok] / den[ok] * ind.per
        return value, lower, upper
    if ind.measure == "median":
        value[ok] = median[ok]
        return value, lower, upper
    if not ok.any():
        return value, lower, upper
    x, n = num[ok], den[ok]
    if ind.measure == "proportion":
        est = proportion(x, n, CONFIDENCE, multiplier=ind.per)
        value[ok], lower[ok], upper[ok] = est.value, est.lower, est.upper
    elif ind.sums_values:
        est = compound_poisson_rate(x, events[ok], sum_sq[ok], n, CONFIDENCE, multiplier=ind.per)
        value[ok], lower[ok], upper[ok] = est.value, est.lower, est.upper
    elif ind.measure == "crude_rate":
        est = crude_rate(x, n, CONFIDENCE, multiplier=ind.per)
        value[ok], lower[ok], upper[ok] = est.value, est.lower, est.upper
    elif ind.measure == "ratio":
        r = indirectly_standardised_ratio(x, n, CONFIDENCE, multiplier=ind.per)
        value[ok], lower[ok], upper[ok] = r.value, r.lower, r.upper
    else:  # mean
        value[ok], lower[ok], upper[ok] = _mean(x, n, sum_sq[ok])
    return value, lower, upper


def _mean(total: np.ndarray, n: np.ndarray, sum_sq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean with a Student's t interval from the sample standard deviation (none for a single unit)."""
    from scipy.special import stdtrit  # only a mean needs it: a run without one does not import SciPy

    mean = total / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.clip((sum_sq - n * mean * mean) / (n - 1), 0.0, None)
        half = stdtrit(n - 1, 0.5 + CONFIDENCE / 2) * np.sqrt(var / n)
    half = np.where(n > 1, half, np.nan)
    return mean, mean - half, mean + half


def _dsr(ind: Indicator, counts: pa.Table, stamp: datetime) -> pa.Table:
    """A DSR's measurements, one row per group sorted by key: its counts by ESP band laid in a grid of groups × bands
    (a band without a row counts zero; a band outside the denominator's ages is left out), then Dobson."""
    lo_band, hi_band = _bands(ind)
    group, first = key_groups(counts, KEYS[1:])
    band = _floats(counts["standard_band"]) // 5 - lo_band
    inside = (band >= 0) & (band <= hi_band - lo_band)
    grid = (len(first), hi_band - lo_band + 1)
    events, pops = np.zeros(grid), np.zeros(grid)
    cell = (group[inside], band[inside].astype(np.int64))
    for laid, column in ((events, "numerator"), (pops, "denominator")):
        values = _floats(counts[column])[inside]
        laid[cell] = np.where(np.isnan(values), 0.0, values)
    # Events and population share the age at the period end, so a band with events has population,
    # except where an age limit on the events reaches past the denominator's (none in the bundled catalogue).
    events = np.where((pops == 0) & (events > 0), 0.0, events)
    r = directly_standardised_rate(events.ravel(), pops.ravel(), np.repeat(np.arange(grid[0]), grid[1]),
                                   np.tile(np.arange(grid[1]), grid[0]), standard=ESP2013[lo_band:hi_band + 1],
                                   confidence=CONFIDENCE, multiplier=ind.per)
    no_population = r.population <= 0
    estimates = [np.where(no_population, np.nan, f) for f in (r.value, r.lower, r.upper)]
    keyed = counts.select(KEYS).take(pa.array(first))
    return pa.Table.from_arrays([*keyed.columns, *(_finite(f) for f in (r.observed, r.population, *estimates)),
                                 _stamps(grid[0], stamp), *_nulls(grid[0])], schema=SCHEMA)


def _bands(ind: Indicator) -> tuple[int, int]:
    """Indices of the first and last ESP 2013 bands covered by the DSR's denominator ages."""
    if not isinstance(ind.denominator, Persons):
        raise TypeError(f"{ind.id}: a directly standardised rate has a persons denominator (the catalogue checks this)")
    age = ind.denominator.age
    lo = 0 if age.min is None else age.min // 5
    hi = len(ESP2013) - 1 if age.max is None else min(age.max // 5, len(ESP2013) - 1)
    return lo, hi


def _standard_error(rows: pd.DataFrame, suffix: str) -> pd.Series:
    """Standard error of a mean, recovered from its t interval and number of units."""
    from scipy.special import stdtrit  # see _mean

    t = stdtrit(rows[f"denominator{suffix}"] - 1, 0.5 + CONFIDENCE / 2)
    return (rows[f"upper{suffix}"] - rows[f"lower{suffix}"]) / (2 * t)


def _imd_gap(rows: pd.DataFrame) -> pd.DataFrame:
    """For a mean by IMD quintile: least deprived (5) minus most deprived (1), with a normal interval."""
    q = rows[rows["breakdown"] == "imd_quintile"]
    keys = ["indicator_id", "period_start", "period_end", "geography_type", "geography_code"]
    both = q[q["breakdown_group"] == "1"].merge(q[q["breakdown_group"] == "5"], on=keys, suffixes=("_1", "_5"))
    z = z_score(CONFIDENCE)
    gap = both["value_5"] - both["value_1"]
    half = z * np.sqrt(_standard_error(both, "_1") ** 2 + _standard_error(both, "_5") ** 2)
    out = both[keys].copy()
    out["breakdown"], out["breakdown_group"] = "imd_quintile_gap", "5 minus 1"
    out["numerator"], out["denominator"] = np.nan, np.nan
    out["value"], out["lower"], out["upper"] = gap, gap - half, gap + half
    return out


def measurements(counts: pa.Table, catalogue: Catalogue, computed_at: datetime) -> pa.Table:
    """Measurements from the computed counts (see :data:`placewise.measure.COUNTS_SCHEMA`), by indicator id and
    within an indicator in the order of its counts (``compute`` gives them sorted by key, so these are too).

    One indicator at a time, so the working memory is one indicator's rows. Indicators are computed in NumPy over
    the Arrow columns; a mean's IMD gap goes through pandas (imported only for it).
    """
    stamp = computed_at.replace(tzinfo=None)
    by_id = _by_indicator(counts)
    parts = [_indicator_measurements(catalogue.indicator(i), by_id[i], stamp) for i in sorted(by_id)]
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()


def _by_indicator(counts: pa.Table) -> dict[str, pa.Table]:
    """Each indicator's counts: slices of the table where each indicator's rows lie together (as ``compute`` gives
    them), without copying; otherwise a filter per indicator."""
    runs = pc.run_end_encode(counts.column("indicator_id").combine_chunks())
    ids, ends = runs.values.to_pylist(), runs.run_ends.to_pylist()
    if len(set(ids)) < len(ids):
        return {str(i): counts.filter(pc.equal(counts["indicator_id"], i)) for i in set(ids)}
    return {str(i): counts.slice(start, end - start) for i, start, end in zip(ids, [0, *ends], ends, strict=False)}


def _indicator_measurements(ind: Indicator, counts: pa.Table, stamp: datetime) -> pa.Table:
    """One indicator's measurements from its counts, as an Arrow table of :data:`SCHEMA`."""
    if ind.measure == "dsr":
        return _dsr(ind, counts, stamp)
    if _has_gap(ind):
        return _through_pandas(ind, counts, stamp)
    value, lower, upper = _statistic(ind, *(_floats(counts[c]) for c in COUNTED))
    figures = {c: _finite(_floats(counts[c])) for c in ("numerator", "denominator")}
    figures |= {"value": _finite(value), "lower": _finite(lower), "upper": _finite(upper)}
    spread = [_finite(_floats(counts[c])) for c in ("events", "sum_squares")] if ind.sums_values else \
        _nulls(counts.num_rows)
    return pa.Table.from_arrays([*(counts[k] for k in KEYS), *figures.values(), _stamps(counts.num_rows, stamp),
                                 *spread], schema=SCHEMA)


def _nulls(n: int) -> list[pa.Array]:
    """``events`` and ``sum_squares`` of ``n`` rows of an indicator that sums no value per event: null."""
    return [pa.nulls(n, pa.float64()), pa.nulls(n, pa.float64())]


def _stamps(n: int, stamp: datetime) -> pa.Array:
    """The computation's time, ``n`` times (``computed_at``)."""
    return pa.array(np.full(n, np.datetime64(stamp, "us")), pa.timestamp("us"))


def _sorts_its_own(ind: Indicator) -> bool:
    """Whether the indicator's measurements come sorted by key whatever the order of its counts (a DSR's groups, or a
    mean with its IMD gap, which pandas sorts)."""
    return ind.measure == "dsr" or _has_gap(ind)


def _has_gap(ind: Indicator) -> bool:
    """Whether the indicator also reports the IMD gap (a mean broken down by deprivation)."""
    return ind.measure == "mean" and "imd_quintile" in ind.breakdowns


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64, null as NaN."""
    return column.cast(pa.float64()).to_numpy()


def _finite(x: np.ndarray) -> pa.Array:
    """Figures as Arrow doubles, null where not finite (no denominator, or no interval)."""
    return pa.array(x, pa.float64(), mask=~np.isfinite(x))


def _through_pandas(ind: Indicator, counts: pa.Table, stamp: datetime) -> pa.Table:
    """A mean with IMD gap's measurements, by pandas (quintiles paired), sorted by key."""
    import pandas as pd  # only this kind needs it: a run without one does not load pandas

    rows = counts.to_pandas()
    out = rows[KEYS + ["numerator", "denominator"]].copy()
    out["value"], out["lower"], out["upper"] = _statistic(ind, *(rows[c].to_numpy(float) for c in COUNTED))
    out = pd.concat([out, _imd_gap(out)], ignore_index=True)
    out["computed_at"] = pd.Timestamp(stamp)
    out["events"], out["sum_squares"] = np.nan, np.nan
    for c in ("value", "lower", "upper", "numerator", "denominator", "events", "sum_squares"):
        out[c] = out[c].astype(float).where(np.isfinite(out[c].astype(float)))
    table = pa.Table.from_pandas(out[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    return sort_by_keys(table, KEYS[1:])


def write_measurements(con: ibis.BaseBackend, table: pa.Table, indicator_ids: list[str]) -> None:
    """Replace the chosen indicators' rows in ``measurements`` in one transaction (created if absent; one written
    before it had ``events`` and ``sum_squares`` gets them, null, first)."""
    _widened(con)
    engine_for(con).replace_rows(TABLE, table.select(SCHEMA.names), "indicator_id", indicator_ids)


def _widened(con: ibis.BaseBackend) -> None:
    """``measurements`` with every column of :data:`SCHEMA`: one written before it had ``events`` and ``sum_squares``
    gets them, null."""
    if TABLE in table_names(con) and not set(SCHEMA.names) <= set((old := con.table(TABLE)).columns):
        engine_for(con).replace_table(TABLE, old.mutate(**{c: ibis.null("float64") for c in SCHEMA.names
                                                           if c not in old.columns}).select(SCHEMA.names))


def measure_all(con: ibis.BaseBackend, profile: Profile, *, periods_range: ReportingRange | None = None,
                indicators: list[str] | None = None) -> pa.Table:
    """Compute the profile's indicators (all by default), write them to ``measurements`` and return them.

    Each indicator's counts are sorted, turned into measurements and written (where the engine writes rows as they
    come: :meth:`~placewise.warehouse.engines.base.Engine.rows_replaced`) on a second thread while the engine
    computes the next indicator's (the engine releases the interpreter while it works), so that work costs little
    time. The chosen indicators' rows are replaced in one transaction: all of them, or none if the computation fails.
    """
    catalogue = load_catalogue(profile)
    chosen = indicators or [i.id for i in catalogue.indicators]
    stamp = datetime.now(UTC).replace(tzinfo=None)
    _widened(con)
    with (engine_for(con).rows_replaced(TABLE, SCHEMA, "indicator_id", chosen) as add,
          ThreadPoolExecutor(max_workers=1) as statistics):
        done = {ind.id: statistics.submit(_written, add, ind, part, stamp)
                for ind, part in counts_by_indicator(con, catalogue, periods_range=periods_range, indicators=chosen)
                if part.num_rows}
        table = pa.concat_tables([done[i].result() for i in sorted(done)]) if done else SCHEMA.empty_table()
    return table


def _written(add: Callable[[pa.Table], None], ind: Indicator, counts: pa.Table, stamp: datetime) -> pa.Table:
    """One indicator's measurements (:func:`_sorted_measurements`), handed to ``add`` to be written."""
    table = _sorted_measurements(ind, counts, stamp)
    add(table)
    return table


def _sorted_measurements(ind: Indicator, counts: pa.Table, stamp: datetime) -> pa.Table:
    """One indicator's measurements from its counts in any order: the rows ``measurements`` gives from them sorted
    (the counts sorted first unless the indicator's measurements come sorted whatever their order)."""
    return _indicator_measurements(ind, counts if _sorts_its_own(ind) else sort_by_keys(counts, COUNTS_KEYS[1:]),
                                   stamp)
