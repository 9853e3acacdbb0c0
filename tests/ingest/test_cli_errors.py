"""Clear errors instead of tracebacks, through the real ``placewise`` command line: missing, locked, read-only and
unreadable warehouses, files and folders; unknown indicators; absurd arguments; malformed CSV and corrupt Parquet
named by file, data row and column."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
from batch_builder import AS_OF, KEY, NHS, write_batch
from ingest_support import SRC, cli_process, finish, query
from typer.testing import CliRunner

from placewise.cli import app

Batch = dict[str, pd.DataFrame]
WITHOUT_OVERRIDE = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                    "--bounding-set=-dac_override,-dac_read_search"]
"""As root, file permissions bind only once these capabilities are dropped (the tests run as root in CI)."""


def placewise(*args: str) -> tuple[int, str]:
    """Run the real command line in-process; a traceback (any exception but SystemExit) fails the test."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def unprivileged(*args: str) -> tuple[int, str]:
    """Run the command line in its own process with file permissions enforced, even for root."""
    prefix = WITHOUT_OVERRIDE if os.geteuid() == 0 else []
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200", "PLACEWISE_PSEUDONYMISATION_KEY": KEY}
    result = subprocess.run([*prefix, sys.executable, "-m", "placewise.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert "Traceback" not in result.stdout, result.stdout
    return result.returncode, " ".join(result.stdout.split())


@pytest.fixture
def warehouse(tmp_path: Path, batch: Batch) -> Path:
    """A small DuckDB warehouse loaded from the hand-made batch."""
    db = tmp_path / "wh" / "wh.duckdb"
    db.parent.mkdir()
    code, output = placewise("ingest", str(write_batch(tmp_path / "in", batch)), "--db", str(db), "--as-of",
                             AS_OF.isoformat())
    assert code == 0, output
    return db


@pytest.fixture
def measured(warehouse: Path) -> Path:
    """The small warehouse with its indicators computed, ready for a report."""
    code, output = placewise("measure", "--db", str(warehouse))
    assert code == 0, output
    return warehouse


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write into (restored afterwards so that pytest can clean up)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)


# --- the warehouse --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["measure", "status", "report"])
def test_missing_warehouse_is_an_error_and_creates_nothing(tmp_path: Path, command: str) -> None:
    """A mistyped --db: exit 2 saying there is no warehouse, and no empty file left behind."""
    db = tmp_path / "typo.duckdb"
    code, output = placewise(command, "--db", str(db), *(["--out", str(tmp_path / "r")] if command == "report"
                                                          else []))
    assert code == 2 and "no warehouse here yet" in output, output
    assert not db.exists()


@pytest.mark.parametrize("command", ["measure", "status", "report"])
def test_locked_warehouse_is_refused_clearly(warehouse: Path, tmp_path: Path, command: str) -> None:
    """While another process writes the warehouse, measure, status and report say so instead of failing."""
    with duckdb.connect(str(warehouse)):
        process = cli_process(command, "--db", str(warehouse), *(["--out", str(tmp_path / "r")]
                                                                  if command == "report" else []))
        code, output = finish(process)
    assert code == 2 and "in use by another process" in output and "Traceback" not in output, output


def test_read_only_warehouse_is_refused_clearly(warehouse: Path, tmp_path: Path) -> None:
    """A warehouse file that cannot be written: ingest and measure exit 2 saying so; status still reads it."""
    warehouse.chmod(0o444)
    warehouse.parent.chmod(0o555)
    try:
        for args in (["ingest", str(tmp_path / "in"), "--db", str(warehouse)], ["measure", "--db", str(warehouse)]):
            code, output = unprivileged(*args)
            assert code == 2 and "cannot be opened for writing" in output, output
        code, output = unprivileged("status", "--db", str(warehouse))
        assert code == 0 and "Load log" in output and "Traceback" not in output, output
    finally:
        warehouse.parent.chmod(0o755)
        warehouse.chmod(0o644)


def test_measure_unknown_indicator(warehouse: Path) -> None:
    """An indicator id not in the catalogue: exit 2 naming it."""
    code, output = placewise("measure", "--db", str(warehouse), "--indicator", "no-such-indicator")
    assert code == 2 and "no indicator 'no-such-indicator'" in output, output


def test_measure_a_warehouse_without_inpatient_spells(tmp_path: Path, batch: Batch) -> None:
    """A warehouse loaded without inpatient spells measures (spell indicators simply have no events), and one
    whose inpatient_spells table is missing altogether is refused clearly, not with a traceback."""
    db = tmp_path / "wh.duckdb"
    partial = {k: v for k, v in batch.items() if not k.startswith("inpatient_")}
    code, output = placewise("ingest", str(write_batch(tmp_path / "in", partial)), "--db", str(db), "--as-of",
                             AS_OF.isoformat())
    assert code == 0, output
    code, output = placewise("measure", "--db", str(db))
    assert code == 0, output
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE inpatient_spells")
    code, output = placewise("measure", "--db", str(db))
    assert code == 2 and "inpatient_spells" in output, output


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["measure", "status", "report"])
def test_missing_postgres_database_is_refused_clearly(tmp_path: Path, postgres_url: str, command: str) -> None:
    """A --db URL naming a database that does not exist: exit 2 naming the URL and saying it cannot connect."""
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    code, output = placewise(command, "--db", url, *(["--out", str(tmp_path / "r")] if command == "report" else []))
    assert code == 2 and "no_such_database" in output and "cannot connect to PostgreSQL" in output, output
    assert not (tmp_path / "r").exists()


