"""Find the canonical files in a delivery folder and stage them in DuckDB, refusing structurally broken files.

A staged file is a DuckDB relation ``raw_<table>`` with ``_row`` (the 1-based data row as the analyst
sees it: the first row under a CSV header is row 1) and the file's columns as delivered.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from placewise.canonical import TABLES, Column, Table

Format = Literal["parquet", "csv"]
FORMATS: dict[str, Format] = {".parquet": "parquet", ".csv": "csv"}
_NHS_LIKE = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{2}([0-9]{2})(?![0-9])")
"""An NHS-number shape: ten digits, alone or in the 3-3-4 display form with spaces or hyphens, whether or not
the Modulus 11 check holds (a mistyped NHS number is still personal data); longer digit runs are other codes."""


class IngestRefused(Exception):
    """The batch is refused as a whole: nothing is written. The message names file, column and fault."""


def mask_nhs_like(text: str) -> str:
    """Mask every NHS-number-shaped value in a text, keeping its last two digits."""
    return _NHS_LIKE.sub(r"********\1", text)


def refuse(message: str) -> IngestRefused:
    """An :class:`IngestRefused` whose message never carries a raw NHS-number-shaped value."""
    return IngestRefused(mask_nhs_like(message))


@dataclass(frozen=True)
class SourceFile:
    """One canonical file of a delivery."""

    table: Table
    path: Path
    format: Format
    sha256: str


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 8 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def discover(directory: Path) -> tuple[list[SourceFile], list[str]]:
    """Canonical files in ``directory`` in load order, and the names of files that are not canonical."""
    if not directory.is_dir():
        raise refuse(f"{directory}: not a folder")
    by_name = {t.name: t for t in TABLES}
    found: dict[str, Path] = {}
    unknown: list[str] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None or path.stem not in by_name:
            unknown.append(path.name)
            continue
        if path.stem in found:
            raise refuse(f"{directory}: both {found[path.stem].name} and {path.name} feed table {path.stem}; "
                         "deliver one file per table")
        found[path.stem] = path
    if not found:
        raise refuse(f"{directory}: no canonical files (expected names like people.parquet or people.csv)")
    files = [SourceFile(t, found[t.name], FORMATS[found[t.name].suffix.lower()], _checksum(found[t.name]))
             for t in TABLES if t.name in found]
    return files, unknown


def _checksum(path: Path) -> str:
    """The file's SHA-256, refusing the batch when the file cannot be read (permission denied, a folder…)."""
    try:
        return sha256_of(path)
    except OSError as e:
        raise refuse(f"{path.name}: cannot read the file ({e.strerror or e}); nothing loaded") from None


def _family(t: pa.DataType) -> str:
    """The broad kind of an Arrow type: string, int, float, date, timestamp, bool, null or other."""
    if pa.types.is_dictionary(t):
        return _family(t.value_type)
    if pa.types.is_timestamp(t) and t.tz is not None:
        return "timestamptz"
    checks = (
        ("string", pa.types.is_string), ("string", pa.types.is_large_string), ("string", pa.types.is_string_view),
        ("int", pa.types.is_integer), ("float", pa.types.is_floating), ("float", pa.types.is_decimal),
        ("date", pa.types.is_date), ("timestamp", pa.types.is_timestamp), ("bool", pa.types.is_boolean),
        ("null", pa.types.is_null),
    )
    return next((name for name, test in checks if test(t)), "other")


_SQL = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP",
        "bool": "BOOLEAN"}
LOCAL_TIME_ZONE = "Europe/London"
"""Time-zone-aware timestamps become UK local wall-clock time, as NHS systems record times."""
_EXACT = {("int", "int"), ("float", "float"), ("date", "date"), ("timestamp", "timestamp"), ("bool", "bool"),
          ("int", "float"), ("int", "string"), ("date", "timestamp")}
DATE_TEXT = "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
"""A date as text: ISO order; words such as 'epoch' or '-infinity', which databases accept, are not dates."""
TIME_TEXT = "[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?"
"""The time part of a date and time as text."""


