"""Ingest a delivery folder: stage, validate, pseudonymise, quarantine, and load atomically and idempotently.

Call :func:`ingest`. Exit codes of the command follow :attr:`IngestResult.exit_code`:
0 everything loaded (or nothing new), 3 loaded with quarantined rows, 2 refused (nothing changed).

Idempotency: every file's SHA-256 is recorded in ``load_files``; a file whose checksum was loaded before
for the same table is skipped. A changed file is loaded again: a row whose canonical key already exists
replaces the stored row (the latest delivery wins), so keys never duplicate.

Flow: find files → stage each (structural checks; any failure refuses the batch before anything is
written) → pseudonymise the batch's distinct NHS numbers → open one transaction → for each table in load
order: validate set-based, quarantine, load the clean rows → record the batch → commit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from placewise.canonical import PERSON_KEY, Table
from placewise.ingest.codes import dmd_valid, nhs_number_valid, snomed_concept_valid
from placewise.ingest.pseudonymise import key_fingerprint, mask_nhs_like_sql, pseudonymise, wrong_key_message
from placewise.ingest.stage import SourceFile, Typed, discover, extra_columns, refuse, stage
from placewise.ingest.validate import (
    NHS_MAP,
    Lookups,
    check_sql,
    clean_sql,
    duplicates_sql,
    lit,
    problems_sql,
    value_sql,
)
from placewise.warehouse import connect
from placewise.warehouse.engines import DATABASE_ERRORS, Batch, describe_error, engine_class, engine_for
from placewise.warehouse.identity import record_links_from_env
from placewise.warehouse.schema import PSEUDONYMISATION

EXIT_LOADED = 0
EXIT_REFUSED = 2
EXIT_QUARANTINED = 3
EXIT_REPORT_FAILED = 4
_CHECK_DIGITS = {"snomed": snomed_concept_valid, "dmd": dmd_valid}

Progress = Callable[[str, int, int], None]
"""Called before each step with (what is starting, steps done, steps in all)."""
_NO_PROBLEMS = pa.table({"file_name": pa.array([], pa.string()), "row_number": pa.array([], pa.int64()),
                         "field": pa.array([], pa.string()), "reason": pa.array([], pa.string()),
                         "value": pa.array([], pa.string())})


@dataclass
class FileResult:
    """What happened to one file."""

    file_name: str
    table_name: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_replaced: int = 0
    rows_quarantined: int = 0
    already_loaded_in: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_superseded: int = 0
    """Retried rows not loaded because a later delivery has since stored their key."""

    @property
    def retried(self) -> bool:
        """Whether the file was loaded before and only its previously quarantined rows were checked again."""
        return self.already_loaded_in is not None and self.rows_read > 0


@dataclass
class IngestResult:
    """The outcome of one ingest run."""

    batch_id: str | None
    files: list[FileResult]
    unknown_files: list[str]
    problems: pa.Table
    """Quarantine lines of this batch (NHS numbers masked)."""
    report_path: Path | None = None
    report_error: str | None = None
    """Why the quarantine report could not be put in place after the batch was committed."""

    @property
    def rows_quarantined(self) -> int:
        """Rows refused (a row with several problems counts once)."""
        return sum(f.rows_quarantined for f in self.files)

    @property
    def nothing_new(self) -> bool:
        """Whether every file had been loaded before, so nothing was written."""
        return self.batch_id is None

    @property
    def exit_code(self) -> int:
        """0 all loaded or nothing new; 3 loaded with quarantined rows; 4 loaded but the report was not written."""
        if self.report_error:
            return EXIT_REPORT_FAILED
        return EXIT_QUARANTINED if self.rows_quarantined else EXIT_LOADED


def batch_id_for(files: list[SourceFile], now: datetime) -> str:
    """Batch identifier: UTC time of the run and a prefix of the checksum of its files' checksums."""
    digest = hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest()[:8]
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest}"


def default_report(url: str | Path, batch_id: str) -> Path:
    """Quarantine report path: next to a local warehouse (a DuckDB file), or in the working folder for a server."""
    return engine_class(url).report_folder(str(url)) / f"quarantine-{batch_id}.csv"


