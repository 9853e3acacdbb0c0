"""Open the warehouse by URL through its engine (``warehouse/engines``): a DuckDB file, or a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ibis.backends import BaseBackend

from placewise.canonical import TABLES
from placewise.warehouse.engines import WarehouseError, engine_class, engine_for
from placewise.warehouse.engines.base import redact
from placewise.warehouse.schema import BOOKKEEPING

DEFAULT_URL = "placewise.duckdb"
"""The default warehouse: a DuckDB file in the working folder."""


def engine_of(url: str | Path) -> str:
    """The name of the engine a warehouse URL names (``duckdb``, ``postgres``)."""
    return engine_class(url).name


def connect(url: str | Path = DEFAULT_URL, read_only: bool = False) -> BaseBackend:
    """Open the warehouse as an Ibis backend; read a canonical table with ``con.table("people")``.

    ``read_only`` opens it for reading only where the engine allows (a DuckDB file that cannot be written, or
    a reader beside a writer); a server connection is unchanged (its permissions are the role's).
    """
    cls = engine_class(url)
    return cls.open_read_only(str(url)) if read_only else cls.open(str(url))


def connect_existing(url: str | Path = DEFAULT_URL, read_only: bool = False) -> BaseBackend:
    """Open a warehouse that must already exist: a missing DuckDB file is an error, never a new empty file."""
    if not engine_class(url).exists(str(url)):
        raise WarehouseError(f"{redact(url)}: no warehouse here yet; load one with placewise ingest")
    return connect(url, read_only)


@contextmanager
def opened(url: str | Path = DEFAULT_URL, read_only: bool = False) -> Iterator[BaseBackend]:
    """A warehouse that must already exist (:func:`connect_existing`), closed when the block ends however it ends, so
    that the same process may open its file again (DuckDB refuses a second configuration while one is open)."""
    con = connect_existing(url, read_only)
    try:
        yield con
    finally:
        con.disconnect()


def require_tables(con: BaseBackend, names: Iterable[str]) -> None:
    """Refuse a warehouse that lacks tables a command reads (one not made by ``placewise ingest``, or damaged)."""
    missing = sorted(set(names) - table_names(con))
    if missing:
        raise WarehouseError(f"the warehouse has no {', '.join(missing)} table{'s' if len(missing) > 1 else ''}: "
                             "it was not made by placewise ingest, or has been damaged; ingest a delivery into it")


def engine(con: BaseBackend) -> str:
    """The name of the engine behind an open Ibis backend."""
    return engine_for(con).name


def table_names(con: BaseBackend) -> set[str]:
    """Names of the tables in the warehouse's own schema."""
    return engine_for(con).table_names()


def ensure_tables(con: BaseBackend) -> None:
    """Create every canonical and bookkeeping table that does not exist yet (one transaction)."""
    engine_for(con).ensure((*TABLES, *BOOKKEEPING))
