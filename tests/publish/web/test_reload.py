"""A load while the server runs: the server keeps serving, and picks up the new measurements when told to."""

from __future__ import annotations

import shutil
from datetime import date

import pandas as pd
from fastapi.testclient import TestClient

from placewise.analyse.measurements import measure_all
from placewise.measure import ReportingRange
from placewise.profile import load_profile
from placewise.publish.web.app import create_app
from placewise.warehouse import connect

INDICATOR = "hypertension_treated_to_target"


def _ends(client: TestClient) -> list[str]:
    """The ICS's period ends of the indicator as the API serves them."""
    r = client.get(f"/api/v1/indicators/{INDICATOR}/data", params={"level": "ics"})
    assert r.status_code == 200, r.text
    return sorted(pd.DataFrame(r.json()["rows"]).period_end)


def test_a_new_load_is_served_after_an_administrator_reloads(web_warehouse, login, tmp_path):
    db, store = tmp_path / "wh.duckdb", tmp_path / "web.duckdb"
    shutil.copy(web_warehouse.db, db)
    shutil.copy(web_warehouse.store, store)
    app = create_app(str(db), store_url=str(store), secure_cookies=False)
    with TestClient(app) as admin, TestClient(app) as public:
        csrf = {"X-CSRF-Token": login(admin, "admin")}
        before = _ends(public)
        assert before[-1] == "2025-03-31"
        page = public.get("/explore", params={"indicator": INDICATOR, "level": "ics"}).text
        # A load beside the running server: the indicator measured again for April to June 2025.
        con = connect(db)
        try:
            measure_all(con, load_profile(), periods_range=ReportingRange(date(2025, 4, 1), date(2025, 6, 30)),
                        indicators=[INDICATOR])
        finally:
            con.disconnect()
        assert _ends(public) == before, "the server serves the snapshot it read until it is reloaded"
        assert public.post("/api/v1/admin/reload").status_code == 401
        r = admin.post("/api/v1/admin/reload", headers=csrf)
        assert r.status_code == 200, r.text
        assert r.json()["reloaded"] is True
        assert _ends(public) == ["2025-04-30", "2025-05-31", "2025-06-30"]
        assert "Jun 2025" in public.get("/explore", params={"indicator": INDICATOR, "level": "ics"}).text
        assert "Jun 2025" not in page
        again = admin.post("/api/v1/admin/reload", headers=csrf)
        assert again.json()["reloaded"] is False
        audited = [a for a in admin.get("/api/v1/admin/audit").json() if a["action"] == "reload"]
        assert [a["detail"].split(":")[0] for a in audited] == ["unchanged", "new"]