@dataclass(frozen=True)
class Typed:
    """How to read one canonical column from the staged file."""

    column: Column
    typed: str
    """SQL giving the canonical type (NULL where the value cannot be read)."""
    text: str
    """SQL giving the value as delivered, as text (NULL when empty; surrounding spaces are kept, and so
    a padded code fails its format check rather than being silently altered)."""
    row_level: bool
    """Whether single values can fail to convert (then they are quarantined, not the batch refused)."""


def typed_column(col: Column, source: str) -> Typed:
    """SQL reading ``col`` from a source column of broad type ``source``; refuses impossible conversions."""
    q = f'"{col.name}"'
    text = f"NULLIF({q}, '')" if source == "string" else f"CAST({q} AS VARCHAR)"
    target = col.dtype
    if source == "null":
        return Typed(col, f"CAST(NULL AS {_SQL[target]})", text, False)
    if source == "string":
        if target == "string":
            return Typed(col, text, text, False)
        if target == "int":
            return Typed(col, f"CASE WHEN regexp_full_match({text}, '[+-]?[0-9]+') "
                              f"THEN TRY_CAST({text} AS BIGINT) END", text, True)
        if target == "date":  # a time of midnight is still just a date; another time is not
            return Typed(col, f"CASE WHEN regexp_full_match({text}, '{DATE_TEXT}') THEN TRY_CAST({text} AS DATE) "
                              f"WHEN regexp_full_match({text}, '{DATE_TEXT}{TIME_TEXT}') "
                              f"AND CAST(TRY_CAST({text} AS TIMESTAMP) AS TIME) = TIME '00:00:00' "
                              f"THEN TRY_CAST({text} AS DATE) END", text, True)
        if target == "timestamp":
            return Typed(col, f"CASE WHEN regexp_full_match({text}, '{DATE_TEXT}({TIME_TEXT})?') "
                              f"THEN TRY_CAST({text} AS TIMESTAMP) END", text, True)
        return Typed(col, f"TRY_CAST({text} AS {_SQL[target]})", text, True)
    if (source, target) == ("timestamp", "date"):
        return Typed(col, f"CASE WHEN CAST({q} AS TIME) = TIME '00:00:00' THEN CAST({q} AS DATE) END", text, True)
    if (source, target) in _EXACT:
        return Typed(col, f"CAST({q} AS {_SQL[target]})", text, False)
    if source == "timestamptz" and target in ("timestamp", "date"):
        return Typed(col, f"CAST(timezone({LOCAL_TIME_ZONE!r}, {q}) AS {_SQL[target]})", text, False)
    if (source, target) == ("float", "int"):
        return Typed(col, f"CASE WHEN {q} = trunc({q}) THEN TRY_CAST({q} AS BIGINT) END", text, True)
    raise ValueError(f"holds {source} values where {target} values are expected, and they cannot be converted")


def _stage_parquet(con: duckdb.DuckDBPyConnection, f: SourceFile, relation: str) -> dict[str, str]:
    """Stage a Parquet file as a view (DuckDB scans it in parallel); the column types by name."""
    try:
        schema = pq.read_schema(f.path)
    except (pa.ArrowException, OSError) as e:
        raise refuse(f"{f.path.name}: not a readable Parquet file ({e})") from None
    path = str(f.path).replace("'", "''")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {relation} AS SELECT file_row_number + 1 AS _row, * "
                f"EXCLUDE (file_row_number) FROM read_parquet('{path}', file_row_number = true)")
    return {field.name: _family(field.type) for field in schema}


def _csv_header(path: Path) -> list[str]:
    """The header row of a UTF-8 CSV file (a byte-order mark is allowed)."""
    try:
        with path.open("rb") as fh:
            first = fh.readline().decode("utf-8-sig")
        header = next(csv.reader([first]), None)
    except UnicodeDecodeError as e:
        raise refuse(f"{path.name}: not UTF-8 text (byte {e.start} of the header); save the file as UTF-8") from None
    except csv.Error as e:
        raise refuse(f"{path.name}: unreadable CSV header ({e})") from None
    if not header:
        raise refuse(f"{path.name}: empty file; a CSV file needs a header row")
    return header


