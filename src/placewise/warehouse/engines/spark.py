"""Spark, for when a region outgrows one machine: a warehouse is a folder of Parquet tables read by Spark.

``spark:///path/to/warehouse`` runs a local Spark session (every core of this machine) over the folder;
``spark://host:port/path/to/warehouse`` connects to a standalone cluster whose driver and workers all see
the folder at that path (a shared file system). Spark settings go in the URL's query, for example
``spark:///data/wh?spark.driver.memory=8g&spark.sql.shuffle.partitions=64``.

Each table is a subfolder of Parquet files. Queries go through Ibis's PySpark backend, reading each table
as a view. A table is rewritten whole: the new version is written beside the old (``name.__new``) and
swapped in by renaming, so readers never see half a table. Ingest stages and validates in DuckDB as on
every engine, changes copies of the tables it touches, and writes them back at commit.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
import py4j.protocol
import pyspark.errors
from ibis.backends import BaseBackend
from ibis.backends.pyspark import Backend as IbisSparkBackend
from ibis.backends.pyspark.datatypes import PySparkSchema

from placewise.canonical import TABLES, Table
from placewise.warehouse.engines.base import Batch, Engine, WarehouseError, create_table_sql, redact
from placewise.warehouse.engines.duckdb import DuckDBBatch
from placewise.warehouse.schema import BOOKKEEPING

NEW, OLD = ".__new", ".__old"
"""Suffixes of a table's folder while its next version is written and while the versions are swapped."""
LOCAL_DEFAULTS = {"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false",
                  "spark.ui.showConsoleProgress": "false"}
"""Settings for a local session unless the URL gives them: a few shuffle partitions suit one machine."""
ALWAYS = {"spark.sql.session.timeZone": "UTC", "spark.sql.timestampType": "TIMESTAMP_NTZ",
          "spark.sql.parquet.inferTimestampNTZ.enabled": "true", "spark.sql.ansi.enabled": "true",
          "spark.sql.ansi.doubleQuotedIdentifiers": "true"}
"""Settings every session has: timestamps are local wall-clock times with no zone, as in the canonical model;
standard SQL, with double quotes around names, as on the other engines."""

KNOWN: dict[str, pa.Schema] = {t.name: t.warehouse_schema() for t in (*TABLES, *BOOKKEEPING)}
"""The schema of each canonical and bookkeeping table, so that opening the warehouse reads no file footers."""

_ROOT_SESSION: Any = None


def parse_url(url: str) -> tuple[str, Path, dict[str, str]]:
    """The Spark master, the warehouse folder and the Spark settings a ``spark://`` URL gives."""
    parts = urlsplit(url)
    if not parts.path or parts.path == "/":
        raise WarehouseError(f"{redact(url)}: give the warehouse folder: spark:///path or spark://host:port/path")
    conf = dict(parse_qsl(parts.query))
    if parts.netloc:
        return f"spark://{parts.netloc}", Path(parts.path), conf
    return "local[*]", Path(parts.path), {**LOCAL_DEFAULTS, **conf}


def _session(master: str, conf: dict[str, str]) -> Any:
    """A new Spark session (own views and settings) on the process's one Spark context, started on first use."""
    global _ROOT_SESSION
    from pyspark.sql import SparkSession

    if _ROOT_SESSION is None:
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = SparkSession.builder.master(master).appName("placewise")
        for k, v in {**conf, **ALWAYS}.items():
            builder = builder.config(k, v)
        _ROOT_SESSION = builder.getOrCreate()
        _ROOT_SESSION.sparkContext.setLogLevel("ERROR")
    session = _ROOT_SESSION.newSession()
    for k, v in {**conf, **ALWAYS}.items():
        if not k.startswith(("spark.driver.", "spark.executor.", "spark.master", "spark.ui.")):
            session.conf.set(k, v)
    return session


def stop() -> None:
    """Stop the process's Spark context (the tests' session teardown; a CLI run simply exits)."""
    global _ROOT_SESSION
    if _ROOT_SESSION is not None:
        _ROOT_SESSION.stop()
        _ROOT_SESSION = None


class SparkBackend(IbisSparkBackend):
    """Ibis's PySpark backend over one warehouse folder; disconnecting leaves the shared Spark context running."""

    root: Path

    def disconnect(self) -> None:
        """Drop this session's views; the context is shared by every warehouse the process opens."""
        for view in self._session.catalog.listTables():
            if view.isTemporary:
                self._session.catalog.dropTempView(view.name)


def _recover(root: Path) -> None:
    """Finish or undo a table swap a stopped process left: a complete new version replaces a missing table."""
    for new in root.glob(f"*{NEW}"):
        table = root / new.name.removesuffix(NEW)
        if not table.exists():
            new.rename(table)
        else:
            shutil.rmtree(new)
    for old in root.glob(f"*{OLD}"):
        if (root / old.name.removesuffix(OLD)).exists():
            shutil.rmtree(old)
        else:
            old.rename(root / old.name.removesuffix(OLD))