def _already_loaded(target: Batch, files: list[SourceFile]) -> dict[str, str]:
    """Table name -> batch id, for files whose checksum the warehouse has loaded before."""
    relation = target.relation("load_files", ("batch_id", "table_name", "sha256"))
    if relation is None:
        return {}
    pairs = ", ".join(f"({lit(f.table.name)}, {lit(f.sha256)})" for f in files)
    rows = target.staging.execute(
        f"SELECT l.table_name, min(l.batch_id) FROM {relation} l JOIN (VALUES {pairs}) v(t, s) "
        "ON l.table_name = v.t AND l.sha256 = v.s GROUP BY l.table_name").fetchall()
    return dict(rows)


def _retry_rows(target: Batch, files: list[SourceFile], anything_new: bool) -> dict[str, int]:
    """Temp table ``retry_rows`` (table_name, batch_id, file_name, row_number): rows of files loaded before, with
    the same checksum, that sit in the quarantine and may pass now, because this batch brings new files or a
    batch has been loaded since they were quarantined; table name -> how many."""
    quarantined = target.relation("quarantine", ("batch_id", "file_name", "table_name", "row_number"))
    loaded = target.relation("load_files", ("batch_id", "file_name", "table_name", "sha256"))
    log = target.relation("load_log", ("batch_id", "loaded_at"))
    if quarantined is None or loaded is None or log is None or not files:
        target.staging.execute("CREATE OR REPLACE TEMP TABLE retry_rows (table_name VARCHAR, batch_id VARCHAR, "
                               "file_name VARCHAR, row_number BIGINT)")
        return {}
    pairs = ", ".join(f"({lit(f.table.name)}, {lit(f.sha256)})" for f in files)
    since = "" if anything_new else f"WHERE g.loaded_at < (SELECT max(loaded_at) FROM {log})"
    target.staging.execute(
        f"CREATE OR REPLACE TEMP TABLE retry_rows AS SELECT DISTINCT l.table_name, q.batch_id, q.file_name, "
        f"q.row_number FROM {quarantined} q JOIN {loaded} l USING (batch_id, file_name, table_name) "
        f"JOIN {log} g USING (batch_id) "
        f"JOIN (VALUES {pairs}) v(t, s) ON l.table_name = v.t AND l.sha256 = v.s {since}")
    return dict(target.staging.execute("SELECT table_name, count(DISTINCT row_number) FROM retry_rows "
                                       "GROUP BY table_name").fetchall())


def _forget_retried(target: Batch) -> None:
    """Delete the earlier quarantine lines of retried files; rows still failing were quarantined again."""
    lines = target.staging.execute("SELECT DISTINCT batch_id, file_name, table_name FROM retry_rows").fetchall()
    if lines:
        target.execute("DELETE FROM quarantine WHERE " + " OR ".join(
            f"(batch_id = {lit(b)} AND file_name = {lit(f)} AND table_name = {lit(t)})" for b, f, t in lines),
            "quarantine")


def check_key(target: Batch, key: bytes) -> bool:
    """Refuse a key other than the warehouse's (by fingerprint); whether the warehouse has none recorded yet."""
    relation = target.relation(PSEUDONYMISATION.name, ("key_fingerprint",))
    stored = [r[0] for r in target.staging.execute(f"SELECT key_fingerprint FROM {relation}").fetchall()] \
        if relation is not None else []
    if stored and key_fingerprint(key) not in stored:
        raise refuse(wrong_key_message(stored[0], key_fingerprint(key)))
    return not stored


def _check_report_location(report: Path) -> None:
    """Refuse, before anything is read, a report path that is a folder or sits in a missing folder."""
    if report.is_dir():
        raise refuse(f"quarantine report {report} is a folder; give the path of a CSV file to write")
    if not report.parent.is_dir():
        raise refuse(f"quarantine report {report}: folder {report.parent} does not exist")


def _write_report(target: Batch, report: Path) -> Path | None:
    """Write the quarantine CSV beside its final place before the commit (None when nothing was quarantined);
    a report that cannot be written refuses the batch, which is then rolled back."""
    if not target.staging.execute("SELECT count(*) FROM batch_quarantine").fetchall()[0][0]:
        return None
    partial = report.with_name(report.name + ".partial")
    try:
        path = str(partial).replace("'", "''")
        target.staging.execute(f"COPY (SELECT * FROM batch_quarantine) TO '{path}' (HEADER, DELIMITER ',')")
    except (OSError, duckdb.Error) as e:
        partial.unlink(missing_ok=True)
        raise refuse(f"cannot write the quarantine report {report}: {str(e).splitlines()[0]}") from None
    return partial


