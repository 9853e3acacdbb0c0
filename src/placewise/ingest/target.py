"""Write a validated batch to the warehouse in one transaction: DuckDB directly, PostgreSQL by COPY.

Staging and validation always run in DuckDB: inside the warehouse file's own connection when the
warehouse is DuckDB, in an in-process DuckDB when it is PostgreSQL. Clean rows then go to the target
with the engine's bulk path: ``INSERT … SELECT`` in DuckDB, ``COPY … FROM STDIN`` (CSV from Arrow) in
PostgreSQL. Rows whose canonical key already exists in the warehouse are replaced (delete, then insert).

The transaction stays open while tables are validated and loaded one by one, in load order, so that each
table's references (people, practices, LSOAs) resolve against the warehouse as it will be after the batch,
and only one table's staged rows are held at a time.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
from contextlib import ExitStack, suppress
from dataclasses import dataclass

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from ibis.backends import BaseBackend

from placewise.canonical import ARROW_TYPES, PERSON_KEY, SQL_TYPES, TABLES, Table
from placewise.warehouse.connection import table_names
from placewise.warehouse.schema import BOOKKEEPING, create_table_sql

_COPY_BATCH_ROWS = 500_000
INGEST_LOCK = int.from_bytes(hashlib.sha256(b"placewise ingest").digest()[:8], "big", signed=True)
"""PostgreSQL advisory lock key held by an ingest for its whole run, so that ingests into one database take turns."""


def warehouse_key(t: Table) -> tuple[str, ...]:
    """The table's key as warehouse columns (the NHS number becomes the person key)."""
    return tuple(PERSON_KEY if k == "nhs_number" else k for k in t.key)


@dataclass
class Written:
    """What one table's write did."""

    loaded: int
    replaced: int
    kept: int = 0
    """Rows not inserted because their key was already stored (when not replacing)."""



class Target:
    """Where a batch goes; subclasses know one engine. Use: begin, load each table, then commit or rollback.

    Constructing a target takes the warehouse's ingest lock (waiting for another ingest to finish) and
    :meth:`close` releases it, so two ingests into one warehouse never interleave.
    """

    staging: duckdb.DuckDBPyConnection

    def __init__(self, con: BaseBackend) -> None:
        self.con = con
        self._lock()
        self.tables = table_names(con)

    def _lock(self) -> None:
        """Wait for, then hold, the warehouse's ingest lock."""
        raise NotImplementedError

    def _unlock(self) -> None:
        """Release the ingest lock."""
        raise NotImplementedError

    def relation(self, table: str, columns: tuple[str, ...]) -> str | None:
        """A relation in the staging DuckDB holding ``columns`` of a warehouse table, or None if it is absent."""
        raise NotImplementedError

    def begin(self) -> None:
        """Open the batch's transaction and create any missing warehouse table inside it."""
        raise NotImplementedError

    def load(self, t: Table, clean: str, replace: bool = True) -> Written:
        """Replace stored rows whose key comes again in the staging query ``clean``, then insert its rows; with
        ``replace`` false, rows whose key is stored are left out instead."""
        raise NotImplementedError

    def execute(self, sql: str) -> int:
        """Run a statement on the warehouse inside the open transaction; the rows it changed."""
        raise NotImplementedError

    def upload(self, name: str, query: str, columns: tuple[tuple[str, str], ...]) -> None:
        """Make temporary table ``name`` (columns: (name, canonical dtype)) in the warehouse, inside the open
        transaction, from a staging query, for statements that join to it."""
        raise NotImplementedError

    def commit(self, bookkeeping: dict[str, str]) -> None:
        """Append each staging relation to its bookkeeping table and commit the batch."""
        raise NotImplementedError

    def rollback(self) -> None:
        """Abandon the batch: the warehouse is as it was before :meth:`begin`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release staging resources and the ingest lock."""
        self._unlock()


_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


class DuckDBTarget(Target):
    """A DuckDB warehouse file: staging lives in the same connection as temporary tables.

    Another process cannot open the file while this one has it (DuckDB's file lock; :func:`connect` refuses
    clearly), but connections of one process share the database, so threads take turns on a lock per file.
    """

    def __init__(self, con: BaseBackend) -> None:
        self.staging = con.con
        super().__init__(con)

    def _file_lock(self) -> threading.Lock:
        """The process-wide lock of this warehouse file."""
        path = self.staging.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
        name = str(path.fetchone()[0])
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
        if not raw.execute(f'SELECT count(*) FROM main."{t.name}"').fetchone()[0]:
            return Written(raw.execute(f'INSERT INTO main."{t.name}" {clean}').fetchone()[0], 0)
        incoming = raw.execute(f"CREATE OR REPLACE TEMP TABLE incoming AS {clean}").fetchall()[0][0]
        match = " AND ".join(f'w."{k}" = c."{k}"' for k in warehouse_key(t))
        if replace:
            replaced = raw.execute(f'DELETE FROM main."{t.name}" w USING incoming c WHERE {match}').fetchone()[0]
            loaded = raw.execute(f'INSERT INTO main."{t.name}" SELECT * FROM incoming').fetchone()[0]
        else:
            replaced = 0
            loaded = raw.execute(f'INSERT INTO main."{t.name}" SELECT * FROM incoming c WHERE NOT EXISTS '
                                 f'(SELECT 1 FROM main."{t.name}" w WHERE {match})').fetchone()[0]
        raw.execute("DROP TABLE incoming")
        return Written(loaded, replaced, incoming - loaded - replaced if not replace else 0)

    def execute(self, sql: str) -> int:
        """Run it on the warehouse's own connection (the transaction is open there)."""
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