def swap(root: Path, name: str) -> None:
    """Put the table's new version (``name.__new``) in place of the old one."""
    table, new, old = root / name, root / f"{name}{NEW}", root / f"{name}{OLD}"
    if table.exists():
        table.rename(old)
    new.rename(table)
    if old.exists():
        shutil.rmtree(old)


class SparkEngine(Engine):
    """A folder of Parquet tables queried by Spark (local, or a standalone cluster)."""

    name = "spark"
    backend = "pyspark"
    dialect = "pyspark"
    errors: ClassVar[tuple[type[Exception], ...]] = (pyspark.errors.PySparkException, py4j.protocol.Py4JJavaError,
                                                     duckdb.Error)
    compiles_aside = False
    """Safe, but not worth it: Ibis's PySpark compiling is its SQL compiler and sqlglot alone (the session is touched
    only by registering in-memory tables and UDFs, which stay on the main thread before a query), and py4j releases
    the interpreter while Spark runs a query; but it is about 0.1 s an indicator (some 10 s a catalogue) against
    31 minutes of the whole catalogue on Spark at scale 0.05 (session 12, load 15), and in local mode Spark's own
    threads already use every core while a query runs, so a compiling thread competes with them. Not measured."""

    def __init__(self, con: BaseBackend) -> None:
        super().__init__(con)
        self.root: Path = con.root
        self.session = con._session

    @classmethod
    def claims(cls, url: str) -> bool:
        """``spark://…``."""
        return url.startswith("spark://")

    @classmethod
    def open(cls, url: str) -> BaseBackend:
        """Start (or join) the Spark context and read every table of the folder as a view."""
        master, root, conf = parse_url(url)
        if not root.parent.is_dir():
            raise WarehouseError(f"{redact(url)}: folder {root.parent} does not exist")
        root.mkdir(exist_ok=True)
        _recover(root)
        if ibis.options.pyspark is None:  # Ibis registers them only when its entry point loads the backend
            SparkBackend.register_options()
        backend = SparkBackend().connect(_session(master, conf))
        backend.root = root
        engine = cls(backend)
        engine.refresh(engine.table_names())
        return backend

    @classmethod
    def exists(cls, url: str) -> bool:
        """Whether the warehouse folder is there."""
        return parse_url(url)[1].is_dir()

    @classmethod
    def companion(cls, url: str, suffix: str) -> Path:
        """``FOLDER{suffix}`` beside the warehouse folder."""
        root = parse_url(url)[1]
        return root.with_name(root.name + suffix)

    @classmethod
    def report_folder(cls, url: str) -> Path:
        """Beside the warehouse folder."""
        return parse_url(url)[1].parent

    def refresh(self, names: Iterable[str]) -> None:
        """Read each table's current version as a view of this session (a warehouse table's schema is known)."""
        for name in names:
            reader = self.session.read
            if name in KNOWN:
                reader = reader.schema(PySparkSchema.from_ibis(ibis.Schema.from_pyarrow(KNOWN[name])))
            reader.parquet(str(self.root / name)).createOrReplaceTempView(name)

    def rows(self, sql: str) -> list[tuple]:
        """Run Spark SQL; its rows."""
        return [tuple(r) for r in self.session.sql(sql).collect()]

    def execute(self, sql: str) -> None:
        """Run Spark SQL."""
        self.session.sql(sql).collect()

    def table_names(self) -> set[str]:
        """The table folders (not a version being written or swapped)."""
        return {p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
                and not p.name.endswith((NEW, OLD))}

    def tables_with_column(self, column: str) -> list[str]:
        """From each table's Parquet schema."""
        return sorted(t for t in self.table_names() if column in self.session.table(t).columns)

    def ensure(self, tables: Iterable[Table]) -> None:
        """Write an empty Parquet file with the table's schema for each table not there yet."""
        have = self.table_names()
        for t in tables:
            if t.name not in have:
                (self.root / f"{t.name}{NEW}").mkdir()
                pq.write_table(t.warehouse_schema().empty_table(), self.root / f"{t.name}{NEW}" / "part-0.parquet")
                swap(self.root, t.name)
                self.refresh([t.name])

    def drop(self, name: str) -> None:
        """Drop a temporary table of this session, or a table of the folder, if it exists."""
        if self.session.catalog.tableExists(name):
            self.session.catalog.dropTempView(name)
        if (self.root / name).is_dir() and name in self.table_names():
            shutil.rmtree(self.root / name)

    def _frame(self, obj: ir.Table | pa.Table) -> Any:
        """A Spark DataFrame of an expression or of Arrow rows."""
        if isinstance(obj, pa.Table):
            return self.session.createDataFrame(obj)
        self.con._run_pre_execute_hooks(obj)
        return self.session.sql(self.con.compile(obj))

    def temp_table(self, name: str, expr: ir.Table, clustered_by: str | None = None) -> ir.Table:
        """Compute the expression once (a local checkpoint, so later queries do not recompute it) as a view,
        unsorted."""
        self.drop(name)
        self._frame(expr).localCheckpoint(eager=True).createOrReplaceTempView(name)
        return self.con.table(name)

    def _write(self, name: str, frame: Any) -> None:
        """Write the table's next version and swap it in."""
        frame.write.mode("overwrite").parquet(str(self.root / f"{name}{NEW}"))
        swap(self.root, name)
        self.refresh([name])

    def replace_table(self, name: str, obj: ir.Table | pa.Table) -> ir.Table:
        """Write the new version beside the old and swap it in."""
        self._write(name, self._frame(obj))
        return self.con.table(name)

    def replace_rows(self, table: str, data: pa.Table, column: str, values: list[str]) -> None:
        """The stored rows of other values plus ``data``, written as the table's next version."""
        from pyspark.sql import functions as F

        new = self._frame(data)
        if table in self.table_names():
            kept = self.session.table(table).where(~F.col(column).isin(values))
            new = kept.unionByName(new)
        self._write(table, new)

    def batch(self) -> Batch:
        """Staging and copies of the changed tables in an in-process DuckDB, written back at commit."""
        return SparkBatch(self)