def _nhs_like_columns(target: Batch, f: SourceFile, relation: str, typed: list[Typed]) -> list[str]:
    """Warnings for free-text and identifier columns whose values are mostly NHS numbers (10 digits passing
    Modulus 11): such a column would be stored raw, so the supplier should be told."""
    free = [t for t in typed if t.column.dtype == "string" and t.column.code is None and not t.column.allowed
            and not t.row_level and t.text != "CAST(NULL AS VARCHAR)"]
    if not free:
        return []
    shape = "'[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}'"
    sums = ", ".join(f"count({t.text}), count(*) FILTER (WHERE regexp_full_match({t.text}, {shape}))" for t in free)
    counts = target.staging.execute(f"SELECT {sums} FROM {relation}").fetchall()[0]
    out = []
    for i, t in enumerate(free):
        present, shaped = counts[2 * i], counts[2 * i + 1]
        if not shaped or 2 * shaped < present:
            continue
        sample = target.staging.execute(
            f"SELECT DISTINCT regexp_replace({t.text}, '[ -]', '', 'g') FROM {relation} "
            f"WHERE regexp_full_match({t.text}, {shape}) LIMIT 1000").fetchall()
        valid = int(nhs_number_valid([v for (v,) in sample]).sum())
        if 2 * valid >= len(sample):
            out.append(f"{f.path.name}: column {t.column.name} looks like NHS numbers ({valid:,} of {len(sample):,} "
                       "distinct values sampled pass the Modulus 11 check); it is stored as delivered, so ask the "
                       "supplier to send NHS numbers only in nhs_number, where they are pseudonymised")
    return out


def _refuse_unreadable_columns(target: Batch, f: SourceFile, relation: str, typed: list[Typed]) -> None:
    """Refuse the batch when a column has values but not one of them converts: the column's type is wrong."""
    checks = [t for t in typed if t.row_level]
    if not checks:
        return
    sums = ", ".join(f"count({t.text}), count({t.typed})" for t in checks)
    counts = target.staging.execute(f"SELECT {sums} FROM {relation}").fetchall()[0]
    for i, t in enumerate(checks):
        present, converted = counts[2 * i], counts[2 * i + 1]
        if present and not converted:
            raise refuse(f"{f.path.name}: column {t.column.name!r} cannot be read as {t.column.dtype}: "
                         f"none of its {present} values converts")


@contextmanager
def _reading(f: SourceFile) -> Iterator[None]:
    """Name the file when the database fails while reading or loading it (a corrupt Parquet page, a value the
    warehouse cannot hold); the batch is then refused and rolled back."""
    try:
        yield
    except duckdb.Error as e:
        raise refuse(f"{f.path.name}: the database stopped the batch while reading and checking this file: "
                     f"{str(e).splitlines()[0]}") from None
    except DATABASE_ERRORS as e:
        raise refuse(f"{f.path.name}: the database stopped the batch while loading this file: "
                     f"{describe_error(e)}") from None


def _nhs_map(target: Batch, staged: dict[str, tuple[SourceFile, str, list[Typed]]], key: bytes) -> pa.Table:
    """Pseudonymise and check every distinct NHS number of the batch once; table ``nhs_map``; returns the map."""
    con = target.staging
    con.execute("CREATE OR REPLACE TEMP TABLE batch_nhs (nhs_number VARCHAR)")
    for f, relation, typed in staged.values():
        for t in typed:
            if t.column.code == "nhs_number":
                with _reading(f):
                    con.execute(f"INSERT INTO batch_nhs SELECT DISTINCT {value_sql(t)} FROM {relation}")
    distinct = con.sql("SELECT DISTINCT nhs_number FROM batch_nhs WHERE nhs_number IS NOT NULL") \
        .to_arrow_table().column(0).combine_chunks()
    con.execute("DROP TABLE batch_nhs")
    mapping = pa.table({"nhs_number": distinct, "person_id": pseudonymise(distinct, key),
                        "nhs_valid": pa.array(nhs_number_valid(distinct))})
    con.register("_nhs", mapping)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {NHS_MAP} AS SELECT * FROM _nhs")
    con.unregister("_nhs")
    return mapping


