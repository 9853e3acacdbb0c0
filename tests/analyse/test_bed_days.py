"""Heart failure bed days per 1,000: hand-built spells counted and measured on every engine, the interval worked by hand
from Dobson's method for a sum of values over events (Dobson et al., Stat Med 1991;10:457-462)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import pytest

from placewise.analyse.measurements import measurements
from placewise.measure import ReportingRange, compute, load_catalogue
from placewise.measure.patients import load_patients, parse_patients
from placewise.profile import load_profile

PROFILE = load_profile()
CATALOGUE = load_catalogue(PROFILE)
QUARTER = ReportingRange(date(2024, 1, 1), date(2024, 3, 31))
HF = "icd10_heart_failure"


def spell(admitted: str, discharged: str) -> dict:
    """A heart failure spell."""
    return {"admitted": admitted, "discharged": discharged, "diagnosis": HF}


def patients() -> dict:
    """1,000 people: three with a spell of 1, 2 and 10 days, one with a same-day spell (0 days), one whose spell ended
    the day before the quarter; the rest none."""
    with_spells = [("one", [spell("2024-01-10", "2024-01-11")]), ("two", [spell("2024-02-01", "2024-02-03")]),
                   ("ten", [spell("2024-03-21", "2024-03-31")]), ("same_day", [spell("2024-02-05", "2024-02-05")]),
                   ("before", [spell("2023-12-01", "2023-12-31")])]
    people = [{"id": who, "born": "1940-01", "spells": s} for who, s in with_spells]
    people += [{"id": f"p{i}", "born": "1960-06"} for i in range(1000 - len(people))]
    return {"patients": people}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def con(request: pytest.FixtureRequest) -> ibis.BaseBackend:
    """The 1,000 people in a warehouse on the engine under test."""
    c = ibis.duckdb.connect() if request.param == "duckdb" else ibis.connect(request.getfixturevalue("postgres_url"))
    load_patients(c, parse_patients(patients(), "bed days"), PROFILE)
    return c


def test_bed_days_carry_their_events_and_squares_and_get_dobsons_interval(con):
    counts = compute(con, CATALOGUE, periods_range=QUARTER, indicators=["heart_failure_bed_days"])
    out = measurements(counts, CATALOGUE, datetime.now(UTC)).to_pandas()
    ics = out[(out.geography_type == "ics") & (out.breakdown == "none") & (out.period_end == date(2024, 3, 31))]
    assert len(ics) == 1
    r = ics.iloc[0]
    # T = 1 + 2 + 10 = 13 bed days (the same-day spell adds 0 and is no event with a value); O = 3; V = 105.
    assert (r.numerator, r.denominator, r.events, r.sum_squares) == (13, 1000, 3, 105)
    # Per 1,000: 13; Dobson: 13 + sqrt(35) (0.618672 - 3) < 0 -> 0, and 13 + sqrt(35) (8.767273 - 3) = 47.11965
    # (test_statistics_rates.py works the same figures).
    assert r.value == pytest.approx(13.0, rel=1e-12)
    assert r.lower == 0.0
    assert r.upper == pytest.approx(47.11965, abs=5e-5)


def test_other_indicators_carry_no_events_or_squares(con):
    counts = compute(con, CATALOGUE, periods_range=QUARTER, indicators=["heart_failure_admissions"])
    out = measurements(counts, CATALOGUE, datetime.now(UTC)).to_pandas()
    assert len(out) and out.events.isna().all() and out.sum_squares.isna().all()
