"""What every warehouse engine provides: the interface the stages call instead of branching on a name.

An :class:`Engine` wraps an open Ibis backend and does the few things Ibis does not do the same way on
every engine: list tables, run a statement of ours, hold a transaction, set session settings, create and
drop tables, and write or replace rows in bulk. A :class:`Batch` is the engine's writer for one ingest:
staging in DuckDB, then every table of the batch written in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from placewise.canonical import PERSON_KEY, SQL_TYPES, Table
from placewise.warehouse.engines.rewrites import scores_kept, selects_fused

SQL_OF_ARROW: dict[pa.DataType, str] = {pa.string(): "string", pa.int64(): "int", pa.float64(): "float",
                                        pa.date32(): "date", pa.bool_(): "bool", pa.timestamp("us"): "timestamp"}
"""Canonical dtype of each Arrow type the stages write."""


class WarehouseError(ValueError):
    """The warehouse URL is not understood or the database cannot be opened."""


_PASSWORDS = (re.compile(r"(://[^:/@?#]*:)[^@/]*@"), re.compile(r"(password=)[^&;\s]*", re.IGNORECASE))


def redact(text: str | Path) -> str:
    """A URL or message with any password in it replaced by ``***`` (user:password@ and password= forms)."""
    out = str(text)
    for pattern in _PASSWORDS:
        out = pattern.sub(r"\1***@" if pattern is _PASSWORDS[0] else r"\1***", out)
    return out


def create_table_sql(t: Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a table in warehouse form (person key, not NHS number)."""
    cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.dtype]}' for c in t.warehouse_columns())
    return f'CREATE TABLE IF NOT EXISTS "{t.name}" ({cols})'


def arrow_ddl(name: str, schema: pa.Schema) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for rows of an Arrow schema (each type one of :data:`SQL_OF_ARROW`)."""
    cols = ", ".join(f'"{f.name}" {SQL_TYPES[SQL_OF_ARROW[f.type]]}' for f in schema)
    return f'CREATE TABLE IF NOT EXISTS "{name}" ({cols})'


def in_list(values: Iterable[str]) -> str:
    """A SQL ``IN`` list of string literals (``NULL`` when empty, which matches nothing)."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


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


class Batch:
    """One ingest's writer: begin, load each table, then commit or rollback; close always.

    Staging and validation run in DuckDB (:attr:`staging`). Constructing a batch takes the warehouse's
    ingest lock (waiting for another ingest to finish) and :meth:`close` releases it.
    """

    staging: duckdb.DuckDBPyConnection

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.con = engine.con
        self._lock()
        self.tables = engine.table_names()

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

    def execute(self, sql: str, table: str) -> int:
        """Run a statement that changes warehouse ``table``, inside the open transaction; the rows it changed."""
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


class Reader:
    """Brief reads of a warehouse, one per web request: opened read-only and closed again after each."""

    def __init__(self, engine: type[Engine], url: str) -> None:
        self.engine, self.url = engine, url

    @contextmanager
    def read(self) -> Iterator[BaseBackend]:
        """The warehouse, open for the length of one read."""
        con = self.engine.open_read_only(self.url)
        try:
            yield con
        finally:
            con.disconnect()

    def close(self) -> None:
        """Release what the reader holds between reads (nothing here)."""