def _stage_csv(con: duckdb.DuckDBPyConnection, f: SourceFile, relation: str) -> dict[str, str]:
    """Stage a CSV file (every column read as text) into a temporary table, numbering data rows from 1."""
    header = _csv_header(f.path)
    if len(set(header)) != len(header):
        raise refuse(f"{f.path.name}: the header repeats a column name")
    convert = pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=True,
                                   null_values=[""], quoted_strings_can_be_null=False)
    try:
        reader = pacsv.open_csv(f.path, convert_options=convert)
    except (pa.ArrowException, OSError) as e:
        raise refuse(f"{f.path.name}: unreadable CSV: {csv_fault(f.path, header) or _csv_reason(e)}") from None
    schema = pa.schema([pa.field("_row", pa.int64()), *reader.schema])

    def numbered() -> Iterator[pa.RecordBatch]:
        """The file's batches with the data row number prepended."""
        start = 1
        for batch in reader:
            rows = pa.array(np.arange(start, start + batch.num_rows, dtype=np.int64))
            start += batch.num_rows
            yield pa.RecordBatch.from_arrays([rows, *batch.columns], schema=schema)

    stream = pa.RecordBatchReader.from_batches(schema, numbered())
    try:
        con.register("_csv_stream", stream)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM _csv_stream")
    except (pa.ArrowException, duckdb.Error) as e:
        raise refuse(f"{f.path.name}: unreadable CSV: {csv_fault(f.path, header) or _csv_reason(e)}") from None
    finally:
        con.unregister("_csv_stream")
    return {h: "string" for h in header}


def _csv_reason(e: Exception) -> str:
    """A short reason from a CSV reading error (wrong encoding or a malformed row)."""
    text = str(e)
    if "UTF8" in text or "utf8" in text.lower() or "utf-8" in text.lower():
        return "not UTF-8 text; save the file as UTF-8"
    return text.splitlines()[0] if text else type(e).__name__


def csv_fault(path: Path, header: list[str]) -> str | None:
    """Where a CSV file first breaks, once the fast reader has failed: the 1-based data row (the header not
    counted) and the column by name, for a byte that is not UTF-8 or a row with the wrong number of fields.

    A row-by-row scan, but only on the error path, to tell the supplier exactly what to fix."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        rows = csv.reader(fh)
        next(rows, None)
        for number, row in enumerate(rows, start=1):
            for name, value in zip(header, row, strict=False):
                bad = next((c for c in value if "\udc80" <= c <= "\udcff"), None)
                if bad is not None:
                    return (f"data row {number}, column {name}: not UTF-8 text (byte 0x{ord(bad) - 0xDC00:02x}); "
                            "save the file as UTF-8")
            if row and len(row) != len(header):
                return (f"data row {number}: expected {len(header)} fields ({', '.join(header)}), "
                        f"found {len(row)}")
    return None


def stage(con: duckdb.DuckDBPyConnection, f: SourceFile) -> tuple[str, list[Typed]]:
    """Stage one file; the relation name and how to read each canonical column. Refuses broken structure."""
    relation = f"raw_{f.table.name}"
    found = (_stage_parquet if f.format == "parquet" else _stage_csv)(con, f, relation)
    typed: list[Typed] = []
    for col in f.table.columns:
        if col.name not in found:
            if col.required:
                raise refuse(f"{f.path.name}: required column {col.name!r} is missing "
                             f"(found: {', '.join(found) or 'no columns'})")
            typed.append(Typed(col, f"CAST(NULL AS {_SQL[col.dtype]})", "CAST(NULL AS VARCHAR)", False))
            continue
        try:
            typed.append(typed_column(col, found[col.name]))
        except ValueError as e:
            raise refuse(f"{f.path.name}: column {col.name!r} {e}") from None
    return relation, typed


def extra_columns(f: SourceFile, con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Columns in the file that the canonical table does not define (they are ignored, and reported)."""
    names = [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
    known = {c.name for c in f.table.columns} | {"_row"}
    return [n for n in names if n not in known]
