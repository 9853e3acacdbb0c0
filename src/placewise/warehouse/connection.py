"""Open the warehouse by URL: a DuckDB file (the embedded default) or a PostgreSQL database."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import duckdb
import ibis
from ibis.backends import BaseBackend

DEFAULT_URL = "placewise.duckdb"
"""The default warehouse: a DuckDB file in the working folder."""
DUCKDB_MEMORY_LIMIT = "4GB"
"""DuckDB's memory for a warehouse, whatever its size: joins, sorts and aggregates beyond it spill to
``<warehouse>.tmp`` beside the file, so memory does not grow with the population (DuckDB's own default
is 80% of the machine's memory)."""

Engine = Literal["duckdb", "postgres"]


class WarehouseError(ValueError):
    """The warehouse URL is not understood or the database cannot be opened."""


def engine_of(url: str | Path) -> Engine:
    """Which engine a warehouse URL names: ``postgresql://…`` or a DuckDB file path / ``duckdb:///path``."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        return "postgres"
    if text.startswith("duckdb://") or "://" not in text:
        return "duckdb"
    raise WarehouseError(f"{redact(text)}: unsupported warehouse URL; use a DuckDB file path, duckdb:///path or postgresql://…")


def duckdb_path(url: str | Path) -> Path:
    """The file behind a DuckDB warehouse URL (``duckdb:///abs/path``, ``duckdb://rel/path`` or a plain path)."""
    text = str(url)
    if text.startswith("duckdb://"):
        text = text.removeprefix("duckdb://")
    if not text or text == ":memory:":
        raise WarehouseError(f"{redact(url)}: the warehouse must be a DuckDB file, not an in-memory database")
    return Path(text)


_PASSWORDS = (re.compile(r"(://[^:/@?#]*:)[^@/]*@"), re.compile(r"(password=)[^&;\s]*", re.IGNORECASE))


def redact(text: str | Path) -> str:
    """A URL or message with any password in it replaced by ``***`` (user:password@ and password= forms)."""
    out = str(text)
    for pattern in _PASSWORDS:
        out = pattern.sub(r"\1***@" if pattern is _PASSWORDS[0] else r"\1***", out)
    return out


def connect(url: str | Path = DEFAULT_URL, read_only: bool = False) -> BaseBackend:
    """Open the warehouse as an Ibis backend; read a canonical table with ``con.table("people")``.

    ``read_only`` opens a DuckDB file for reading only (a file that cannot be written, or a reader beside
    a writer); a PostgreSQL connection is unchanged (its permissions are the role's).
    """
    if engine_of(url) == "postgres":
        try:
            return ibis.connect(str(url).replace("postgres://", "postgresql://", 1))
        except Exception as e:  # psycopg raises several types; the message says what failed
            raise WarehouseError(f"{redact(url)}: cannot connect to PostgreSQL: {redact(str(e))}") from None
    path = duckdb_path(url)
    if not path.parent.is_dir():
        raise WarehouseError(f"{redact(url)}: folder {path.parent} does not exist")
    try:
        return ibis.duckdb.connect(str(path), read_only=read_only, memory_limit=DUCKDB_MEMORY_LIMIT)
    except duckdb.IOException as e:
        raise WarehouseError(duckdb_open_error(path, e)) from None


def duckdb_open_error(path: Path, e: duckdb.Error) -> str:
    """Why a DuckDB file could not be opened, in words: held by another process, or not readable/writable."""
    text = str(e)
    if "Could not set lock" in text:
        holder = re.search(r"\(PID (\d+)\)", text)
        pid = f" (PID {holder.group(1)})" if holder else ""
        return (f"{path}: the warehouse is in use by another process{pid}, such as an ingest, measure or report "
                "still running; nothing was changed; try again when it has finished")
    if "Permission denied" in text or "Read-only file system" in text:
        return f"{path}: the warehouse cannot be opened for writing (permission denied or a read-only file system)"
    return f"{path}: cannot open the DuckDB warehouse: {text.splitlines()[0]}"


def connect_existing(url: str | Path = DEFAULT_URL, read_only: bool = False) -> BaseBackend:
    """Open a warehouse that must already exist: a missing DuckDB file is an error, never a new empty file."""
    if engine_of(url) == "duckdb" and not duckdb_path(url).is_file():
        raise WarehouseError(f"{redact(url)}: no warehouse here yet; load one with placewise ingest")
    return connect(url, read_only)


def require_tables(con: BaseBackend, names: Iterable[str]) -> None:
    """Refuse a warehouse that lacks tables a command reads (one not made by ``placewise ingest``, or damaged)."""
    missing = sorted(set(names) - table_names(con))
    if missing:
        raise WarehouseError(f"the warehouse has no {', '.join(missing)} table{'s' if len(missing) > 1 else ''}: "
                             "it was not made by placewise ingest, or has been damaged; ingest a delivery into it")


def engine(con: BaseBackend) -> Engine:
    """The engine behind an open Ibis backend."""
    name = con.name
    if name not in ("duckdb", "postgres"):
        raise WarehouseError(f"unsupported warehouse engine {name!r}")
    return name


def table_names(con: BaseBackend) -> set[str]:
    """Names of the tables in the warehouse's own schema (works around Ibis 12 ``list_tables`` on DuckDB 2)."""
    schema = "current_schema()" if engine(con) == "postgres" else "'main'"
    sql = f"SELECT table_name FROM information_schema.tables WHERE table_schema = {schema}"
    if engine(con) == "postgres":
        with con.con.cursor() as cur:
            return {r[0] for r in cur.execute(sql).fetchall()}
    return {r[0] for r in con.con.execute(sql).fetchall()}