def _code_checks(target: Batch, f: SourceFile, relation: str, typed: list[Typed]) -> dict[str, str]:
    """Check-digit validation of each distinct SNOMED CT / dm+d code of a file; column -> (code, ok) table."""
    out = {}
    con = target.staging
    for t in typed:
        check = _CHECK_DIGITS.get(t.column.code or "")
        if check is None:
            continue
        codes = con.sql(f"SELECT DISTINCT {t.typed} AS code FROM {relation} WHERE code IS NOT NULL") \
            .to_arrow_table().column(0).combine_chunks()
        name = f"ok_{f.table.name}_{t.column.name}"
        con.register("_codes", pa.table({"code": codes, "ok": pa.array(check(codes))}))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _codes")
        con.unregister("_codes")
        out[t.column.name] = name
    return out


def _known(target: Batch, table: str, column: str) -> str:
    """Temp table ``known_<table>_<column>`` (one column ``code``): the values the warehouse holds, this batch's
    clean rows included (tables load in reference order inside the open transaction)."""
    stored = target.relation(table, (column,))
    body = (f'SELECT DISTINCT "{column}" AS code FROM {stored}' if stored is not None
            else "SELECT CAST(NULL AS VARCHAR) AS code WHERE false")
    name = f"known_{table}_{column}"
    target.staging.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {body}")
    return name


def _persons(target: Batch) -> str:
    """Temp table ``persons``: each NHS number of the batch with its pseudonym, validity, whether the person is
    in the warehouse's people (this batch's clean people included) and their date of death."""
    stored = target.relation("people", (PERSON_KEY, "date_of_death", "birth_year", "birth_month"))
    known = (f"SELECT person_id, date_of_death, CASE WHEN birth_year BETWEEN 1900 AND 9999 AND birth_month "
             f"BETWEEN 1 AND 12 THEN make_date(birth_year, birth_month, 1) END AS birth FROM {stored}"
             if stored is not None else "SELECT CAST(NULL AS VARCHAR) AS person_id, CAST(NULL AS DATE) AS "
             "date_of_death, CAST(NULL AS DATE) AS birth WHERE false")
    target.staging.execute(
        "CREATE OR REPLACE TEMP TABLE persons AS SELECT m.nhs_number, m.person_id, m.nhs_valid, "
        f"k.person_id IS NOT NULL AS known, k.date_of_death, k.birth FROM nhs_map m LEFT JOIN ({known}) k "
        "ON k.person_id = m.person_id")
    return "persons"


def _quarantine_table(target: Batch) -> None:
    """Empty temp table ``batch_quarantine`` in quarantine column order."""
    target.staging.execute(
        "CREATE OR REPLACE TEMP TABLE batch_quarantine (batch_id VARCHAR, file_name VARCHAR, table_name VARCHAR, "
        "row_number BIGINT, field VARCHAR, reason VARCHAR, value VARCHAR)")


def _duplicates(target: Batch, f: SourceFile, relation: str, typed: list[Typed]) -> str:
    """Temp table ``dups_<table>``: keys occurring more than once in the file, with their first data row."""
    con, name = target.staging, f.table.name
    candidates, repeats = duplicates_sql(f.table, relation, typed, f"hashes_{name}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE hashes_{name} AS {candidates}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE dups_{name} AS {repeats}")
    con.execute(f"DROP TABLE hashes_{name}")
    return f"dups_{name}"


def _needs_people(t: Table) -> bool:
    """Whether a table's rules look people up (known person, date of death)."""
    return t.not_after_death != () or any(col == "nhs_number" for col, _, _ in t.references)


