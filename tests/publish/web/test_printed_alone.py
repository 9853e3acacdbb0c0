"""The web app reads which returned values were printed without their counts from the returns, as the reports do."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from placewise.publish.report import counts
from placewise.publish.web import pages, snapshot
from placewise.publish.web.app import create_app
from placewise.warehouse import connect


def test_a_share_its_return_printed_without_counts_has_no_count_in_the_web_app(web_warehouse, tmp_path,
                                                                               monkeypatch: pytest.MonkeyPatch):
    # The ICS's first cancer 31-day month is returned again, the share alone (both count columns empty), as
    # BLMK's 2020/21 dashboard printed Luton's 100%: the web app must not count it as the cases of the measurement.
    db = tmp_path / "wh.duckdb"
    shutil.copy(web_warehouse.db, db)
    con = connect(db)
    try:
        m = con.table("measurements")
        first = (m.filter((m.indicator_id == "cancer_31d") & (m.geography_type == "ics") & (m.breakdown == "none"))
                 .order_by("period_start").limit(1).to_pandas().iloc[0])
        start = pd.Timestamp(first.period_start).date()
        con.insert("aggregate_returns", pd.DataFrame({
            "period": [start], "org_code": [first.geography_code], "measure": ["cancer_31d"],
            "numerator": [None], "denominator": [None], "value": [first.value / 100]}))
    finally:
        con.disconnect()
    monkeypatch.setattr(snapshot, "_CACHE", {})
    app = create_app(str(db), store_url=str(tmp_path / "web.duckdb"), secure_cookies=False)
    try:
        w = app.state.web
        assert w.snapshot.alone["cancer_31d"] == frozenset({(first.geography_code, start)})
        rows = w.snapshot.reader.frame
        rows = rows[(rows.indicator_id == "cancer_31d") & (rows.geography_type == "ics") & (rows.breakdown == "none")]
        spec = pages._specs(w, rows)["cancer_31d"]
        got = counts(rows, spec)
        alone = (rows.period_start == start).to_numpy()
        assert alone.sum() == 1 and np.isnan(got[alone]).all()
        assert not np.isnan(got[~alone]).any(), "the other months keep the counts their returns gave"
    finally:
        app.state.web.warehouse.close()
        app.state.web.store.close()