class PostgresTarget(Target):
    """A PostgreSQL warehouse: staging in an in-process DuckDB, clean rows sent by COPY."""

    def __init__(self, con: BaseBackend) -> None:
        super().__init__(con)
        self._spill = tempfile.TemporaryDirectory(prefix="placewise-stage-")
        self.staging = duckdb.connect(config={"temp_directory": self._spill.name})
        self._tx = ExitStack()
        self._cur = None

    def _lock(self) -> None:
        """A session advisory lock on the database: a second ingest waits here until the first has finished,
        before it reads what is loaded or creates any table."""
        with self.con.con.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (INGEST_LOCK,))

    def _unlock(self) -> None:
        """Release the advisory lock (a broken connection has released it already)."""
        with suppress(psycopg.Error), self.con.con.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (INGEST_LOCK,))

    def relation(self, table: str, columns: tuple[str, ...]) -> str | None:
        """Copy the columns out of PostgreSQL into a staging table (COPY TO STDOUT as CSV, read by Arrow)."""
        if table not in self.tables:
            return None
        wanted = {c.name: c for t in (*TABLES, *BOOKKEEPING) if t.name == table for c in t.warehouse_columns()}
        schema = pa.schema([(c, ARROW_TYPES[wanted[c].dtype]) for c in columns])
        cols = ", ".join(f'"{c}"' for c in columns)
        buf = io.BytesIO()
        with self.con.con.cursor() as cur, cur.copy(f'COPY (SELECT {cols} FROM "{table}") TO STDOUT (FORMAT csv)') as cp:
            for chunk in cp:
                buf.write(chunk)
        data = schema.empty_table()
        if buf.getbuffer().nbytes:
            buf.seek(0)
            data = pacsv.read_csv(buf, read_options=pacsv.ReadOptions(column_names=list(columns)),
                                  convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                                                       quoted_strings_can_be_null=False))
        name = f"wh_{table}"
        self.staging.register("_wh", data)
        self.staging.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _wh")
        self.staging.unregister("_wh")
        return name

    def begin(self) -> None:
        """Open a PostgreSQL transaction and create any missing table in it."""
        pg = self.con.con
        self._tx.enter_context(pg.transaction())
        self._cur = self._tx.enter_context(pg.cursor())
        for t in (*TABLES, *BOOKKEEPING):
            self._cur.execute(create_table_sql(t))
        self.tables |= {t.name for t in (*TABLES, *BOOKKEEPING)}

    def _copy_in(self, table: str, query: str) -> None:
        """Stream a staging query's rows into a PostgreSQL table with COPY FROM STDIN (CSV made by Arrow)."""
        reader = self.staging.sql(query).to_arrow_reader(_COPY_BATCH_ROWS)
        options = pacsv.WriteOptions(include_header=False)
        with self._cur.copy(f'COPY "{table}" FROM STDIN (FORMAT csv)') as cp:
            for batch in reader:
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, options)
                cp.write(buf.getvalue())

    def load(self, t: Table, clean: str, replace: bool = True) -> Written:
        """COPY into a temporary table, delete rows with the same key (or leave those rows out), insert."""
        stage = f"stage_{t.name}"
        cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.dtype]}' for c in t.warehouse_columns())
        self._cur.execute(f'CREATE TEMP TABLE "{stage}" ({cols}) ON COMMIT DROP')
        self._copy_in(stage, clean)
        match = " AND ".join(f'w."{k}" = c."{k}"' for k in warehouse_key(t))
        if not replace:
            incoming = self._cur.execute(f'SELECT count(*) FROM "{stage}"').fetchone()[0]
            self._cur.execute(f'INSERT INTO "{t.name}" SELECT * FROM "{stage}" c WHERE NOT EXISTS '
                              f'(SELECT 1 FROM "{t.name}" w WHERE {match})')
            return Written(self._cur.rowcount, 0, incoming - self._cur.rowcount)
        self._cur.execute(f'DELETE FROM "{t.name}" w USING "{stage}" c WHERE {match}')
        replaced = self._cur.rowcount
        self._cur.execute(f'INSERT INTO "{t.name}" SELECT * FROM "{stage}"')
        return Written(self._cur.rowcount, replaced)

    def execute(self, sql: str) -> int:
        """Run it in the open PostgreSQL transaction."""
        self._cur.execute(sql)
        return self._cur.rowcount

    def upload(self, name: str, query: str, columns: tuple[tuple[str, str], ...]) -> None:
        """CREATE TEMP TABLE … ON COMMIT DROP, filled by COPY."""
        cols = ", ".join(f'"{c}" {SQL_TYPES[dtype]}' for c, dtype in columns)
        self._cur.execute(f'CREATE TEMP TABLE "{name}" ({cols}) ON COMMIT DROP')
        self._copy_in(name, query)

    def commit(self, bookkeeping: dict[str, str]) -> None:
        """COPY the bookkeeping and commit."""
        for name, relation in bookkeeping.items():
            self._copy_in(name, f"SELECT * FROM {relation}")
        self._tx.close()

    def rollback(self) -> None:
        """Roll the PostgreSQL transaction back."""
        self._tx.__exit__(IngestAborted, IngestAborted(), None)

    def close(self) -> None:
        """Close the staging DuckDB, remove its spill folder and release the lock."""
        self.staging.close()
        self._spill.cleanup()
        super().close()


class IngestAborted(Exception):
    """Raised into the PostgreSQL transaction to roll it back."""


def target_for(con: BaseBackend) -> Target:
    """The writer for an open warehouse."""
    return PostgresTarget(con) if con.name == "postgres" else DuckDBTarget(con)