class Engine:
    """One database engine behind the warehouse, bound to an open Ibis backend."""

    name: ClassVar[str]
    """The engine's name, as users give it (``placewise verify --engines``)."""
    backend: ClassVar[str]
    """The name of its Ibis backend (``con.name``)."""
    dialect: ClassVar[str]
    """The SQL dialect Ibis compiles to for this engine."""
    server: ClassVar[bool] = False
    """Whether the warehouse is a database server many processes share (else files one machine or folder holds)."""
    errors: ClassVar[tuple[type[Exception], ...]] = ()
    """The driver's exceptions a failed statement raises."""
    analytic: ClassVar[Mapping[str, str]] = {}
    """Session settings for the measure workload (many large set-based queries)."""
    compiles_aside: ClassVar[bool] = False
    """Whether the next query may be compiled to SQL on another thread while this session runs one: compiling reads
    nothing of the session and the driver releases the interpreter while a query runs."""
    makes_shared_apart: ClassVar[bool] = False
    """Whether a computation's shared tables each wait on a thread of their own for the tables they read, then take a
    free session in their turn, the registers' chain (coded records, spans, registers) made before the event tables:
    where a session otherwise stands idle while the registers wait for their spans (PostgreSQL: 3.7 s of one
    session at scale 0.2). DuckDB's sessions share one pool of threads, and there it cost CPU (5.6-13.7 s more at
    scale 1.0 in three pairs, docs/benchmarks.md, session 23)."""
    fuses_selects: ClassVar[bool] = True
    """Whether :meth:`compile` merges nested ``SELECT``s into one where Ibis can (its ``fuse_selects``, on by
    default). An engine whose planner merges them itself may leave them nested, which costs less to compile (a
    quarter of compiling the catalogue); on PostgreSQL it costs far more to run (subqueries read more than once
    become CTEs, and those are materialised: session 22 measured 3.8 times the server's CPU at scale 0.2)."""

    @property
    def side_by_side(self) -> int:
        """How many sessions (:meth:`beside`) may run one computation's queries at once over its temporary tables,
        read inside the computation's :meth:`workspace`: more than one where the sessions share the engine's threads
        and one alone leaves them idle at times (a small query, the single-threaded end of an aggregate or of a
        fetch), so that another fills the gaps. An engine's constant, or its workspace's (PostgreSQL's)."""
        return 1

    def __init__(self, con: BaseBackend) -> None:
        self.con = con

    @classmethod
    def claims(cls, url: str) -> bool:
        """Whether a warehouse URL names this engine."""
        raise NotImplementedError

    @classmethod
    def reason(cls, e: Exception) -> str:
        """What a failed statement's error says, in one line."""
        return str(e).splitlines()[0] if str(e) else type(e).__name__

    @classmethod
    def open(cls, url: str) -> BaseBackend:
        """Open (creating if need be) the warehouse at ``url`` as an Ibis backend."""
        raise NotImplementedError

    @classmethod
    def exists(cls, url: str) -> bool:
        """Whether a warehouse is already at ``url`` (a server database is taken to exist)."""
        return True

    @classmethod
    def open_read_only(cls, url: str) -> BaseBackend:
        """Open an existing warehouse only to read it (so that a load can run beside, where the engine allows)."""
        if not cls.exists(url):
            raise WarehouseError(f"{redact(url)}: no warehouse here yet; load one with placewise ingest")
        return cls.open(url)

    @classmethod
    def reader(cls, url: str) -> Reader:
        """Brief reads of the warehouse at ``url``, one per request (a server engine pools its connections)."""
        return Reader(cls, url)

    @classmethod
    def companion(cls, url: str, suffix: str) -> Path:
        """A file beside a local warehouse, named after it with ``suffix`` (e.g. the web app's own store)."""
        raise WarehouseError(f"{redact(url)}: a {cls.name} warehouse has no folder of its own to put a file beside")

    @classmethod
    def report_folder(cls, url: str) -> Path:
        """Where reports about a run on this warehouse go by default: beside a local warehouse, else here."""
        return Path.cwd()

    def rows(self, sql: str) -> list[tuple]:
        """Run a query of ours; its rows."""
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        """Run one statement of ours (Ibis 12's own drop and rename are broken with the pinned sqlglot)."""
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        """A transaction around the statements run inside it: all or nothing."""
        return nullcontext()

    def table_names(self) -> set[str]:
        """Names of the tables in the warehouse's own schema."""
        raise NotImplementedError

    def tables_with_column(self, column: str) -> list[str]:
        """Every warehouse table with a column of that name, sorted."""
        raise NotImplementedError

    def set(self, name: str, value: str) -> str | None:
        """Set a session setting this engine has; its previous value (None when the engine has no such setting)."""
        return None

    @contextmanager
    def settings(self, values: Mapping[str, str]) -> Iterator[None]:
        """Session settings held for the block, then restored."""
        before = {k: self.set(k, v) for k, v in values.items()}
        try:
            yield
        finally:
            for k, v in before.items():
                if v is not None:
                    self.set(k, v)

    def append_only(self, table: str, unique: str) -> None:
        """Have the database refuse any change to a row of ``table`` and two rows with one ``unique`` value, where
        it can (the caller's hash chain detects a change where it cannot)."""

    def anchor_file(self) -> Path | None:
        """Where an append-only table's latest row is anchored outside the database, for an engine that cannot
        refuse a DELETE itself; none where the database guards its tables (:meth:`append_only`) or has no file."""
        return None

    def ensure(self, tables: Iterable[Table]) -> None:
        """Create each table that does not exist yet, in one transaction."""
        with self.transaction():
            for t in tables:
                self.execute(create_table_sql(t))

    def drop(self, name: str) -> None:
        """Drop a table of ours if it exists."""
        self.execute(f'DROP TABLE IF EXISTS "{name}"')

    def drop_temp(self, name: str) -> None:
        """Drop a temporary table of ours (:meth:`temp_table`) if it exists."""
        self.drop(name)

    def temp_table(self, name: str, expr: ir.Table, clustered_by: str | None = None) -> ir.Table:
        """Materialise an expression as a temporary table for this session (replacing any left over).

        ``clustered_by`` names a column that later queries filter on: an engine whose filters gain from rows stored
        together by it stores them so (PostgreSQL); the others ignore it (DuckDB's sort cost more than its zone maps
        then saved)."""
        self.drop_temp(name)
        return self.con.create_table(name, expr, temp=True)

    def temp_named(self, name: str, schema: ibis.Schema) -> ir.Table:
        """Temporary table ``name`` (:meth:`temp_table_of`), for queries built before it is made."""
        return ibis.table(schema, name=name)

    def workspace(self) -> AbstractContextManager[None]:
        """Where one computation's temporary tables live for the block, made at its start and removed at its end,
        whether it ends well or not (nothing to make where the engine's temporary tables serve as they are)."""
        return nullcontext()

    def beside(self) -> Engine | None:
        """Another session of the same database that sees this one's temporary tables (:attr:`side_by_side`), or
        None where none can now (the caller then runs one session); the caller closes it (:meth:`close`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the session."""
        self.con.disconnect()

    def compile(self, expr: ir.Table) -> str:
        """The expression's SQL for this engine; compiling only (on another thread where :attr:`compiles_aside`), each
        node's complexity scored once and nested projections merged as :attr:`fuses_selects` says
        (:mod:`placewise.warehouse.engines.rewrites`)."""
        with scores_kept(), selects_fused(self.fuses_selects):
            return self.con.compile(expr)

    def _compiled(self, expr: ir.Table, sql: str) -> ir.Table:
        """The expression as its compiled SQL, its in-memory tables registered with the session first."""
        self.con._run_pre_execute_hooks(expr)
        return self.con.sql(sql, schema=expr.schema())

    def temp_table_of(self, name: str, expr: ir.Table, sql: str, clustered_by: str | None = None) -> None:
        """Materialise an expression already compiled to ``sql`` as a temporary table (replacing any left over),
        ``clustered_by`` as :meth:`temp_table`."""
        self.temp_table(name, self._compiled(expr, sql), clustered_by)

    def arrow_of(self, expr: ir.Table, sql: str) -> pa.Table:
        """The rows of an expression already compiled to ``sql``."""
        return self._compiled(expr, sql).to_pyarrow()

    def replace_table(self, name: str, obj: ir.Table | pa.Table) -> ir.Table:
        """Write ``obj`` under a new name, then swap it in, so a failed build leaves the old table whole."""
        staged = f"{name}__new"
        self.drop(staged)
        if isinstance(obj, pa.Table):   # Ibis 12 registers Arrow data as a view it then fails to drop: insert instead
            self.con.create_table(staged, schema=ibis.Schema.from_pyarrow(obj.schema))
            self.con.insert(staged, obj)
        else:
            self.con.create_table(staged, obj)
        self.drop(name)
        self.execute(f'ALTER TABLE "{staged}" RENAME TO "{name}"')
        return self.con.table(name)

    def replace_rows(self, table: str, data: pa.Table, column: str, values: list[str]) -> None:
        """Replace the rows of ``table`` whose ``column`` is one of ``values`` by ``data``, in one transaction
        (the table is created from ``data``'s schema if absent)."""
        raise NotImplementedError

    @contextmanager
    def rows_replaced(self, table: str, schema: pa.Schema, column: str,
                      values: list[str]) -> Iterator[Callable[[pa.Table], None]]:
        """Replace the rows of ``table`` whose ``column`` is one of ``values`` by the parts of ``schema`` added
        inside the block (``add(part)``, from one thread at a time), in one transaction: nothing is replaced if the
        block fails. Here the parts are kept and written at the end (:meth:`replace_rows`); an engine that can
        write each part as it comes, beside the work that makes the next, does."""
        parts: list[pa.Table] = []
        yield parts.append
        self.replace_rows(table, pa.concat_tables(parts) if parts else schema.empty_table(), column, values)

    def batch(self) -> Batch:
        """The writer for one ingest into this warehouse."""
        raise NotImplementedError
