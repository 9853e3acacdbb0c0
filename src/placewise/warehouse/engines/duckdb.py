"""DuckDB, the embedded default: a warehouse is one file; staging runs in the same connection."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from placewise.canonical import TABLES, Table
from placewise.warehouse.engines.base import (
    Batch,
    Engine,
    WarehouseError,
    Written,
    arrow_ddl,
    create_table_sql,
    in_list,
    redact,
    warehouse_key,
)
from placewise.warehouse.schema import BOOKKEEPING

MEMORY_LIMIT = "4GB"
"""DuckDB's memory for a warehouse, whatever its size: joins, sorts and aggregates beyond it spill to
``<warehouse>.tmp`` beside the file, so memory does not grow with the population (DuckDB's own default
is 80% of the machine's memory)."""
BLOCK_ALLOCATOR = MEMORY_LIMIT
"""Memory DuckDB's block allocator keeps for its buffers once touched, rather than handing it back to the system
and faulting it in again for the next query (its ``block_allocator_memory``; virtual until used). At scale 1.0 the
measure took 2.04 M page faults and 9.4 s of system time without it, 1.68 M and 7.3 s with it (session 19): the
buffers are freed and reused all the time as the shared tables and the indicators' queries come and go. Within
:data:`MEMORY_LIMIT`, so the peak does not grow with it; for the read-write warehouse only (a read-only one, as the
web app's, keeps nothing it no longer uses)."""
SCRATCH = "placewise_scratch"
"""The in-memory database, attached to the warehouse's, that holds our temporary tables: DuckDB's own TEMP tables
belong to one connection, while every connection of the database sees an attached one (:meth:`DuckDBEngine.beside`).
Its tables spill beside the warehouse under :data:`MEMORY_LIMIT` as TEMP tables do."""


def duckdb_path(url: str | Path) -> Path:
    """The file behind a DuckDB warehouse URL (``duckdb:///abs/path``, ``duckdb://rel/path`` or a plain path)."""
    text = str(url)
    if text.startswith("duckdb://"):
        text = text.removeprefix("duckdb://")
    if not text or text == ":memory:":
        raise WarehouseError(f"{redact(url)}: the warehouse must be a DuckDB file, not an in-memory database")
    return Path(text)


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


class DuckDBEngine(Engine):
    """A DuckDB warehouse file, read and written through one in-process connection."""

    name = backend = "duckdb"
    dialect = "duckdb"
    errors: ClassVar[tuple[type[Exception], ...]] = (duckdb.Error,)
    analytic: ClassVar[dict[str, str]] = {"preserve_insertion_order": "false"}
    """Every query of the measure workload states its own order where it needs one, so DuckDB may write and read
    its temporary tables in any order: less memory held for ordering and about 10% less CPU time."""
    fuses_selects = False
    """Nested ``SELECT``s left nested (:attr:`Engine.fuses_selects`): DuckDB's optimiser merges them itself (the
    measurements are identical) and compiling the catalogue takes about a fifth less CPU."""
    compiles_aside = True
    side_by_side = 2
    """Two connections of one database share its threads (DuckDB schedules the tasks of all its connections):
    on two cores, one indicator's queries fill the other's single-threaded stretches."""

    @classmethod
    def claims(cls, url: str) -> bool:
        """``duckdb://…`` or a plain path (no scheme)."""
        return url.startswith("duckdb://") or "://" not in url

    @classmethod
    def open(cls, url: str) -> BaseBackend:
        """Open the file (created if absent); its folder must exist."""
        path = duckdb_path(url)
        if not path.parent.is_dir():
            raise WarehouseError(f"{redact(url)}: folder {path.parent} does not exist")
        try:
            return ibis.duckdb.connect(str(path), memory_limit=MEMORY_LIMIT, block_allocator_memory=BLOCK_ALLOCATOR)
        except duckdb.IOException as e:
            raise WarehouseError(duckdb_open_error(path, e)) from None

    @classmethod
    def exists(cls, url: str) -> bool:
        """Whether the file is there."""
        return duckdb_path(url).is_file()

    @classmethod
    def open_read_only(cls, url: str) -> BaseBackend:
        """A read-only connection: another process may write once this one has closed."""
        path = duckdb_path(url)
        if not path.is_file():
            raise WarehouseError(f"{path}: no warehouse here yet; load one with placewise ingest")
        try:
            return ibis.duckdb.from_connection(duckdb.connect(str(path), read_only=True,
                                                              config={"memory_limit": MEMORY_LIMIT}))
        except duckdb.IOException as e:
            raise WarehouseError(duckdb_open_error(path, e)) from None

    @classmethod
    def companion(cls, url: str, suffix: str) -> Path:
        """``NAME{suffix}`` beside the warehouse file."""
        path = duckdb_path(url)
        return path.with_name(path.stem + suffix)

    @classmethod
    def report_folder(cls, url: str) -> Path:
        """The warehouse file's folder."""
        return duckdb_path(url).parent

    def rows(self, sql: str) -> list[tuple]:
        """Run it on the warehouse connection."""
        return self.con.con.execute(sql).fetchall()

    def execute(self, sql: str) -> None:
        """Run it on the warehouse connection."""
        self.con.con.execute(sql)

    def _scratch(self, name: str) -> str:
        """Table ``name`` in :data:`SCRATCH`, which is attached first if need be."""
        self.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH} (READ_WRITE)")
        return f'{SCRATCH}.main."{name}"'

    def drop_temp(self, name: str) -> None:
        """From :data:`SCRATCH`."""
        self.execute(f"DROP TABLE IF EXISTS {self._scratch(name)}")

    def temp_table(self, name: str, expr: ir.Table, clustered_by: str | None = None) -> ir.Table:
        """In :data:`SCRATCH`, unsorted."""
        self.drop_temp(name)
        return self.con.create_table(name, expr, database=(SCRATCH, "main"))

    def temp_named(self, name: str, schema: ibis.Schema) -> ir.Table:
        """In :data:`SCRATCH`."""
        return ibis.table(schema, name=name, catalog=SCRATCH, database="main")

    def temp_table_of(self, name: str, expr: ir.Table, sql: str, clustered_by: str | None = None) -> None:
        """Run the SQL as it is (Ibis would parse it again to wrap it as a query of its own); unsorted, as
        :meth:`temp_table`."""
        self.drop_temp(name)
        self.con._run_pre_execute_hooks(expr)
        self.con.con.execute(f"CREATE TABLE {self._scratch(name)} AS {sql}")

    def beside(self) -> Engine:
        """A second connection of the same database (``cursor``), which sees :data:`SCRATCH`."""
        return DuckDBEngine(ibis.duckdb.from_connection(self.con.con.cursor()))

    def arrow_of(self, expr: ir.Table, sql: str) -> pa.Table:
        """Run the SQL as it is, as :meth:`temp_table_of`."""
        self.con._run_pre_execute_hooks(expr)
        return self.con.con.sql(sql).to_arrow_table()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN … COMMIT, or ROLLBACK on any error."""
        db = self.con.con
        db.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def table_names(self) -> set[str]:
        """From information_schema (works around Ibis 12 ``list_tables`` on DuckDB 2)."""
        return {r[0] for r in self.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")}

    def anchor_file(self) -> Path | None:
        """``NAME.audit-anchor`` beside the database file (DuckDB has no triggers to refuse a DELETE); none in memory."""
        found = self.rows("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
        path = found[0][0] if found else None
        return Path(path).with_name(Path(path).stem + ".audit-anchor") if path else None

    def tables_with_column(self, column: str) -> list[str]:
        """From information_schema.columns of the main schema."""
        return [r[0] for r in self.rows("SELECT DISTINCT table_name FROM information_schema.columns WHERE "
                                        f"table_schema = 'main' AND column_name = '{column}' ORDER BY table_name")]

    def set(self, name: str, value: str) -> str | None:
        """``SET`` for the connection; the value it had."""
        row = self.con.con.execute("SELECT current_setting(?)", [name]).fetchone()
        self.con.con.execute(f"SET {name} = '{value}'")
        before = None if row is None else row[0]
        return str(before).lower() if isinstance(before, bool) else None if before is None else str(before)

    def replace_rows(self, table: str, data: pa.Table, column: str, values: list[str]) -> None:
        """DELETE then INSERT from the registered Arrow table, in one transaction."""
        db = self.con.con
        columns = ", ".join(f'"{c}"' for c in data.schema.names)
        db.register("_placewise_new_rows", data)
        try:
            with self.transaction():
                db.execute(arrow_ddl(table, data.schema))
                db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({in_list(values)})')
                db.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM _placewise_new_rows')
        finally:
            db.unregister("_placewise_new_rows")

    @contextmanager
    def rows_replaced(self, table: str, schema: pa.Schema, column: str,
                      values: list[str]) -> Iterator[Callable[[pa.Table], None]]:
        """DELETE, then each part INSERTed as it is added, in one transaction on a connection of its own (``cursor``:
        the other connections' statements stay outside it), COMMIT at the end or ROLLBACK on any error. The rows
        are written while the parts still to come are being made, not all at the end."""
        db = self.con.con.cursor()
        columns = ", ".join(f'"{c}"' for c in schema.names)

        def add(part: pa.Table) -> None:
            db.register("_placewise_new_rows", part.select(schema.names))
            try:
                db.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM _placewise_new_rows')
            finally:
                db.unregister("_placewise_new_rows")

        try:
            db.execute("BEGIN TRANSACTION")
            try:
                db.execute(arrow_ddl(table, schema))
                db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({in_list(values)})')
                yield add
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def batch(self) -> Batch:
        """Staging in the warehouse's own connection."""
        return DuckDBBatch(self)


_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


class DuckDBBatch(Batch):
    """Into a DuckDB database: staging lives in the same connection as temporary tables.

    Another process cannot open a warehouse file while this one has it (DuckDB's file lock; :func:`connect`
    refuses clearly), but connections of one process share the database, so threads take turns on a lock
    per file.
    """

    def __init__(self, engine: Engine, staging: duckdb.DuckDBPyConnection | None = None) -> None:
        self.staging = staging if staging is not None else engine.con.con
        super().__init__(engine)

    def _file_lock(self) -> threading.Lock:
        """The process-wide lock of this warehouse file."""
        path = self.staging.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
        name = str(path.fetchall()[0][0])
        with _FILE_LOCKS_GUARD:
            return _FILE_LOCKS.setdefault(name, threading.Lock())

    def _lock(self) -> None:
        """Wait for other threads of this process ingesting into the same file."""
        self._held = self._file_lock()
        self._held.acquire()

    def _unlock(self) -> None:
        """Let the next thread in."""
        self._held.release()

    def relation(self, table: str, columns: tuple[str, ...]) -> str | None:
        """The warehouse table itself, read in place (inside the open transaction once begun)."""
        return f'main."{table}"' if table in self.tables else None

    def begin(self) -> None:
        """BEGIN TRANSACTION and CREATE TABLE IF NOT EXISTS for every table."""
        self.staging.execute("BEGIN TRANSACTION")
        for t in (*TABLES, *BOOKKEEPING):
            self.staging.execute(create_table_sql(t))
        self.tables |= {t.name for t in (*TABLES, *BOOKKEEPING)}

    def load(self, t: Table, clean: str, replace: bool = True) -> Written:
        """Into an empty table: INSERT … SELECT in one pass. Otherwise stage the rows, DELETE … USING, INSERT."""
        raw = self.staging
        if not raw.execute(f'SELECT count(*) FROM main."{t.name}"').fetchall()[0][0]:
            return Written(raw.execute(f'INSERT INTO main."{t.name}" {clean}').fetchall()[0][0], 0)
        incoming = raw.execute(f"CREATE OR REPLACE TEMP TABLE incoming AS {clean}").fetchall()[0][0]
        match = " AND ".join(f'w."{k}" = c."{k}"' for k in warehouse_key(t))
        if replace:
            replaced = raw.execute(f'DELETE FROM main."{t.name}" w USING incoming c WHERE {match}').fetchall()[0][0]
            loaded = raw.execute(f'INSERT INTO main."{t.name}" SELECT * FROM incoming').fetchall()[0][0]
        else:
            replaced = 0
            loaded = raw.execute(f'INSERT INTO main."{t.name}" SELECT * FROM incoming c WHERE NOT EXISTS '
                                 f'(SELECT 1 FROM main."{t.name}" w WHERE {match})').fetchall()[0][0]
        raw.execute("DROP TABLE incoming")
        return Written(loaded, replaced, incoming - loaded - replaced if not replace else 0)

    def execute(self, sql: str, table: str) -> int:
        """Run it on the staging connection (the transaction is open there)."""
        return self.staging.execute(sql).fetchall()[0][0]

    def upload(self, name: str, query: str, columns: tuple[tuple[str, str], ...]) -> None:
        """The staging connection is the warehouse's: CREATE TEMP TABLE … AS."""
        self.staging.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")

    def commit(self, bookkeeping: dict[str, str]) -> None:
        """Append the bookkeeping and COMMIT."""
        for name, relation in bookkeeping.items():
            self.staging.execute(f'INSERT INTO main."{name}" SELECT * FROM {relation}')
        self.staging.execute("COMMIT")

    def rollback(self) -> None:
        """ROLLBACK."""
        self.staging.execute("ROLLBACK")