def _load_table(target: Batch, batch_id: str, f: SourceFile, relation: str, typed: list[Typed],
                people: str, as_of: date, result: FileResult) -> None:
    """Validate one staged table and load its clean rows into the open transaction in one pass; only when
    rows were bad, a second pass lists their problems into the quarantine.

    A file loaded before (``result.already_loaded_in``) is checked whole, so that duplicates still count, but
    only its rows in ``retry_rows`` are loaded, and never over a key stored since."""
    con, t = target.staging, f.table
    known = {col: _known(target, other, other_col) for col, other, other_col in t.references
             if col != "nhs_number"}
    lookups = Lookups(duplicates=_duplicates(target, f, relation, typed), people=people, known=known,
                      code_ok=_code_checks(target, f, relation, typed))
    check = check_sql(t, relation, typed, lookups, as_of)
    retry = result.already_loaded_in is not None
    if retry:
        check = (f"SELECT * FROM ({check}) WHERE _row IN "
                 f"(SELECT row_number FROM retry_rows WHERE table_name = {lit(t.name)})")
        result.rows_read = con.execute(f"SELECT count(DISTINCT row_number) FROM retry_rows "
                                       f"WHERE table_name = {lit(t.name)}").fetchall()[0][0]
    else:
        result.rows_read = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
    written = target.load(t, clean_sql(t, check), replace=not retry)
    result.rows_loaded, result.rows_replaced, result.rows_superseded = written.loaded, written.replaced, written.kept
    result.rows_quarantined = result.rows_read - written.loaded - written.kept
    if result.rows_quarantined:
        con.execute(f"INSERT INTO batch_quarantine SELECT {lit(batch_id)}, {lit(f.path.name)}, {lit(t.name)}, "
                    f"p._row, p.field, p.reason, {mask_nhs_like_sql('p.value')} "
                    f"FROM ({problems_sql(t, typed, check, as_of)}) p ORDER BY 4, 5")
    for name in (lookups.duplicates, *known.values(), *lookups.code_ok.values()):
        con.execute(f"DROP TABLE {name}")


def _log_tables(target: Batch, batch_id: str, source: Path, results: list[FileResult]) -> dict[str, str]:
    """Temp tables ``batch_files`` and ``batch_log`` in warehouse column order; warehouse table -> relation."""
    con = target.staging
    loaded = [r for r in results if r.already_loaded_in is None or r.retried]
    rows = ", ".join(f"({lit(batch_id)}, {lit(r.file_name)}, {lit(r.table_name)}, {lit(r.sha256)}, "
                     f"{r.rows_read}::BIGINT, {r.rows_loaded}::BIGINT, {r.rows_replaced}::BIGINT, "
                     f"{r.rows_quarantined}::BIGINT)" for r in loaded)
    con.execute(f"CREATE OR REPLACE TEMP TABLE batch_files AS SELECT * FROM (VALUES {rows}) v(batch_id, file_name, "
                "table_name, sha256, rows_read, rows_loaded, rows_replaced, rows_quarantined)")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE batch_log AS SELECT {lit(batch_id)} AS batch_id, "
        f"CAST(timezone('UTC', now()) AS TIMESTAMP) AS loaded_at, {lit(str(source.resolve()))} AS source, "
        "count(*) AS files, CAST(sum(rows_read) AS BIGINT) AS rows_read, "
        "CAST(sum(rows_loaded) AS BIGINT) AS rows_loaded, CAST(sum(rows_replaced) AS BIGINT) AS rows_replaced, "
        "CAST(sum(rows_quarantined) AS BIGINT) AS rows_quarantined FROM batch_files")
    return {"load_log": "batch_log", "load_files": "batch_files", "quarantine": "batch_quarantine"}


