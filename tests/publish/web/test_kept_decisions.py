"""The disclosure decisions are made once per measurements and kept in the web store: a second start reads them, and
a new load (or anything else the decision is made from) has them made again."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from placewise.profile import load_profile
from placewise.publish import disclosure
from placewise.publish.assembly import build_models
from placewise.publish.disclosure import PRIMARY, ReaderDecisions
from placewise.publish.web import snapshot
from placewise.publish.web.app import create_app
from placewise.publish.web.store import KEPT_DECISIONS, WebStore, default_store_url
from placewise.warehouse import connect


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each decision made (rather than read from the store), as it is made: ``published`` or ``place``; every start
    reads the warehouse afresh (no snapshot kept in the process)."""
    out: list[str] = []
    decide, for_known = disclosure.decide, ReaderDecisions.for_known

    def counted_decide(*args, **kwargs):
        out.append("published")
        return decide(*args, **kwargs)

    def counted_for_known(self, known):
        out.append("place")
        return for_known(self, known)

    monkeypatch.setattr(disclosure, "decide", counted_decide)
    monkeypatch.setattr(ReaderDecisions, "for_known", counted_for_known)
    monkeypatch.setattr(snapshot, "_CACHE", {})
    return out


def _start(db, store):
    """A server's start-up as ``placewise serve`` does it: the published decision, then every Place lead's."""
    snapshot._CACHE.clear()
    app = create_app(str(db), store_url=str(store), secure_cookies=False)
    app.state.web.snapshot.place_views()
    return app


def _views(app) -> dict[str, dict]:
    """Every Place lead's figures where they differ from the public's."""
    snap = app.state.web.snapshot
    return {p.code: snap._place_view(p.code) for p in snap.profile.ics.places}


def _close(app) -> None:
    app.state.web.warehouse.close()
    app.state.web.store.close()


def _new_load(db, frame: pd.DataFrame) -> pd.Series:
    """A new load: one Place's count of an indicator becomes 3 (as a new computation stamps it); that row before."""
    row = frame[(frame.geography_type == "place") & (frame.breakdown == "none") & (frame.numerator > 50)].iloc[0]
    con = connect(db)
    try:
        con.raw_sql(f"UPDATE measurements SET numerator = 3, computed_at = now() WHERE indicator_id = "
                    f"'{row.indicator_id}' AND period_end = DATE '{row.period_end}' AND geography_type = 'place' "
                    f"AND geography_code = '{row.geography_code}' AND breakdown = 'none'")
    finally:
        con.disconnect()
    return row


def test_a_second_start_reads_the_kept_decisions_and_a_new_load_has_them_made_again(web_warehouse, tmp_path, made):
    db, store = tmp_path / "wh.duckdb", tmp_path / "web.duckdb"
    shutil.copy(web_warehouse.db, db)
    places = len(load_profile().ics.places)
    first = _start(db, store)
    assert made == ["published"] + ["place"] * places
    decision, views = first.state.web.snapshot.reader.decision, _views(first)
    _close(first)

    made.clear()
    second = _start(db, store)
    assert made == [], "the same measurements: every decision read from the store, none made"
    kept = second.state.web.snapshot.reader.decision
    pd.testing.assert_frame_equal(kept.cells, decision.cells)
    assert kept.digest == decision.digest
    again = _views(second)
    assert again.keys() == views.keys()
    for place, view in views.items():
        assert again[place].keys() == view.keys()
        for indicator, (rows, columns) in view.items():
            assert (again[place][indicator][0] == rows).all()
            for c, v in columns.items():
                pd.testing.assert_series_equal(pd.Series(again[place][indicator][1][c]), pd.Series(v))

    row = _new_load(db, second.state.web.snapshot.reader.frame)
    made.clear()
    assert second.state.web.reload()
    assert made == ["published"]
    cells = second.state.web.snapshot.reader.decision.cells
    hit = cells[(cells.indicator_id == row.indicator_id) & (cells.period_end == row.period_end)
                & (cells.geography_type == "place") & (cells.geography_code == row.geography_code)
                & (cells.breakdown == "none")]
    assert hit.suppressed.tolist() == [True] and hit.reason.tolist() == [PRIMARY]
    second.state.web.snapshot.place_views()
    assert made == ["published"] + ["place"] * places
    _close(second)


def test_the_report_command_and_the_web_app_share_one_decision_per_load(web_warehouse, tmp_path, made):
    db = tmp_path / "wh.duckdb"
    shutil.copy(web_warehouse.db, db)
    shown = ["hypertension_treated_to_target"]  # the decision is made over every indicator, whichever are shown
    first = build_models(warehouse=str(db), indicators=shown)
    assert made == ["published"]
    made.clear()
    again = build_models(warehouse=str(db), indicators=shown)
    assert made == [], "a second report on the same measurements reads the kept decision"
    assert [m.pages for _, m in again] == [m.pages for _, m in first]
    app = _start(db, default_store_url(str(db)))  # the web app's store for this warehouse, as `placewise serve`
    assert "published" not in made, "the web app reads the decision the report command kept"
    frame = app.state.web.snapshot.reader.frame
    _close(app)

    _new_load(db, frame)
    made.clear()
    build_models(warehouse=str(db), indicators=shown)
    assert made == ["published"]


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path):
    """An empty web store on each engine (DuckDB; a fresh PostgreSQL database)."""
    s = WebStore(request.getfixturevalue("postgres_url") if request.param == "postgresql"
                 else str(tmp_path / "web.duckdb"))
    yield s
    s.close()


def test_the_store_keeps_a_decision_once_and_only_the_latest(store):
    assert store.kept_decision("a") is None
    store.keep_decision("a", b"\x00first\xff")
    store.keep_decision("a", b"second")  # two servers keeping the same decision: the first stays
    assert store.kept_decision("a") == b"\x00first\xff"
    for i in range(KEPT_DECISIONS):
        store.keep_decision(f"later {i}", b"x")
    assert store.kept_decision("a") is None
    assert store.kept_decision(f"later {KEPT_DECISIONS - 1}") == b"x"
    assert store.run("SELECT count(*) FROM web_decisions") == [(KEPT_DECISIONS,)]


@pytest.mark.postgres
def test_a_role_that_cannot_create_the_stores_tables_gets_a_store_error_and_the_report_its_own_decision(
        postgres_url):
    # A report run by a read-only role decides itself rather than fail (kept_decisions reads StoreError as no store).
    import psycopg

    from placewise.publish.assembly import kept_decisions
    from placewise.publish.web.store import StoreError

    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("CREATE ROLE reader LOGIN")
        con.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    reader = postgres_url.replace("placewise@", "reader@")
    with pytest.raises(StoreError, match="cannot create the web store's tables"):
        WebStore(reader)
    with kept_decisions(reader) as kept:
        assert kept is None
