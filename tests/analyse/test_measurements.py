"""Counts to measurements: values and intervals checked against hand-worked published methods."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from placewise.analyse.measurements import SCHEMA, _sorted_measurements, measurements
from placewise.measure import COUNTS_SCHEMA, load_catalogue
from placewise.profile import load_profile

Z = 1.959963984540054
END = date(2024, 3, 31)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(load_profile())


def counts(rows: list[dict]) -> pa.Table:
    """A counts table from partial rows (ICS, March 2024, no breakdown unless given)."""
    base = dict(period_start=date(2024, 3, 1), period_end=END, geography_type="ics", geography_code="QHG",
                breakdown="none", breakdown_group="All", standard_band=None, sum_squares=0.0, events=None,
                median=None)
    full = [{**base, **r} for r in rows]
    return pa.table({f.name: pa.array([r[f.name] for r in full], f.type) for f in COUNTS_SCHEMA})


def one(table: pa.Table, **where: object) -> dict:
    rows = [r for r in table.to_pylist() if all(r[k] == v for k, v in where.items())]
    assert len(rows) == 1, rows
    return rows[0]


def test_proportion_is_a_percentage_with_wilson_limits(catalogue):
    # Wilson (Newcombe 2000) for 4 of 8: centre (2x + z^2) / 2(n + z^2), half-width z sqrt(z^2 + 4x(1 - x/n)) / 2(n + z^2)
    out = measurements(counts([dict(indicator_id="hypertension_treated_to_target", numerator=4.0, denominator=8.0)]),
                       catalogue, datetime(2024, 4, 2, tzinfo=UTC))
    r = one(out)
    assert r["value"] == pytest.approx(50.0)
    assert r["lower"] == pytest.approx(21.5216062, rel=1e-7)
    assert r["upper"] == pytest.approx(78.4783938, rel=1e-7)
    assert r["computed_at"] == datetime(2024, 4, 2)
    assert out.schema == SCHEMA


def test_dsr_completes_the_esp_bands_and_uses_dobson_limits(catalogue):
    # Falls 65+: bands 65-69 (ESP 5500) 10 of 1,000 and 70-74 (5000) 20 of 800; bands 75+ absent (zero).
    # DSR = (5500*0.01 + 5000*0.025) / 19500 * 100,000 = 923.0769; Dobson with Byar limits on 30 events.
    rows = [dict(indicator_id="falls_admissions_65_dsr", standard_band=65, numerator=10.0, denominator=1000.0),
            dict(indicator_id="falls_admissions_65_dsr", standard_band=70, numerator=20.0, denominator=800.0)]
    r = one(measurements(counts(rows), catalogue, datetime.now(UTC)))
    assert (r["numerator"], r["denominator"]) == (30, 1800)
    assert r["value"] == pytest.approx(923.076923, rel=1e-8)
    assert r["lower"] == pytest.approx(622.153970, rel=1e-7)
    assert r["upper"] == pytest.approx(1318.480742, rel=1e-7)


def test_ratio_against_expected_uses_exact_poisson_below_ten(catalogue):
    # 1 observed against 0.12 expected: 833.3%; exact limits chi2(0.025; 2)/2 and chi2(0.975; 4)/2 over 0.12.
    r = one(measurements(counts([dict(indicator_id="dementia_diagnosis_rate", numerator=1.0, denominator=0.12)]),
                         catalogue, datetime.now(UTC)))
    assert r["value"] == pytest.approx(100 / 0.12)
    assert r["lower"] == pytest.approx(21.0981733, rel=1e-7)
    assert r["upper"] == pytest.approx(4643.03616, rel=1e-7)


def test_mean_uses_a_t_interval(catalogue):
    # Stays of 2 and 6 days: mean 4, sd 2.828427, se 2, t(0.975; 1) = 12.7062 -> 4 +/- 25.41241.
    r = one(measurements(counts([dict(indicator_id="los_emergency_mean", numerator=8.0, denominator=2.0,
                                      sum_squares=40.0)]), catalogue, datetime.now(UTC)))
    assert r["value"] == 4
    assert r["lower"] == pytest.approx(4 - 25.4124095, rel=1e-7)
    assert r["upper"] == pytest.approx(4 + 25.4124095, rel=1e-7)


def test_bed_days_get_dobsons_interval_from_their_squares_and_keep_them(catalogue):
    # Ten spells (five of 2 days, five of 4) over 2,000 people: T = 30, O = 10, V = 100; Byar's limits of 10 are
    # 4.787450 and 18.391459, so 30 + sqrt(10) (4.787450 - 10) = 13.51647 and 30 + sqrt(10) (18.391459 - 10) =
    # 56.53612 bed days, per 1,000 of 2,000: 15 (6.758235 to 28.26806). As Poisson "events" they would get 10.1 to 21.4.
    r = one(measurements(counts([dict(indicator_id="heart_failure_bed_days", numerator=30.0, denominator=2000.0,
                                      sum_squares=100.0, events=10.0)]), catalogue, datetime.now(UTC)))
    assert r["value"] == pytest.approx(15.0)
    assert r["lower"] == pytest.approx(6.758235, abs=5e-6)
    assert r["upper"] == pytest.approx(28.26806, abs=5e-5)
    assert (r["events"], r["sum_squares"]) == (10.0, 100.0)


def test_median_and_count(catalogue):
    out = measurements(counts([dict(indicator_id="los_emergency_median", numerator=30.0, denominator=7.0,
                                    median=3.0),
                               dict(indicator_id="emergency_admissions_count", numerator=0.0, denominator=0.0)]),
                       catalogue, datetime.now(UTC))
    med = one(out, indicator_id="los_emergency_median")
    assert (med["value"], med["lower"], med["upper"]) == (3.0, None, None)
    cnt = one(out, indicator_id="emergency_admissions_count")
    assert cnt["value"] == 0 and cnt["lower"] == 0
    assert cnt["upper"] == pytest.approx(-math.log(0.025), rel=1e-9)   # exact upper limit for 0 events


def test_no_denominator_gives_no_value(catalogue):
    r = one(measurements(counts([dict(indicator_id="gp_dna_rate", numerator=0.0, denominator=0.0)]), catalogue,
                         datetime.now(UTC)))
    assert (r["value"], r["lower"], r["upper"]) == (None, None, None)


def test_imd_gap_for_the_age_at_first_long_term_condition(catalogue):
    # Quintile 1: ages 50 and 54 (mean 52, se 2); quintile 5: ages 60 and 64 (mean 62, se 2).
    # Gap 5 minus 1 = 10, normal interval 10 +/- 1.96 sqrt(2^2 + 2^2) = 10 +/- 5.543768.
    rows = [dict(indicator_id="first_ltc_age_mean", breakdown="imd_quintile", breakdown_group="1", numerator=104.0,
                 denominator=2.0, sum_squares=50.0**2 + 54.0**2),
            dict(indicator_id="first_ltc_age_mean", breakdown="imd_quintile", breakdown_group="5", numerator=124.0,
                 denominator=2.0, sum_squares=60.0**2 + 64.0**2)]
    r = one(measurements(counts(rows), catalogue, datetime.now(UTC)), breakdown="imd_quintile_gap")
    assert r["breakdown_group"] == "5 minus 1"
    assert r["value"] == pytest.approx(10)
    assert r["lower"] == pytest.approx(10 - Z * math.sqrt(8), rel=1e-9)
    assert r["numerator"] is None


def test_a_dsrs_measurements_do_not_depend_on_the_order_of_its_counts(catalogue):
    """``measure_all`` leaves a DSR's counts unsorted (pandas sorts its result): the same rows, in the same order and
    to the last bit, as from counts sorted by key."""
    rows = [dict(indicator_id="falls_admissions_65_dsr", geography_type=t, geography_code=g, standard_band=b,
                 numerator=float(n), denominator=float(d))
            for t, g, b, n, d in [("ics", "QHG", 65, 10, 1000), ("ics", "QHG", 70, 20, 800), ("ics", "QHG", 85, 7, 90),
                                  ("practice", "E81001", 65, 4, 300), ("practice", "E81001", 75, 9, 250),
                                  ("practice", "E81002", 70, 13, 410), ("practice", "E81002", 90, 2, 15)]]
    stamp = datetime(2024, 4, 2, tzinfo=UTC)
    unsorted = _sorted_measurements(catalogue.indicator("falls_admissions_65_dsr"), counts(rows[::-1]),
                                    stamp.replace(tzinfo=None))
    assert unsorted.equals(measurements(counts(rows), catalogue, stamp))
    assert unsorted.column("geography_code").to_pylist() == ["QHG", "E81001", "E81002"]


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [0, 2, 1, 3]], ids=["indicators together", "indicators interleaved"])
def test_each_indicators_rows_are_its_own_whether_or_not_they_lie_together(catalogue, order):
    """Counts grouped by indicator (as ``compute`` gives them) are taken as slices, others by filter: the same
    measurements either way, by indicator id and within an indicator in the counts' order."""
    rows = [dict(indicator_id="hypertension_treated_to_target", geography_code="QHG", numerator=4.0, denominator=8.0),
            dict(indicator_id="hypertension_treated_to_target", geography_code="Z1", numerator=1.0, denominator=2.0),
            dict(indicator_id="diabetes_hba1c_58", geography_code="QHG", numerator=3.0, denominator=4.0),
            dict(indicator_id="diabetes_hba1c_58", geography_code="Z1", numerator=0.0, denominator=0.0)]
    out = measurements(counts([rows[i] for i in order]), catalogue, datetime(2024, 4, 2, tzinfo=UTC))
    assert [(r["indicator_id"], r["geography_code"], r["numerator"], r["value"]) for r in out.to_pylist()] == [
        ("diabetes_hba1c_58", "QHG", 3.0, 75.0), ("diabetes_hba1c_58", "Z1", 0.0, None),
        ("hypertension_treated_to_target", "QHG", 4.0, 50.0), ("hypertension_treated_to_target", "Z1", 1.0, 50.0)]
