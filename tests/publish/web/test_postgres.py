"""The application on a PostgreSQL warehouse: the snapshot, the disclosure by role, and the web store with its
sessions in the same database, through connection pools."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from placewise.analyse.measurements import measurements, write_measurements
from placewise.measure import COUNTS_SCHEMA, load_catalogue
from placewise.profile import load_profile
from placewise.publish.web.app import create_app
from placewise.warehouse import connect
from placewise.warehouse import ensure_tables

pytestmark = pytest.mark.postgres
INDICATOR = "hypertension_treated_to_target"
PLACES = {"E06000055": (700, 1000), "E06000056": (650, 900), "E06000032": (3, 12), "E06000042": (800, 1100)}
"""Numerator and denominator by Place in one month: Luton's 3 of 12 is a small count."""


def _row(geo: str, code: str, num: float, den: float) -> dict:
    """One counts row in the engine's schema, for March 2025."""
    return {"indicator_id": INDICATOR, "period_start": date(2025, 3, 1), "period_end": date(2025, 3, 31),
            "geography_type": geo, "geography_code": code, "breakdown": "none", "breakdown_group": "All",
            "standard_band": None, "numerator": num, "denominator": den, "sum_squares": None, "median": None}


@pytest.fixture
def pg_app(postgres_url: str):
    """A PostgreSQL warehouse with one month of one indicator by Place, and the application over it."""
    con = connect(postgres_url)
    ensure_tables(con)
    counts = [_row("place", c, n, d) for c, (n, d) in PLACES.items()]
    counts.append(_row("ics", "QHG", sum(n for n, _ in PLACES.values()), sum(d for _, d in PLACES.values())))
    table = measurements(pa.Table.from_pylist(counts, schema=COUNTS_SCHEMA), load_catalogue(load_profile()),
                         datetime(2025, 4, 2, tzinfo=UTC))
    write_measurements(con, table, [INDICATOR])
    con.disconnect()
    app = create_app(postgres_url, secure_cookies=False)
    app.state.web.auth.add_user("pg.analyst", "a-long-password", "analyst")
    yield app
    app.state.web.warehouse.close()
    app.state.web.store.close()


def test_disclosure_by_role_and_sessions_on_postgres(pg_app) -> None:
    with TestClient(pg_app) as client:
        rows = {r["geography_code"]: r for r in client.get(f"/api/v1/indicators/{INDICATOR}/data",
                                                           params={"level": "place"}).json()["rows"]}
        assert rows["E06000032"]["suppressed"] and rows["E06000032"]["numerator"] is None
        assert rows["E06000032"]["suppression_reason"] == "small count"
        hidden = [c for c, r in rows.items() if r["suppressed"]]
        assert len(hidden) >= 2, "a lone hidden Place could be recovered from the ICS total"
        r = client.post("/auth/login", json={"username": "pg.analyst", "password": "a-long-password"})
        assert r.status_code == 200
        rows = {r["geography_code"]: r for r in client.get(f"/api/v1/indicators/{INDICATOR}/data",
                                                           params={"level": "place"}).json()["rows"]}
        assert rows["E06000032"]["numerator"] == 3 and rows["E06000032"]["denominator"] == 12
        assert client.get("/api/v1/me").json()["username"] == "pg.analyst"
