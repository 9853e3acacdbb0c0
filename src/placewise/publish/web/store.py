"""The web application's own tables (users, tokens, sessions, audit), apart from the read-only warehouse.

A DuckDB file (by default beside a DuckDB warehouse, ``NAME.web.duckdb``) or a PostgreSQL database
(by default the warehouse's own, through a connection pool). Statements use ``?`` placeholders.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from psycopg_pool import ConnectionPool

from placewise.warehouse.engines import engine_class
from placewise.warehouse.engines.base import redact
from placewise.warehouse.engines.duckdb import duckdb_open_error, duckdb_path

TABLES = (
    "CREATE TABLE IF NOT EXISTS web_users (username VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL, "
    "role VARCHAR NOT NULL, place VARCHAR, practice VARCHAR, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS web_tokens (token_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, "
    "label VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS web_sessions (session_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, "
    "csrf VARCHAR NOT NULL, expires_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS web_audit (\"at\" TIMESTAMP NOT NULL, who VARCHAR, role VARCHAR NOT NULL, "
    "action VARCHAR NOT NULL, target VARCHAR NOT NULL, outcome VARCHAR NOT NULL, detail VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS web_decisions (digest VARCHAR PRIMARY KEY, made_at TIMESTAMP NOT NULL, "
    "cells BYTEA NOT NULL)",
)

KEPT_DECISIONS = 50
"""How many disclosure decisions the store keeps (the latest made): the published one and each Place lead's, for
the measurements of the last few loads."""


class StoreError(RuntimeError):
    """The web store cannot be opened."""


def default_store_url(warehouse_url: str) -> str:
    """Beside a local warehouse (DuckDB file, Spark folder), ``NAME.web.duckdb``; in a server's, the same database."""
    engine = engine_class(warehouse_url)
    return warehouse_url if engine.server else str(engine.companion(warehouse_url, ".web.duckdb"))


class WebStore:
    """Serialised statements on one DuckDB connection, or pooled PostgreSQL connections."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._db: duckdb.DuckDBPyConnection | None = None
        if engine_class(url).server:
            try:
                self._pool = ConnectionPool(url, min_size=1, max_size=4, open=True, timeout=10)
                self._pool.wait(timeout=10)
            except Exception as e:  # psycopg_pool raises several types; the message says what failed
                raise StoreError(f"{redact(url)}: cannot open the web store: {redact(str(e))}") from None
        else:
            path = Path(duckdb_path(url))
            try:
                self._db = duckdb.connect(str(path))
            except duckdb.IOException as e:
                raise StoreError(duckdb_open_error(path, e)) from None
        try:
            for ddl in TABLES:
                self.run(ddl)
        except engine_class(url).errors as e:  # a read-only role or file: no store, said as such
            self.close()
            raise StoreError(f"{redact(url)}: cannot create the web store's tables: {redact(str(e))}") from None

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (committed at once) and return its rows, if any."""
        if self._pool is not None:
            with self._pool.connection() as con:
                cur = con.execute(sql.replace("?", "%s"), params)
                return cur.fetchall() if cur.description else []
        assert self._db is not None
        with self._lock:
            result = self._db.execute(sql, params)
            return result.fetchall() if result.description else []

    def kept_decision(self, digest: str) -> bytes | None:
        """The disclosure decision kept under ``digest`` (:func:`placewise.publish.disclosure.digest`), if any."""
        found = self.run("SELECT cells FROM web_decisions WHERE digest = ?", (digest,))
        return bytes(found[0][0]) if found else None

    def keep_decision(self, digest: str, cells: bytes) -> None:
        """Keep a disclosure decision (one row, so whole or not at all), and drop all but the latest
        :data:`KEPT_DECISIONS`."""
        self.run("INSERT INTO web_decisions VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                 (digest, datetime.now(UTC).replace(tzinfo=None), cells))
        self.run("DELETE FROM web_decisions WHERE digest NOT IN (SELECT digest FROM web_decisions "
                 f"ORDER BY made_at DESC LIMIT {KEPT_DECISIONS})")

    def close(self) -> None:
        """Close the connection or pool."""
        if self._pool is not None:
            self._pool.close()
        if self._db is not None:
            self._db.close()