class SparkBatch(DuckDBBatch):
    """Into a Spark warehouse folder: the batch works on DuckDB copies of the tables it changes.

    Each stored table is a DuckDB view over its Parquet files until the batch first changes it; then it
    becomes a table in the staging database. At commit every changed table is written as its next version
    and swapped in. A file lock in the folder makes ingests take turns.
    """

    engine: SparkEngine

    def __init__(self, engine: SparkEngine) -> None:
        self._spill = tempfile.TemporaryDirectory(prefix="placewise-stage-")
        self.root = engine.root
        super().__init__(engine, duckdb.connect(config={"temp_directory": self._spill.name}))
        self.changed: set[str] = set()
        for name in self.tables:
            self.staging.execute(f"""CREATE VIEW main."{name}" AS SELECT * FROM
                                     read_parquet('{self.root / name}/*.parquet')""")

    def _lock(self) -> None:
        """Hold an exclusive lock on a file in the warehouse folder (a second ingest waits)."""
        self._lockfile: IO[bytes] = open(self.root / ".ingest.lock", "wb")  # noqa: SIM115 (held until close)
        fcntl.flock(self._lockfile, fcntl.LOCK_EX)

    def _unlock(self) -> None:
        """Release the lock."""
        fcntl.flock(self._lockfile, fcntl.LOCK_UN)
        self._lockfile.close()

    def _writable(self, name: str) -> None:
        """Turn a stored table's view into a table the batch can change."""
        if name in self.changed:
            return
        self.changed.add(name)
        if self.staging.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal",
                                [name]).fetchall()[0][0]:
            self.staging.execute(f'CREATE TABLE main."{name}__copy" AS SELECT * FROM main."{name}"')
            self.staging.execute(f'DROP VIEW main."{name}"')
            self.staging.execute(f'ALTER TABLE main."{name}__copy" RENAME TO "{name}"')

    def begin(self) -> None:
        """BEGIN TRANSACTION (in the staging database) and create the tables not stored yet."""
        self.staging.execute("BEGIN TRANSACTION")
        for t in (*TABLES, *BOOKKEEPING):
            if t.name not in self.tables:
                self.changed.add(t.name)
                self.staging.execute(create_table_sql(t))
        self.tables |= {t.name for t in (*TABLES, *BOOKKEEPING)}

    def load(self, t: Table, clean: str, replace: bool = True) -> Any:
        """As in DuckDB, on the table's copy."""
        self._writable(t.name)
        return super().load(t, clean, replace)

    def execute(self, sql: str, table: str) -> int:
        """As in DuckDB, on the table's copy."""
        self._writable(table)
        return super().execute(sql, table)

    def commit(self, bookkeeping: dict[str, str]) -> None:
        """Append the bookkeeping, write every changed table's next version, then swap them all in."""
        for name in bookkeeping:
            self._writable(name)
        super().commit(bookkeeping)
        for name in sorted(self.changed):
            folder = self.root / f"{name}{NEW}"
            folder.mkdir()
            self.staging.execute(f"""COPY main."{name}" TO '{folder / "part-0.parquet"}' (FORMAT parquet)""")
        last = {t.name for t in BOOKKEEPING}  # a stop part-way then leaves the batch unrecorded: a re-run reloads it
        for name in sorted(self.changed, key=lambda n: (n in last, n)):
            swap(self.root, name)
        self.engine.refresh(self.changed)

    def close(self) -> None:
        """Close the staging DuckDB, remove its spill folder and release the lock."""
        self.staging.close()
        self._spill.cleanup()
        super().close()
