"""A small demo warehouse built once per session, the web application over it, a client and a live server.

The warehouse: the synthetic BLMK at scale 0.005 (seed 1), ingested with an identity store, every
indicator measured over twelve months (April 2024 to March 2025), PHM tables and every worklist.
Users: one per role (:mod:`placewise.publish.web.demo`), password ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from placewise.analyse.measurements import measure_all
from placewise.ingest.load import ingest
from placewise.measure import ReportingRange
from placewise.profile import load_profile
from placewise.publish.web.app import create_app
from placewise.publish.web.auth import Auth
from placewise.publish.web.demo import DEMO_PASSWORD, DemoUser, add_demo_users, build_worklists
from placewise.publish.web.store import WebStore
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect
from placewise.warehouse.engines import engine_for
from placewise.warehouse.identity import KEY_ENV, STORE_ENV, new_key

SCALE, SEED = 0.005, 1
MONTHS = ReportingRange(date(2024, 4, 1), date(2025, 3, 31))
KEY = b"placewise-web-tests-key"


@dataclass(frozen=True)
class WebWarehouse:
    """The session's warehouse, web store and identity store, and the demo users' scope."""

    db: str
    store: str
    identity: str
    place: str
    practice: str
    users: tuple[DemoUser, ...]


@pytest.fixture(scope="session")
def web_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebWarehouse]:
    """Build the demo warehouse once (about a minute on a quiet machine) with its identity store and users."""
    root = tmp_path_factory.mktemp("web")
    profile = load_profile()
    saved = {k: os.environ.get(k) for k in (STORE_ENV, KEY_ENV)}
    os.environ[STORE_ENV], os.environ[KEY_ENV] = str(root / "identity.duckdb"), new_key()
    generate(profile, scale=SCALE, seed=SEED, out=root / "data")
    db = root / "warehouse.duckdb"
    ingest(root / "data", db, KEY)
    con = connect(db)
    try:
        measure_all(con, profile, periods_range=MONTHS)
        practice, place = build_worklists(con, profile)
    finally:
        con.disconnect()
    store = WebStore(str(root / "web.duckdb"))
    users = add_demo_users(Auth(store), place, practice)
    store.close()
    yield WebWarehouse(str(db), str(root / "web.duckdb"), str(root / "identity.duckdb"), place, practice,
                       tuple(users))
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def web_app(web_warehouse: WebWarehouse) -> FastAPI:
    """The application over the session's warehouse (cookies not Secure: the client speaks plain HTTP)."""
    return create_app(web_warehouse.db, store_url=web_warehouse.store, secure_cookies=False)


@pytest.fixture(scope="session")
def pg_web_app(web_warehouse: WebWarehouse, postgres_server: str) -> Iterator[FastAPI]:
    """The application over a PostgreSQL copy of the session's warehouse (every table), with the demo users in the
    same database."""
    import duckdb
    import psycopg

    name = f"web{time.time_ns()}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{postgres_server}/{name}"
    source, target = duckdb.connect(web_warehouse.db, read_only=True), connect(url)
    try:
        for (table,) in source.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                                       "AND table_type = 'BASE TABLE'").fetchall():
            engine_for(target).replace_table(table, source.table(table).fetch_arrow_table())
    finally:
        source.close()
        target.disconnect()
    store = WebStore(url)
    add_demo_users(Auth(store), web_warehouse.place, web_warehouse.practice)
    store.close()
    app = create_app(url, secure_cookies=False)
    yield app
    app.state.web.warehouse.close()
    app.state.web.store.close()


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A fresh client of the application over the session's warehouse on each engine (DuckDB, PostgreSQL)."""
    with TestClient(request.getfixturevalue("web_app" if request.param == "duckdb" else "pg_web_app")) as c:
        yield c


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    """A fresh client (no cookies) of the application."""
    with TestClient(web_app) as c:
        yield c


LogIn = Callable[[TestClient, str], str]


@pytest.fixture
def login(web_warehouse: WebWarehouse) -> LogIn:
    """Log a client in as the demo user of a role; returns the session's CSRF token."""
    def log_in(client: TestClient, role: str) -> str:
        user = next(u for u in web_warehouse.users if u.role == role)
        r = client.post("/auth/login", json={"username": user.username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        return r.json()["csrf_token"]
    return log_in


def _free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_server(web_app: FastAPI) -> Iterator[str]:
    """The application served by uvicorn on loopback for the session; its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)

