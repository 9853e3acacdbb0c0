"""Write a validated batch to the warehouse in one transaction: DuckDB directly, PostgreSQL by COPY.

Staging and validation always run in DuckDB: inside the warehouse file's own connection when the
warehouse is DuckDB, in an in-process DuckDB when it is PostgreSQL. Clean rows then go to the target
with the engine's bulk path: ``INSERT … SELECT`` in DuckDB, ``COPY … FROM STDIN`` (CSV from Arrow) in
PostgreSQL. Rows whose canonical key already exists in the warehouse are replaced (delete, then insert).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
from ibis.backends import BaseBackend

from placewise.canonical import ARROW_TYPES, PERSON_KEY, SQL_TYPES, TABLES, Table
from placewise.warehouse.connection import table_names
from placewise.warehouse.schema import BOOKKEEPING, create_table_sql

_COPY_BATCH_ROWS = 500_000


def warehouse_key(t: Table) -> tuple[str, ...]:
    """The table's key as warehouse columns (the NHS number becomes the person key)."""
    return tuple(PERSON_KEY if k == "nhs_number" else k for k in t.key)


@dataclass
class Written:
    """What one table's write did."""

    loaded: int
    replaced: int


Bookkeeping = Callable[[dict[str, Written]], dict[str, str]]


class Target:
    """Where a batch goes; subclasses know one engine."""

    staging: duckdb.DuckDBPyConnection

    def __init__(self, con: BaseBackend) -> None:
        self.con = con
        self.tables = table_names(con)

    def relation(self, table: str, columns: tuple[str, ...]) -> str | None:
        """A relation in the staging DuckDB holding ``columns`` of a warehouse table, or None if it is absent."""
        raise NotImplementedError

    def write(self, loads: list[tuple[Table, str]], bookkeeping: Bookkeeping) -> dict[str, Written]:
        """In one transaction: replace-then-insert each (table, clean relation), then append the bookkeeping.

        ``bookkeeping`` receives what was written and returns warehouse table -> staging relation to append.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release staging resources."""


class DuckDBTarget(Target):
    """A DuckDB warehouse file: staging lives in the same connection as temporary tables."""

    def __init__(self, con: BaseBackend) -> None:
        super().__init__(con)
        self.staging = con.con

    def relation(self, table: str, columns: tuple[str, ...]) -> str | None:
        """The warehouse table itself, read in place."""
        return f'main."{table}"' if table in self.tables else None

    def write(self, loads: list[tuple[Table, str]], bookkeeping: Bookkeeping) -> dict[str, Written]:
        """One DuckDB transaction."""
        raw = self.staging
        raw.execute("BEGIN TRANSACTION")
        try:
            for t in (*TABLES, *BOOKKEEPING):
                raw.execute(create_table_sql(t))
            out = {}
            for t, clean in loads:
                match = " AND ".join(f'w."{k}" = c."{k}"' for k in warehouse_key(t))
                replaced = raw.execute(f'DELETE FROM main."{t.name}" w USING {clean} c WHERE {match}').fetchone()[0]
                loaded = raw.execute(f'INSERT INTO main."{t.name}" SELECT * FROM {clean}').fetchone()[0]
                out[t.name] = Written(loaded, replaced)
            for name, relation in bookkeeping(out).items():
                raw.execute(f'INSERT INTO main."{name}" SELECT * FROM {relation}')
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        return out


class PostgresTarget(Target):
    """A PostgreSQL warehouse: staging in an in-process DuckDB, clean rows sent by COPY."""

    def __init__(self, con: BaseBackend) -> None:
        super().__init__(con)
        self._spill = tempfile.TemporaryDirectory(prefix="placewise-stage-")
        self.staging = duckdb.connect(config={"temp_directory": self._spill.name})

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
        buf.seek(0)
        data = pacsv.read_csv(buf, read_options=pacsv.ReadOptions(column_names=list(columns)),
                              convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                                                   quoted_strings_can_be_null=False)) \
            if buf.getbuffer().nbytes else schema.empty_table()
        name = f"wh_{table}"
        self.staging.register("_wh", data)
        self.staging.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _wh")
        self.staging.unregister("_wh")
        return name

    def _copy_in(self, cur: object, table: str, relation: str) -> None:
        """Stream a staging relation into a PostgreSQL table with COPY FROM STDIN (CSV made by Arrow)."""
        reader = self.staging.sql(f"SELECT * FROM {relation}").to_arrow_reader(_COPY_BATCH_ROWS)
        options = pacsv.WriteOptions(include_header=False)
        with cur.copy(f'COPY "{table}" FROM STDIN (FORMAT csv)') as cp:  # type: ignore[attr-defined]
            for batch in reader:
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, options)
                cp.write(buf.getvalue())

    def write(self, loads: list[tuple[Table, str]], bookkeeping: Bookkeeping) -> dict[str, Written]:
        """One PostgreSQL transaction: COPY into temporary tables, replace by key, insert."""
        pg = self.con.con
        out = {}
        with pg.transaction(), pg.cursor() as cur:
            for t in (*TABLES, *BOOKKEEPING):
                cur.execute(create_table_sql(t))
            for t, clean in loads:
                stage = f"stage_{t.name}"
                cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.dtype]}' for c in t.warehouse_columns())
                cur.execute(f'CREATE TEMP TABLE "{stage}" ({cols}) ON COMMIT DROP')
                self._copy_in(cur, stage, clean)
                match = " AND ".join(f'w."{k}" = c."{k}"' for k in warehouse_key(t))
                cur.execute(f'DELETE FROM "{t.name}" w USING "{stage}" c WHERE {match}')
                replaced = cur.rowcount
                cur.execute(f'INSERT INTO "{t.name}" SELECT * FROM "{stage}"')
                out[t.name] = Written(cur.rowcount, replaced)
            for name, relation in bookkeeping(out).items():
                self._copy_in(cur, name, relation)
        return out

    def close(self) -> None:
        """Close the staging DuckDB and remove its spill folder."""
        self.staging.close()
        self._spill.cleanup()


def target_for(con: BaseBackend) -> Target:
    """The writer for an open warehouse."""
    return PostgresTarget(con) if con.name == "postgres" else DuckDBTarget(con)

