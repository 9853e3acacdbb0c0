"""NHS England's published A&E attendances and 4-hour breaches as canonical aggregate returns.

Reads the monthly provider-level statistics (columns ``period, org_code, type, attendances,
breaches, admissions``; type ``1``, ``2`` or ``other``) and writes ``aggregate_returns`` rows
for the chosen providers: the share seen within four hours for type 1 departments and for all
types, and the counts behind them; and England's two shares (every provider in the file, which holds
all of England's A&E departments) under England's ONS code, the national comparator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from placewise.canonical import table
from placewise.returns import ENGLAND_CODE

FILE_NAME = "nhse_ae_attendances_2016_2019.csv"
"""The statistics' file inside a reference folder (``../shared/reference`` beside a checkout)."""

COLUMNS = ("period", "org_code", "type", "attendances", "breaches", "admissions")
COUNTS = ("attendances", "breaches", "admissions")
TYPES = ("1", "2", "other")


class SourceError(ValueError):
    """The source file cannot be read as NHS England A&E statistics; the message says where."""


def _read(path: Path) -> pa.Table:
    """Read the CSV as text, naming the file if it is unreadable or lacks a column."""
    try:
        raw = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in COLUMNS}))
    except (OSError, pa.ArrowInvalid) as e:
        raise SourceError(f"{path}: cannot read as CSV: {e}") from None
    missing = [c for c in COLUMNS if c not in raw.column_names]
    if missing:
        raise SourceError(f"{path}: missing required column(s) {', '.join(missing)}")
    return raw.select(list(COLUMNS))


def _first_bad(path: Path, column: str, ok: np.ndarray, values: pa.Array, what: str) -> None:
    """Raise naming the first row (1-based data row, header not counted) where ``ok`` is false."""
    if not ok.all():
        i = int(np.argmin(ok))
        raise SourceError(f"{path}: row {i + 1}, field {column}: {values[i].as_py()!r} is not {what}")


def _typed(path: Path, raw: pa.Table) -> pa.Table:
    """Check and cast every field: ISO dates, known department types, whole non-negative counts."""
    period = raw["period"].combine_chunks()
    dates = pc.strptime(period, format="%Y-%m-%d", unit="s", error_is_null=True)
    _first_bad(path, "period", pc.is_valid(dates).to_numpy(zero_copy_only=False), period, "a date YYYY-MM-DD")
    kind = raw["type"].combine_chunks()
    _first_bad(path, "type", pc.is_in(kind, pa.array(TYPES)).to_numpy(zero_copy_only=False), kind, "1, 2 or other")
    cols = {"period": pc.cast(dates, pa.date32()), "org_code": raw["org_code"], "type": kind}
    for c in COUNTS:
        text = raw[c].combine_chunks()
        ok = pc.fill_null(pc.match_substring_regex(text, r"^\d+$"), False).to_numpy(zero_copy_only=False)
        _first_bad(path, c, ok, text, "a whole number of 0 or more")
        cols[c] = pc.cast(text, pa.int64())
    return pa.table(cols)


def aggregate_returns(path: Path, providers: tuple[str, ...]) -> pa.Table:
    """The canonical aggregate-returns rows for ``providers`` from the published CSV at ``path``, and England's
    four-hour shares (every provider in the file summed) as the national comparator."""
    data = _typed(path, _read(path))
    england = data.set_column(data.schema.get_field_index("org_code"), "org_code",
                              pa.array([ENGLAND_CODE] * data.num_rows, pa.string()))
    ours = _returns(data.filter(pc.is_in(data["org_code"], pa.array(providers))))
    national = _returns(england)
    national = national.filter(pc.is_in(national["measure"], pa.array(["ae_4hr_type1", "ae_4hr_all"])))
    out = pa.concat_tables([ours, national])
    return out.sort_by([("measure", "ascending"), ("org_code", "ascending"), ("period", "ascending")])


def _returns(data: pa.Table) -> pa.Table:
    """The four measures by period and organisation, as canonical aggregate-returns rows."""
    seen = data.append_column("seen", pc.subtract(data["attendances"], data["breaches"]))
    type1 = seen.filter(pc.equal(seen["type"], "1"))
    keys = ["period", "org_code"]
    all_types = seen.group_by(keys).aggregate([("seen", "sum"), ("attendances", "sum"), ("admissions", "sum")])
    t1 = type1.group_by(keys).aggregate([("seen", "sum"), ("attendances", "sum")])
    parts = [
        _rows(t1, "ae_4hr_type1", t1["seen_sum"], t1["attendances_sum"]),
        _rows(all_types, "ae_4hr_all", all_types["seen_sum"], all_types["attendances_sum"]),
        _rows(all_types, "ae_attendances_all", None, None, all_types["attendances_sum"]),
        _rows(all_types, "ae_emergency_admissions", None, None, all_types["admissions_sum"]),
    ]
    return pa.concat_tables(parts).cast(table("aggregate_returns").source_schema())


def _rows(groups: pa.Table, measure: str, num: pa.Array | None, den: pa.Array | None,
          value: pa.Array | None = None) -> pa.Table:
    """Rows of one measure: a proportion (numerator over denominator) or a plain value."""
    n = groups.num_rows
    num, den = _as_float(num, n), _as_float(den, n)
    return pa.table({
        "period": groups["period"],
        "org_code": groups["org_code"],
        "measure": pa.array([measure] * n, pa.string()),
        "numerator": num,
        "denominator": den,
        "value": pc.divide(num, den) if value is None else _as_float(value, n),
    })


def _as_float(a: pa.Array | None, n: int) -> pa.Array:
    """``a`` as float64, or ``n`` nulls where there is no such column."""
    return pa.nulls(n, pa.float64()) if a is None else pc.cast(a, pa.float64())


def write_aggregate_returns(path: Path, out: Path, providers: tuple[str, ...]) -> int:
    """Write ``aggregate_returns.parquet`` into the folder ``out``; return the number of rows."""
    rows = aggregate_returns(path, providers)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, out / "aggregate_returns.parquet")
    return rows.num_rows
