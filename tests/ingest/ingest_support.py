"""Helpers for ingest tests: run the CLI on a delivery and read the DuckDB warehouse it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
from batch_builder import AS_OF, write_batch
import typer
from typer.testing import CliRunner

from placewise.ingest.cli import ingest_command, rotate_key_command, status_command

app = typer.Typer()
app.command("ingest")(ingest_command)
app.command("status")(status_command)
app.command("rotate-key")(rotate_key_command)


def run_cli(*args: str) -> tuple[int, str]:
    """Run ``placewise`` with arguments; exit code and output."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def ingest_cli(folder: Path, db: str, *extra: str) -> tuple[int, str]:
    """``placewise ingest`` with the tests' fixed as-of date."""
    return run_cli("ingest", str(folder), "--db", db, "--as-of", AS_OF.isoformat(), *extra)


def load(tmp_path: Path, tables: dict[str, pd.DataFrame], fmt: str = "parquet", name: str = "wh") -> tuple[int, str]:
    """Write ``tables`` as a delivery and ingest it into ``tmp_path/<name>.duckdb``; exit code and output."""
    folder = write_batch(tmp_path / f"{name}-in", tables, fmt)
    return ingest_cli(folder, str(tmp_path / f"{name}.duckdb"))


def query(db: Path, sql: str) -> list[tuple]:
    """Rows of a query against a DuckDB warehouse file (opened read-only)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def quarantine(db: Path, table: str | None = None) -> set[tuple]:
    """Quarantine lines (table, row, field, reason, value), optionally for one table."""
    where = f"WHERE table_name = '{table}'" if table else ""
    return set(query(db, f"SELECT table_name, row_number, field, reason, value FROM quarantine {where}"))


SRC = Path(__file__).resolve().parents[2] / "src"


def cli_process(*args: str, key: str | None = None) -> subprocess.Popen[str]:
    """Start ``placewise`` in its own process (as a user would), with the tests' key unless told otherwise."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    if key is not None:
        env["PLACEWISE_PSEUDONYMISATION_KEY"] = key
    return subprocess.Popen([sys.executable, "-m", "placewise.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    """Wait for a process started by :func:`cli_process`; its exit code and output (stdout and stderr)."""
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out