def _drop_staging(target: Batch, staged: dict[str, tuple[SourceFile, str, list[Typed]]]) -> None:
    """Drop what staging left so a DuckDB warehouse connection does not keep it in memory."""
    con = target.staging
    for f, relation, _ in staged.values():
        con.execute(f"DROP {'VIEW' if f.format == 'parquet' else 'TABLE'} IF EXISTS {relation}")
    for name in ("nhs_map", "persons", "batch_files", "batch_log", "batch_quarantine", "batch_key", "retry_rows"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def ingest(directory: Path, url: str | Path, key: bytes, *, as_of: date | None = None,
           report: Path | None = None, progress: Progress = lambda message, done, total: None) -> IngestResult:
    """Validate and load every canonical file in ``directory`` into the warehouse at ``url`` as one batch.

    Raises :class:`IngestRefused` (and changes nothing) when a file is structurally broken.
    ``as_of`` is the date after which dates count as in the future (default: today, UTC).
    ``report``: where to write the quarantine CSV when rows are quarantined (default: :func:`default_report`).
    """
    now = datetime.now(UTC)
    as_of = as_of or now.date()
    files, unknown = discover(Path(directory))
    if report is not None:
        _check_report_location(report)
    con = connect(url)
    target = engine_for(con).batch()
    staged: dict[str, tuple[SourceFile, str, list[Typed]]] = {}
    try:
        record_key = check_key(target, key)
        seen = _already_loaded(target, files)
        results = {f.table.name: FileResult(f.path.name, f.table.name, f.sha256,
                                            already_loaded_in=seen.get(f.table.name)) for f in files}
        retry = _retry_rows(target, [f for f in files if f.table.name in seen], len(seen) < len(files))
        todo = [f for f in files if f.table.name not in seen or f.table.name in retry]
        if not todo:
            return IngestResult(None, list(results.values()), unknown, _NO_PROBLEMS)
        steps = 2 * len(todo) + 2
        for i, f in enumerate(todo):
            progress(f"reading {f.path.name}", i, steps)
            with _reading(f):
                relation, typed = stage(target.staging, f)
                _refuse_unreadable_columns(target, f, relation, typed)
                staged[f.table.name] = (f, relation, typed)
                results[f.table.name].ignored_columns = extra_columns(f, target.staging, relation)
                results[f.table.name].warnings = _nhs_like_columns(target, f, relation, typed)
        progress("pseudonymising NHS numbers", len(todo), steps)
        mapping = _nhs_map(target, staged, key)
        batch_id = batch_id_for(todo, now)
        _quarantine_table(target)
        partial: Path | None = None
        target.begin()
        try:
            people = ""  # built once, after the people table (which precedes every person table) is in
            for i, (f, relation, typed) in enumerate(staged.values()):
                progress(f"validating and loading {f.path.name}", len(todo) + 1 + i, steps)
                if _needs_people(f.table):
                    people = people or _persons(target)
                with _reading(f):
                    _load_table(target, batch_id, f, relation, typed, people or NHS_MAP, as_of,
                                results[f.table.name])
            _forget_retried(target)
            progress("writing the quarantine report", steps - 1, steps)
            report = report or default_report(url, batch_id)
            partial = _write_report(target, report)
            progress("committing", steps - 1, steps)
            bookkeeping = _log_tables(target, batch_id, Path(directory), list(results.values()))
            if record_key:
                bookkeeping[PSEUDONYMISATION.name] = key_table(target, key)
            # the link back to NHS numbers, kept apart and encrypted (only if an identity store is configured)
            record_links_from_env(mapping.filter(mapping["nhs_valid"]))
            target.commit(bookkeeping)
        except BaseException:
            target.rollback()
            if partial is not None:
                partial.unlink(missing_ok=True)
            raise
        return _result(target, batch_id, list(results.values()), unknown, partial, report)
    finally:
        _drop_staging(target, staged)
        target.close()
        con.disconnect()


def key_table(target: Batch, key: bytes) -> str:
    """Temp table ``batch_key``: the key's fingerprint, recorded with the warehouse's first batch (or a rotation)."""
    target.staging.execute(f"CREATE OR REPLACE TEMP TABLE batch_key AS SELECT {lit(key_fingerprint(key))} AS "
                           "key_fingerprint, CAST(timezone('UTC', now()) AS TIMESTAMP) AS recorded_at")
    return "batch_key"


def _result(target: Batch, batch_id: str, results: list[FileResult], unknown: list[str], partial: Path | None,
            report: Path) -> IngestResult:
    """The committed run's result; the report written before the commit is moved into place."""
    problems = target.staging.sql("SELECT file_name, row_number, field, reason, value "
                                  "FROM batch_quarantine").to_arrow_table()
    if partial is None:
        return IngestResult(batch_id, results, unknown, problems)
    try:
        os.replace(partial, report)
    except OSError as e:
        return IngestResult(batch_id, results, unknown, problems, report_error=f"{report}: {e.strerror or e}")
    return IngestResult(batch_id, results, unknown, problems, report)