@pytest.mark.postgres
def test_postgres_measure_unknown_indicator_and_missing_table(tmp_path: Path, batch: Batch, postgres_url: str) -> None:
    """On PostgreSQL as on DuckDB: an unknown indicator id is refused naming it; a warehouse loaded without
    inpatient spells measures; one whose inpatient_spells table is gone is refused naming the table."""
    partial = {k: v for k, v in batch.items() if not k.startswith("inpatient_")}
    code, output = placewise("ingest", str(write_batch(tmp_path / "in", partial)), "--db", postgres_url, "--as-of",
                             AS_OF.isoformat())
    assert code == 0, output
    code, output = placewise("measure", "--db", postgres_url, "--indicator", "no-such-indicator")
    assert code == 2 and "no indicator 'no-such-indicator'" in output, output
    code, output = placewise("measure", "--db", postgres_url)
    assert code == 0, output
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("DROP TABLE inpatient_spells CASCADE")
    code, output = placewise("measure", "--db", postgres_url)
    assert code == 2 and "inpatient_spells" in output, output


# --- input files ----------------------------------------------------------------------------------------------


def test_unreadable_file_is_refused_naming_it(tmp_path: Path, batch: Batch) -> None:
    """A delivery file without read permission: exit 2 naming the file; nothing loaded."""
    folder = write_batch(tmp_path / "in", batch)
    (folder / "people.parquet").chmod(0)
    try:
        code, output = unprivileged("ingest", str(folder), "--db", str(tmp_path / "wh.duckdb"))
    finally:
        (folder / "people.parquet").chmod(0o644)
    assert code == 2 and "people.parquet" in output and "permission denied" in output.lower(), output


def test_ragged_csv_row_names_file_row_and_fields(tmp_path: Path, batch: Batch) -> None:
    """A CSV row with too few fields: the message names the file, the 1-based data row and the columns expected."""
    folder = write_batch(tmp_path / "in", batch)
    (folder / "registrations.parquet").unlink()
    text = batch["registrations"].to_csv(index=False) + f"{NHS[0]},E81001\n"
    (folder / "registrations.csv").write_text(text)
    code, output = placewise("ingest", str(folder), "--db", str(tmp_path / "wh.duckdb"))
    assert code == 2, output
    assert "registrations.csv: unreadable CSV: data row 7" in output and "expected 4 fields" in output and "found 2" in output, \
        output


def test_non_utf8_byte_names_file_row_and_column(tmp_path: Path, batch: Batch) -> None:
    """A Latin-1 byte in a data row: the message names the file, the 1-based data row and the column by name."""
    folder = write_batch(tmp_path / "in", batch)
    (folder / "practices.parquet").unlink()
    df = batch["practices"].copy()
    df.at[1, "practice_name"] = "Biscot Médical Centre"
    (folder / "practices.csv").write_bytes(df.to_csv(index=False).encode("latin-1"))
    code, output = placewise("ingest", str(folder), "--db", str(tmp_path / "wh.duckdb"))
    assert code == 2, output
    assert "practices.csv: unreadable CSV: data row 2, column practice_name: not UTF-8 text (byte 0xe9)" in output, \
        output


def test_corrupt_parquet_data_is_named(tmp_path: Path, batch: Batch) -> None:
    """A Parquet file whose footer reads but whose data pages are damaged: exit 2 naming the file; nothing loaded."""
    folder = write_batch(tmp_path / "in", batch)
    path = folder / "medications.parquet"
    data = bytearray(path.read_bytes())
    for i in range(4, min(len(data) // 2, 300)):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    db = tmp_path / "wh.duckdb"
    code, output = placewise("ingest", str(folder), "--db", str(db))
    assert code == 2 and "medications.parquet" in output and "nothing loaded" in output, output
    assert not db.exists() or query(db, "SELECT count(*) FROM information_schema.tables "
                                        "WHERE table_name = 'people'") == [(0,)]


# --- output folders and arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["synth", "report"])
def test_output_path_that_is_a_file(tmp_path: Path, measured: Path, command: str) -> None:
    """--out naming an existing file: exit 2 saying so."""
    target = tmp_path / "a-file.txt"
    target.write_text("not a folder")
    extra = ["--scale", "0.001"] if command == "synth" else ["--db", str(measured), "--no-pdf"]
    code, output = placewise(command, "--out", str(target), *extra)
    assert code == 2 and "is a file, not a folder" in output, output
    assert target.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["synth", "report"])
def test_read_only_output_folder(read_only: Path, measured: Path, command: str) -> None:
    """--out inside a folder that cannot be written: exit 2 saying so."""
    read_only.chmod(0o555)
    extra = ["--scale", "0.001"] if command == "synth" else ["--db", str(measured), "--no-pdf"]
    code, output = unprivileged(command, "--out", str(read_only / "out"), *extra)
    assert code == 2 and "cannot write" in output, output


@pytest.mark.parametrize("scale", ["1000000", "0", "-1", "nan"])
def test_absurd_scale_is_refused(tmp_path: Path, scale: str) -> None:
    """A scale that no machine could hold, or none at all: exit 2 before anything is generated."""
    code, output = placewise("synth", "--out", str(tmp_path / "s"), "--scale", scale)
    assert code == 2, output
    assert "scale" in output.lower()
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_small_warehouse_measures_and_reports(measured: Path, tmp_path: Path) -> None:
    """The normal path still works on the small warehouse the error tests use."""
    code, output = placewise("report", "--db", str(measured), "--out", str(tmp_path / "report"), "--no-pdf")
    assert code == 0, output
    assert (tmp_path / "report" / "index.html").is_file()
