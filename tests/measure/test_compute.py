"""Counts for hand-made warehouses, checked against values worked out by hand (see scenario.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from definitions import described, parsed
from measure_builder import Warehouse
from scenario import code, scenario

from placewise.measure import COUNTS_SCHEMA, ReportingRange, compute, load_catalogue
from placewise.measure.catalogue import Indicator
from placewise.measure.compile import _months_before, _source, catalogue_event_reads
from placewise.measure import computation
from placewise.measure.computation import CELLS_TABLE, key_groups, shared_keys, sort_by_keys
from placewise.measure.periods import periods
from placewise.measure.trial import trace
from placewise.profile import load_profile
from placewise.warehouse.engines import engine_class, engine_for
from placewise.warehouse.engines.duckdb import SCRATCH, DuckDBEngine

Q4 = ReportingRange(date(2024, 1, 1), date(2024, 3, 31))
FY = ReportingRange(date(2023, 4, 1), date(2024, 3, 31))
MAR, FEB, JAN = date(2024, 3, 31), date(2024, 2, 29), date(2024, 1, 31)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(load_profile())


@pytest.fixture(scope="module")
def counts(catalogue) -> pd.DataFrame:
    """Every bundled indicator over January-March 2024 on the scenario in DuckDB."""
    con = scenario().load(ibis.duckdb.connect())
    return compute(con, catalogue, periods_range=Q4).to_pandas()


def pick(df: pd.DataFrame, ind: str, end: date, geo: str = "ics", code: str = "QHG", breakdown: str = "none",
         group: str = "All", band: int | None = None) -> tuple[float, float]:
    """(numerator, denominator) of one row; fails unless exactly one row matches."""
    m = df[(df.indicator_id == ind) & (df.period_end == end) & (df.geography_type == geo)
           & (df.geography_code == code) & (df.breakdown == breakdown) & (df.breakdown_group == group)]
    m = m[m.standard_band.isna()] if band is None else m[m.standard_band == band]
    assert len(m) == 1, f"{len(m)} rows for {ind} {end} {geo} {code} {breakdown} {group}"
    return float(m.numerator.iloc[0]), float(m.denominator.iloc[0])


def test_counts_have_the_documented_schema(counts):
    assert list(counts.columns) == COUNTS_SCHEMA.names


def test_hypertension_to_target_applies_nice_thresholds_by_age_and_the_latest_lowest_reading(counts):
    # March: register p1 p2 p3 p4 p5 p9 p10 p11 (p6 died, p7 left); in target p1 (<140/90, 73),
    # p2 (145/85 but 84), p5 (lowest of two readings that day, 135), p10.
    assert pick(counts, "hypertension_treated_to_target", MAR) == (4, 8)
    # February: p6 alive and in target; p5 and p10's readings are in March; p9 not yet diagnosed.
    assert pick(counts, "hypertension_treated_to_target", FEB) == (3, 8)


def test_geographies_follow_registration_at_the_period_end(counts):
    ind = "hypertension_treated_to_target"
    assert pick(counts, ind, MAR, "practice", "P1") == (3, 6)
    assert pick(counts, ind, MAR, "practice", "P2") == (0, 1)     # p11 moved to P2 in February
    # January: p1-p7 and p11 (registered with P1 to 31 January inclusive); in target p2 and p6 only.
    assert pick(counts, ind, JAN, "practice", "P1") == (2, 8)
    assert pick(counts, ind, MAR, "pcn", "N1") == (3, 7)
    assert pick(counts, ind, MAR, "place", "E06000032") == (1, 1)
    assert pick(counts, ind, MAR, "care_alliance", "BCA") == (4, 8)
    assert pick(counts, ind, MAR, "legacy_ccg", "06F") == (3, 7)
    assert pick(counts, ind, MAR, "legacy_ccg", "06P") == (1, 1)
    none_for_mk = counts[(counts.geography_code == "MKCA")]
    assert none_for_mk.empty


def test_breakdowns_split_the_same_cohort(counts):
    ind = "hypertension_treated_to_target"
    assert pick(counts, ind, MAR, breakdown="age_band", group="45-64") == (2, 6)   # p3 p4 p5 p9 p10 p11; p5 p10
    assert pick(counts, ind, MAR, breakdown="age_band", group="65-74") == (1, 1)
    assert pick(counts, ind, MAR, breakdown="age_band", group="75-84") == (1, 1)
    assert pick(counts, ind, MAR, breakdown="imd_quintile", group="2") == (1, 1)   # p10 in an IMD decile 4 LSOA
    assert pick(counts, ind, MAR, breakdown="sex", group="male") == (1, 1)
    assert pick(counts, ind, MAR, breakdown="ethnic_group", group="White") == (4, 8)


def test_a_breakdown_by_two_attributes_splits_each_single_breakdown(counts):
    # March: the register's seven women all live in IMD quintile 1 (3 in target); p10, the one man, in quintile 2.
    ind = "hypertension_treated_to_target"
    assert pick(counts, ind, MAR, breakdown="sex_by_imd_quintile", group="female|1") == (3, 7)
    assert pick(counts, ind, MAR, breakdown="sex_by_imd_quintile", group="male|2") == (1, 1)
    assert pick(counts, ind, MAR, breakdown="ethnic_group_by_imd_quintile", group="White|2") == (1, 1)
    rows = counts[(counts.indicator_id == ind) & (counts.period_end == MAR) & (counts.geography_type == "practice")]
    for cross, (first, second) in (("sex_by_imd_quintile", ("sex", "imd_quintile")),
                                   ("ethnic_group_by_imd_quintile", ("ethnic_group", "imd_quintile"))):
        c = rows[rows.breakdown == cross]
        parts = c.breakdown_group.str.split("|", expand=True)
        for k, single in enumerate((first, second)):
            summed = c.groupby([c.geography_code, parts[k]])[["numerator", "denominator"]].sum()
            own = rows[rows.breakdown == single].set_index(["geography_code", "breakdown_group"])
            summed.index.names = own.index.names
            assert summed.equals(own[["numerator", "denominator"]].loc[summed.index]), (cross, single)


def test_ae_four_hours_counts_to_240_minutes_by_provider_site_and_registration(counts):
    assert pick(counts, "ae_4hr_type1", MAR, "provider", "RC9") == (1, 2)   # 240 in, 241 out
    assert pick(counts, "ae_4hr_type1", MAR, "provider", "RD8") == (2, 2)   # includes the unregistered visitor
    assert pick(counts, "ae_4hr_type1", MAR, "site", "RD816") == (2, 2)
    assert pick(counts, "ae_4hr_type1", MAR) == (2, 3)                      # the visitor is not in the ICS
    assert pick(counts, "ae_4hr_all", MAR) == (3, 4)
    assert pick(counts, "ae_4hr_all", MAR, "provider", "RC9") == (2, 3)


def test_published_returns_sum_by_provider_and_system(counts):
    assert pick(counts, "ae_4hr_type1_published", MAR, "provider", "RC9") == (90, 100)
    assert pick(counts, "ae_4hr_type1_published", MAR) == (170, 200)
    assert counts[(counts.indicator_id == "ae_4hr_type1_published") & (counts.period_end == JAN)].empty


def test_dsr_counts_by_esp_band_at_the_period_end(counts):
    # Rolling year to March: p1's two emergency admissions, p1 the only person aged 70-74.
    assert pick(counts, "emergency_admissions_dsr", MAR, band=70) == (2, 1)
    # 60-64: p3 p4 p5 p8 p9 (p6 died, p7 left); no emergency admissions.
    assert pick(counts, "emergency_admissions_dsr", MAR, band=60) == (0, 5)


def _rolling_warehouse() -> Warehouse:
    """Emergency admissions in months 1-13 (January 2024 to January 2025) and the day before month 1, of people
    whose ESP band moves up within the year, or at the top band does not."""
    w = Warehouse()
    a = w.person("a", born=(1980, 7))                   # 44 throughout: band 40
    w.spell(a, date(2023, 12, 31), date(2024, 1, 2))    # the day before month 1: in neither year
    for month in range(1, 14):                          # k admissions in month k, on its first or last day
        first = date(2023 + (month + 11) // 12, (month - 1) % 12 + 1, 1)
        day = first if month % 2 else date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(1)
        for _ in range(month):
            w.spell(a, day, day)
    b = w.person("b", born=(1959, 6))                   # 64 until June 2024, then 65: band 60, then 65
    for admitted in (date(2024, 1, 1), date(2024, 5, 31), date(2024, 7, 1)):
        w.spell(b, admitted, admitted)
    c = w.person("c", born=(1934, 3))                   # 89 until March 2024, then 90: band 85, then the top, 90
    d = w.person("d", born=(1929, 3))                   # 94, then 95: band 90 (90 and over) throughout
    for who in (c, d):
        w.spell(who, date(2024, 2, 29), date(2024, 3, 1))
    return w


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_rolling_year_adds_up_its_months_by_esp_band_at_its_end(catalogue, engine, request):
    """A rolling 12 months' emergency admissions are those of its twelve months, first and last days included, each
    in the ESP band of the person's age at the period end (OHID's DSR, ESP 2013), not at admission: the years to
    December 2024 (months 1-12) and to January 2025 (months 2-13), worked by hand."""
    con = ibis.duckdb.connect() if engine == "duckdb" else ibis.connect(request.getfixturevalue("postgres_url"))
    rng = ReportingRange(date(2024, 12, 1), date(2025, 1, 31))
    df = compute(_rolling_warehouse().load(con), catalogue, periods_range=rng,
                 indicators=["emergency_admissions_dsr"]).to_pandas()
    dec, jan = date(2024, 12, 31), date(2025, 1, 31)
    assert pick(df, "emergency_admissions_dsr", dec, band=40) == (sum(range(1, 13)), 1)   # months 1-12
    assert pick(df, "emergency_admissions_dsr", jan, band=40) == (sum(range(2, 14)), 1)   # months 2-13
    assert pick(df, "emergency_admissions_dsr", dec, band=65) == (3, 1)     # b is 65 at both ends, 64 at two admissions
    assert pick(df, "emergency_admissions_dsr", jan, band=65) == (2, 1)     # January 2024's is not in this year
    assert pick(df, "emergency_admissions_dsr", dec, band=90) == (2, 2)     # c 90 by the end, d over 90
    assert pick(df, "emergency_admissions_dsr", jan, band=90) == (2, 2)
    assert set(df[(df.geography_type == "ics") & (df.breakdown == "none")].standard_band) == {40, 65, 90}


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_period_start_worked_out_from_its_end_reads_back_as_a_date(engine, request, tmp_path):
    """The period's start worked out again from its end once summed (``_months_before``) is the first of the month 0,
    2 and 11 months before the end's, across a year's turn, and reads back through the engine's typed read as a date:
    PostgreSQL's month truncation less an interval is a timestamp, which that read refused."""
    url = f"duckdb://{tmp_path / 'w.duckdb'}" if engine == "duckdb" else request.getfixturevalue("postgres_url")
    eng = engine_for(engine_class(url).open(url))
    t = ibis.memtable({"end": [date(2025, 1, 31), date(2025, 3, 31), date(2024, 12, 31)]}).cast({"end": "date"})
    expr = t.select(b0=_months_before(t.end, 0), b2=_months_before(t.end, 2), b11=_months_before(t.end, 11))
    got = eng.arrow_of(expr, eng.compile(expr)).to_pydict()
    assert got == {"b0": [date(2025, 1, 1), date(2025, 3, 1), date(2024, 12, 1)],
                   "b2": [date(2024, 11, 1), date(2025, 1, 1), date(2024, 10, 1)],
                   "b11": [date(2024, 2, 1), date(2024, 4, 1), date(2024, 1, 1)]}


def test_readmissions_and_length_of_stay(counts):
    # The data end in March, so March's discharges cannot be followed for 30 days: no March figure.
    assert not ((counts.indicator_id == "readmissions_30_day") & (counts.period_end == MAR)).any()
    assert pick(counts, "readmissions_30_day", JAN) == (0, 1)   # p3's elective, not readmitted
    los = counts[(counts.indicator_id == "los_emergency_mean") & (counts.period_end == MAR)
                 & (counts.geography_type == "ics") & (counts.breakdown == "none")]
    assert los[["numerator", "denominator", "sum_squares"]].iloc[0].tolist() == [8, 2, 40]   # 2 and 6 days
    med = counts[(counts.indicator_id == "los_emergency_median") & (counts.period_end == MAR)
                 & (counts.geography_type == "provider") & (counts.breakdown == "none")]
    assert med["median"].tolist() == [4.0]


def test_reliever_over_use_needs_six_issues_in_the_twelve_months(counts):
    assert pick(counts, "asthma_saba_over_reliance", MAR) == (1, 2)   # p13's March 2023 issue is out of window
    assert pick(counts, "asthma_saba_over_reliance", JAN) == (2, 2)


def test_dementia_expected_from_age_and_sex_rates(counts):
    num, den = pick(counts, "dementia_diagnosis_rate", MAR)
    assert num == 1
    assert den == pytest.approx(0.025 + 0.095, abs=1e-12)   # p1 female 73: 2.5%; p2 female 84: 9.5%


def test_persons_counted_once_from_events(counts):
    # Quarter January-March 2024: p10 (two contacts) and p3; adults registered at 31 March.
    num, den = pick(counts, "talking_therapies_access", MAR)
    assert num == 2
    assert den == 11   # p1-p5 and p8-p13 (p6 died, p7 and u1 left)


def test_first_long_term_condition_age(catalogue):
    con = scenario().load(ibis.duckdb.connect())
    df = compute(con, catalogue, periods_range=FY, indicators=["first_ltc_age_mean"]).to_pandas()
    end = date(2024, 3, 31)
    row = df[(df.period_end == end) & (df.geography_type == "ics") & (df.breakdown == "none")]
    assert row[["numerator", "denominator"]].iloc[0].tolist() == [64 + 33, 2]   # p9 at 64, p12 at 33
    assert pick(df, "first_ltc_age_mean", end, breakdown="imd_quintile", group="5") == (33, 1)


def test_an_indicator_with_no_period_in_the_range_has_no_rows(catalogue):
    """A financial year does not lie within January-March: no rows, alone or beside a monthly indicator."""
    con = scenario().load(ibis.duckdb.connect())
    assert compute(con, catalogue, periods_range=Q4, indicators=["first_ltc_age_mean"]) == COUNTS_SCHEMA.empty_table()
    both = compute(con, catalogue, periods_range=Q4, indicators=["first_ltc_age_mean", "ae_4hr_type1"])
    assert set(both["indicator_id"].to_pylist()) == {"ae_4hr_type1"}


def test_new_courses_of_coded_records_count_those_with_none_in_the_days_before(catalogue):
    """new_after_days over a codelist: a record 30 days after another is not new, 31 days after is; a record from
    another codelist in between does not count as a previous one."""
    w = Warehouse()
    w.person("a")
    for on, name in [(date(2024, 1, 1), "dementia"), (date(2024, 1, 31), "dementia"), (date(2024, 2, 15), "asthma"),
                     (date(2024, 3, 2), "dementia")]:
        w.event("a", on, code(name))
    raw = catalogue.indicator("gp_appointments_rate").model_dump() | {
        "id": "new_dementia_records", "measure": "count", "denominator": None, "breakdowns": ["none"],
        "frequency": "monthly", "geographies": ["ics"],
        "numerator": {"kind": "events", "table": "clinical_events", "codelist": ["dementia"], "new_after_days": 30}}
    cat = catalogue.model_copy(update={"indicators": [Indicator.model_validate(raw)]})
    df = compute(w.load(ibis.duckdb.connect()), cat, periods_range=Q4).to_pandas()
    ics = df[(df.geography_type == "ics") & (df.breakdown == "none")]
    assert dict(zip(ics.period_end, ics.numerator, strict=True)) == {JAN: 1, MAR: 1}   # none new in February


def test_englands_return_is_the_national_comparator_and_not_a_provider(catalogue):
    from placewise.measure.returns import returned_counts

    con = ibis.duckdb.connect()
    con.create_table("aggregate_returns", ibis.memtable(pd.DataFrame({
        "period": [date(2019, 3, 1)] * 3, "org_code": ["RC9", "RD8", "E92000001"],
        "measure": ["ae_4hr_all"] * 3, "numerator": [900.0, 800.0, 1877191.0],
        "denominator": [1000.0, 1000.0, 2167550.0], "value": [0.9, 0.8, 0.866]})))
    ind = catalogue.indicator("ae_4hr_all_published")
    out = returned_counts(con.table("aggregate_returns"), catalogue, ind,
                          [(date(2019, 3, 1), date(2019, 3, 31))]).to_pandas()
    got = {(r.geography_type, r.geography_code): (r.numerator, r.denominator) for r in out.itertuples()}
    # England is its own geography; the ICS is the sum of its providers only.
    assert got == {("provider", "RC9"): (900, 1000), ("provider", "RD8"): (800, 1000),
                   ("england", "E92000001"): (1877191, 2167550), ("ics", "QHG"): (1700, 2000)}


SHARING = ["gp_appointments_rate", "gp_dna_rate", "ae_attendances_rate", "referrals_rate"]
"""GP appointments are the rate's numerator and the DNA share's denominator; the monthly rates share the registered
population as denominator."""


def _sharing_warehouse() -> Warehouse:
    """People at two practices with GP appointments (some missed), A&E attendances and referrals in Q1 2024."""
    w = Warehouse()
    for i, (born, sex, lsoa, practice) in enumerate([((1950, 3), "female", "L1", "P1"), ((1985, 7), "male", "L2", "P1"),
                                                     ((2010, 1), "female", "L3", "P2"), ((1972, 12), "male", "L1", "P2"),
                                                     ((1999, 5), "female", "L2", "P1")]):
        pid = w.person(f"s{i}", born=born, sex=sex, lsoa=lsoa, practice=practice, ethnicity="AHNZA"[i])
        for day in range(i + 1):
            w.gp_appointment(pid, date(2024, 1 + day % 3, 3 + day), "did_not_attend" if day % 2 else "attended",
                             practice)
        if i % 2 == 0:
            w.attendance(pid, datetime(2024, 2, 10 + i, 9), 100)
            w.add("referrals", referral_id=f"R{i}", person_id=pid, practice_code=practice,
                  referral_date=date(2024, 3, 1 + i), treatment_function="110", priority="routine")
    return w


def test_indicators_sharing_a_side_count_as_each_computed_alone(catalogue):
    """Together, the shared sides are summed once and each indicator's sides added; alone, each is summed in one
    pass over its units: the counts are the same, and not empty."""
    work = [(catalogue.indicator(i), periods(Q4, catalogue.indicator(i).frequency)) for i in SHARING]
    assert len(shared_keys(work)) == 2   # GP appointments, and the registered population
    con = _sharing_warehouse().load(ibis.duckdb.connect())
    together = compute(con, catalogue, periods_range=Q4, indicators=SHARING).to_pandas()
    for ind in SHARING:
        alone = compute(con, catalogue, periods_range=Q4, indicators=[ind]).to_pandas()
        mine = together[together.indicator_id == ind].reset_index(drop=True)
        assert mine.numerator.sum() > 0 and mine.denominator.sum() > 0, ind
        pd.testing.assert_frame_equal(mine, alone, check_exact=True)
    # January at P1 (s0, s1, s4 registered): four appointments on the 3rd, s4's on the 6th missed.
    assert pick(together, "gp_dna_rate", JAN, "practice", "P1") == (1, 4)
    assert pick(together, "gp_appointments_rate", JAN, "practice", "P1") == (4, 3)


def test_a_source_is_read_counted_only_where_every_count_of_it_treats_alike_events_alike(catalogue):
    """GP appointments (a rate, a DNA share) and emergency admissions counted by month are read counted, by the
    reporting age bands; not where a DSR (ESP band at a later period end) or a duration (A&E four hours) reads the
    same source, nor where the reading is for a trace (no age bands given)."""
    def reads(ids: list[str], bands: list[int] | None = catalogue.age_bands) -> dict:
        work = [(catalogue.indicator(i), periods(Q4, catalogue.indicator(i).frequency)) for i in ids]
        return {s: r.ages for s, r in catalogue_event_reads(work, bands).items()}

    gp, spells, ae = ("gp_appointments", "appointment_date"), ("inpatient_spells", "admission_date"), \
        ("ae_attendances", "arrival")
    assert reads(["gp_appointments_rate", "gp_dna_rate", "emergency_admissions_count"]) == {
        gp: tuple(catalogue.age_bands), spells: tuple(catalogue.age_bands)}
    assert reads(["emergency_admissions_count", "emergency_admissions_dsr"]) == {spells: None}
    assert reads(["ae_attendances_rate", "ae_4hr_all"]) == {ae: None}
    assert reads(["gp_appointments_rate"], None) == {gp: None}


def test_alike_events_counted_together_count_as_each_event(catalogue):
    """Read counted, a person's three attended GP appointments in January are one row standing for three, and another
    person alike in practice, groups and age band adds to it: each appointment still counts one, in the rate's
    numerator and in the DNA share's denominator, as it does traced event by event (``placewise trial``)."""
    w = Warehouse()
    for pid, born in (("a", (1980, 6)), ("b", (1981, 2))):
        w.person(pid, born=born)
    for pid, day, status in (("a", 3, "attended"), ("a", 10, "attended"), ("a", 24, "attended"),
                             ("a", 28, "did_not_attend"), ("b", 5, "attended")):
        w.gp_appointment(pid, date(2024, 1, day), status)
    con = w.load(ibis.duckdb.connect())
    got = compute(con, catalogue, periods_range=Q4, indicators=["gp_appointments_rate", "gp_dna_rate"]).to_pandas()
    assert pick(got, "gp_appointments_rate", JAN, "practice", "P1") == (5, 2)
    assert pick(got, "gp_dna_rate", JAN, "practice", "P1") == (1, 5)
    assert pick(got, "gp_dna_rate", JAN, "practice", "P1", "age_band", "18-44") == (1, 5)
    traced = trace(con, catalogue, "gp_dna_rate", JAN)["units"]
    assert (traced.num_rows, pc.sum(traced["numerator"]).as_py()) == (5, 1)


def test_queries_compiled_in_line_count_as_those_compiled_ahead(catalogue, monkeypatch):
    """An engine that cannot compile on another thread while it runs a query (:attr:`Engine.compiles_aside`)
    compiles each indicator's queries just before running them: the shared sides' tables are still made before the
    queries that read them, and the counts are those DuckDB gives when it compiles ahead."""
    con = _sharing_warehouse().load(ibis.duckdb.connect())
    ahead = compute(con, catalogue, periods_range=Q4, indicators=SHARING).to_pandas()
    monkeypatch.setattr(DuckDBEngine, "compiles_aside", False)
    in_line = compute(con, catalogue, periods_range=Q4, indicators=SHARING).to_pandas()
    assert ahead.numerator.sum() > 0
    pd.testing.assert_frame_equal(in_line, ahead, check_exact=True)


def test_two_indicators_run_side_by_side_count_from_their_own_tables(catalogue, monkeypatch):
    """Two indicators run at once (:attr:`Engine.side_by_side`), each holding on to its cells table until the other
    has made its own, count as each does alone: had they one table name, one would count the other's cells."""
    con = _sharing_warehouse().load(ibis.duckdb.connect())
    pair = ["gp_dna_rate", "referrals_rate"]
    alone = {i: compute(con, catalogue, periods_range=Q4, indicators=[i]).to_pandas() for i in pair}
    both_made = threading.Barrier(2)
    make = DuckDBEngine.temp_table_of

    def made_then_held(self: DuckDBEngine, name: str, expr: ibis.Table, sql: str,
                       clustered_by: str | None = None) -> None:
        make(self, name, expr, sql, clustered_by)
        if name.startswith(CELLS_TABLE):
            both_made.wait(timeout=60)  # broken (and the test failed) unless the other indicator runs meanwhile

    monkeypatch.setattr(DuckDBEngine, "temp_table_of", made_then_held)
    together = compute(con, catalogue, periods_range=Q4, indicators=pair).to_pandas()
    for ind in pair:
        mine = together[together.indicator_id == ind].reset_index(drop=True)
        assert mine.numerator.sum() > 0, ind
        pd.testing.assert_frame_equal(mine, alone[ind], check_exact=True)


def test_shared_tables_are_made_beside_while_the_queries_are_built(catalogue, monkeypatch):
    """Where the engine runs a session beside (:attr:`Engine.side_by_side`), the shared tables are made there while
    the indicators' queries are built over them (had the building waited for the tables, the first table's making
    would wait in vain for the first plan); the counts are those made with the shared tables made first, in line."""
    con = _sharing_warehouse().load(ibis.duckdb.connect())
    building = threading.Event()
    plan, make = computation._plan, DuckDBEngine.temp_table_of
    waited: list[bool] = []

    def noted(*args, **kwargs):  # type: ignore[no-untyped-def]
        building.set()
        return plan(*args, **kwargs)

    def made_once_building(self: DuckDBEngine, name: str, expr: ibis.Table, sql: str,
                           clustered_by: str | None = None) -> None:
        if name.startswith("_placewise_people"):
            waited.append(building.wait(timeout=60))
        make(self, name, expr, sql, clustered_by)

    monkeypatch.setattr(computation, "_plan", noted)
    monkeypatch.setattr(DuckDBEngine, "temp_table_of", made_once_building)
    beside = compute(con, catalogue, periods_range=Q4, indicators=SHARING).to_pandas()
    assert waited == [True]
    monkeypatch.setattr(DuckDBEngine, "side_by_side", 1)
    first = compute(con, catalogue, periods_range=Q4, indicators=SHARING).to_pandas()
    assert waited == [True]    # made in line (temp_table), not as a step
    assert first.numerator.sum() > 0
    pd.testing.assert_frame_equal(beside, first, check_exact=True)


def test_shared_tables_are_made_two_at_once_each_after_the_tables_it_reads(catalogue, monkeypatch):
    """The shared tables are made on two sessions beside at once (:attr:`Engine.side_by_side`), each as soon as the
    tables it reads are made: two event tables, which read only the people and their registrations, are being made
    together (each waits, in the making, for the other to start), no table starts before the tables it reads are made,
    and the counts are those made with the shared tables made one after another, in line."""
    con = _sharing_warehouse().load(ibis.duckdb.connect())
    events = threading.Barrier(2)
    make = DuckDBEngine.temp_table_of
    spans: dict[str, tuple[float, float]] = {}
    reads: dict[str, set[str]] = {}
    met: list[bool] = []

    def timed(self: DuckDBEngine, name: str, expr: ibis.Table, sql: str, clustered_by: str | None = None) -> None:
        start = time.perf_counter()
        reads[name] = {t.name for t in expr.op().find(ops.PhysicalTable)}
        if name.startswith(("_placewise_events_gp_appointments", "_placewise_events_referrals")):
            try:
                events.wait(timeout=60)  # broken (the test fails below) unless the other event table is made meanwhile
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)
        make(self, name, expr, sql, clustered_by)
        spans[name] = (start, time.perf_counter())

    monkeypatch.setattr(DuckDBEngine, "temp_table_of", timed)
    together = compute(con, catalogue, periods_range=Q4, indicators=SHARING).to_pandas()
    assert met == [True, True]
    shared = {n for n in spans if n.startswith(("_placewise_people", "_placewise_registrations", "_placewise_events"))}
    assert len(shared) == 2 + 3     # people, registrations, GP appointments', A&E attendances' and referrals' events
    for name in shared:
        for read in reads[name] & shared:
            assert spans[read][1] <= spans[name][0], (name, read)
    monkeypatch.setattr(DuckDBEngine, "side_by_side", 1)
    in_line = compute(con, catalogue, periods_range=Q4, indicators=SHARING).to_pandas()
    assert in_line.numerator.sum() > 0
    pd.testing.assert_frame_equal(together, in_line, check_exact=True)


def _until(done: Callable[[], bool]) -> None:
    """Wait (up to five seconds) until ``done`` holds: another thread has reached the state a test asserts from."""
    deadline = time.monotonic() + 5
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_shared_table_waiting_for_those_it_reads_leaves_the_sessions_to_later_ones_then_goes_first():
    """A shared table whose reads are not yet made does not hold a session up (the registers waiting for their spans
    left one idle while the population cells queued behind them); once they are made it takes the next free session
    before a table made later that has waited longer for one."""
    engine = engine_for(ibis.duckdb.connect())
    spans: Future[pa.Table] = Future()
    taken: list[int] = []
    with ExitStack() as stack:
        sessions = computation._Sessions(engine, stack, apart=True)   # two sessions beside (DuckDB's side_by_side)

        def take(turn: int, after: list[Future[pa.Table]]) -> None:
            taken.append(turn)
            sessions._take(True, turn, after)
            taken.append(turn)

        registers = threading.Thread(target=take, args=(1, [spans]), daemon=True)
        registers.start()
        _until(lambda: len(sessions.waiting) == 1)
        first, second = sessions._take(True, 2, []), sessions._take(True, 3, [])  # not held up by the registers
        later = threading.Thread(target=take, args=(4, []), daemon=True)
        later.start()
        _until(lambda: len(sessions.waiting) == 2)
        assert taken == [1, 4]  # both waiting: no session free
        spans.set_result(COUNTS_SCHEMA.empty_table())
        sessions.wake(spans)
        sessions._give(first)
        registers.join(timeout=5)
        assert taken == [1, 4, 1] and later.is_alive()   # its turn came first
        sessions._give(second)
        later.join(timeout=5)
        assert taken == [1, 4, 1, 4]


def test_two_computations_at_once_on_one_warehouse_count_from_their_own_tables(catalogue, monkeypatch):
    """Two computations run at once on one warehouse (two sessions of one DuckDB database, which share its scratch
    database), each holding on to its registered population until the other has made its own, count as each does
    alone: had they one table name, one would read the other's population, made for other period ends."""
    con = _sharing_warehouse().load(ibis.duckdb.connect())
    before = ReportingRange(date(2023, 4, 1), date(2023, 12, 31))
    runs = [(con, Q4), (ibis.duckdb.from_connection(con.con.cursor()), before)]
    alone = [compute(c, catalogue, periods_range=r, indicators=SHARING).to_pandas() for c, r in runs]
    both_made = threading.Barrier(2)
    make = DuckDBEngine.temp_table_of  # the shared tables are made as steps on a session beside (side_by_side)

    def made_then_held(self: DuckDBEngine, name: str, expr: ibis.Table, sql: str,
                       clustered_by: str | None = None) -> None:
        make(self, name, expr, sql, clustered_by)
        if name.startswith("_placewise_population_cells"):
            both_made.wait(timeout=60)  # broken (and the test failed) unless the other computation runs meanwhile

    monkeypatch.setattr(DuckDBEngine, "temp_table_of", made_then_held)
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda run: compute(run[0], catalogue, periods_range=run[1], indicators=SHARING)
                                 .to_pandas(), runs))
    assert alone[0].denominator.sum() > 0 and alone[1].denominator.sum() > 0
    for mine, own in zip(together, alone, strict=True):
        pd.testing.assert_frame_equal(mine, own, check_exact=True)


def test_a_criterion_given_twice_counts_as_given_once():
    """A person criterion repeated word for word counts as the one (Ibis found a second semi-join on the same query
    ambiguous, so a generated definition that drew one criterion twice failed to compile)."""
    profile = load_catalogue(load_profile())
    coded = {"type": "has_code", "codelist": ["systolic_bp", "depression"], "window": "last_17_months", "at_least": 2}

    def counted(criteria: list[dict]) -> pa.Table:
        raw = described("twice", "count", {"numerator": {"kind": "persons", "age": {}, "criteria": criteria}},
                        "quarterly") | {"geographies": ["ics", "practice"], "breakdowns": ["none", "sex"]}
        return compute(con, parsed({"age_bands": profile.age_bands, "indicators": [raw]}, profile), periods_range=Q4)

    con = scenario().load(ibis.duckdb.connect())
    once = counted([coded])
    assert pc.sum(once["numerator"]).as_py() > 0
    assert counted([coded, coded]).equals(once)


_KEY_COLUMNS = {"day": st.dates(date(2020, 1, 1), date(2020, 3, 1)), "code": st.sampled_from(["E1", "E10", "e1", "É", ""]),
                "group": st.text(max_size=3), "band": st.integers(-5, 90)}


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({k: st.none() | v for k, v in _KEY_COLUMNS.items()}), max_size=40),
       keys=st.permutations(list(_KEY_COLUMNS)))
def test_sorting_by_keys_gives_the_order_arrow_gives(rows, keys):
    """Strings (byte order, not locale), dates and integers, nulls last, ties kept in their order: as ``sort_by``."""
    table = pa.Table.from_pylist(rows, schema=pa.schema([("day", pa.date32()), ("code", pa.string()),
                                                         ("group", pa.string()), ("band", pa.int64())]))
    table = table.append_column("row", pa.array(range(table.num_rows), pa.int64()))
    assert sort_by_keys(table, keys).equals(table.sort_by([(k, "ascending") for k in keys]))


def test_sorting_by_keys_packs_keys_into_several_words_when_one_cannot_hold_them():
    """Seven keys of 3,000 distinct values each span more than 64 bits: the order is still ``sort_by``'s."""
    rng = np.random.default_rng(7)
    table = pa.table({f"k{i}": rng.integers(0, 3_000, 3_000) for i in range(7)})
    keys = [f"k{i}" for i in range(7)]
    assert sort_by_keys(table, keys).equals(table.sort_by([(k, "ascending") for k in keys]))



def _groups_by_pylist(table: pa.Table, keys: list[str]) -> tuple[list[int], list[int]]:
    """Each row's group and each group's first row, worked out row by row: groups numbered in the order ``sort_by``
    puts their keys."""
    rows = table.select(keys).to_pylist()
    firsts = [r["row"] for r in table.sort_by([(k, "ascending") for k in keys]).to_pylist()]
    first_of: dict[tuple, int] = {}
    for i in firsts:
        first_of.setdefault(tuple(rows[i].values()), i)
    number = {key: n for n, key in enumerate(first_of)}
    return [number[tuple(r.values())] for r in rows], [i for i in first_of.values()]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({k: st.none() | v for k, v in _KEY_COLUMNS.items()}), max_size=40),
       keys=st.permutations(list(_KEY_COLUMNS)))
def test_grouping_by_keys_numbers_the_groups_in_the_order_of_their_keys(rows, keys):
    """Rows with equal keys (nulls equal to nulls) share a group; groups are numbered as ``sort_by`` orders their keys,
    nulls last, each with the first of its rows in that order."""
    table = pa.Table.from_pylist(rows, schema=pa.schema([("day", pa.date32()), ("code", pa.string()),
                                                         ("group", pa.string()), ("band", pa.int64())]))
    table = table.append_column("row", pa.array(range(table.num_rows), pa.int64()))
    group, first = key_groups(table, keys)
    assert (group.tolist(), first.tolist()) == _groups_by_pylist(table, keys)


def test_grouping_by_keys_packed_into_several_words():
    """Seven keys of 3,000 distinct values each span more than 64 bits (two words); 500 rows repeat earlier keys."""
    rng = np.random.default_rng(11)
    table = pa.table({f"k{i}": rng.integers(0, 3_000, 4_000) for i in range(7)})
    table = pa.concat_tables([table, table.slice(0, 500)])
    table = table.append_column("row", pa.array(range(table.num_rows), pa.int64()))
    keys = [f"k{i}" for i in range(7)]
    group, first = key_groups(table, keys)
    assert (group.tolist(), first.tolist()) == _groups_by_pylist(table, keys)
    assert group.max() + 1 == 4_000

def _coded_cohorts(catalogue) -> tuple[Warehouse, list[Indicator]]:
    """People coded with dementia (a, d) or asthma (b, c, d) since 2023, b checked for blood pressure in February; a
    ratio of the two coded cohorts, and the share of the asthma cohort checked."""
    w = Warehouse()
    for pid in "abcde":
        w.person(pid)
    for pid, name in [("a", "dementia"), ("d", "dementia"), ("b", "asthma"), ("c", "asthma"), ("d", "asthma")]:
        w.event(pid, date(2023, 6, 1), code(name))
    w.event("b", date(2024, 2, 10), code("systolic_bp"), 120)
    base = catalogue.indicator("smi_health_checks").model_dump() | {"breakdowns": ["none"], "geographies": ["ics"]}
    ratio = base | {"id": "dementia_per_asthma", "measure": "ratio",
                    "numerator": {"kind": "persons", "criteria": [{"type": "has_code", "codelist": ["dementia"]}]},
                    "denominator": {"kind": "persons", "criteria": [{"type": "has_code", "codelist": ["asthma"]}]}}
    checked = base | {"id": "asthma_checked", "denominator": ratio["denominator"], "numerator": {
        "kind": "subset", "criteria": [{"type": "has_code", "codelist": ["systolic_bp"], "window": "last_12_months"}]}}
    return w, [Indicator.model_validate(raw) for raw in (ratio, checked)]


def _left_behind(con) -> list[tuple[str]]:
    """The computation's tables still in the session: temporary ones, or in the scratch database."""
    return con.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary OR database_name = ?",
                           [SCRATCH]).fetchall()


def test_each_coded_cohort_is_its_own_table_dropped_with_its_indicator(catalogue):
    """A cohort drawn from coded records is made a temporary table of its own (a ratio of two such cohorts reads two,
    both made before either is counted), and none is left once the indicators are counted: together the counts are
    those each indicator gives alone, and those worked by hand."""
    w, indicators = _coded_cohorts(catalogue)
    cat = catalogue.model_copy(update={"indicators": indicators})
    con = w.load(ibis.duckdb.connect())
    together = compute(con, cat, periods_range=Q4).to_pandas()
    assert _left_behind(con) == []
    assert [pick(together, "dementia_per_asthma", end) for end in (JAN, FEB, MAR)] == [(2, 3)] * 3
    assert [pick(together, "asthma_checked", end) for end in (JAN, FEB, MAR)] == [(0, 3), (1, 3), (1, 3)]
    for ind in indicators:
        alone = compute(con, cat, periods_range=Q4, indicators=[ind.id]).to_pandas()
        pd.testing.assert_frame_equal(together[together.indicator_id == ind.id].reset_index(drop=True), alone,
                                      check_exact=True)


def test_a_side_two_indicators_share_is_made_with_the_coded_cohort_it_reads(catalogue):
    """Two ratios over the same coded cohort (asthma: b, c, d) share their denominator's cells: the shared side is
    made with the cohort table it reads, before either indicator's own queries run, and nothing is left once they are
    counted. Dementia (a, d) per asthma is 2 of 3 in every month; a COPD code for e gives 1 of 3."""
    w, (ratio, _) = _coded_cohorts(catalogue)
    w.event("e", date(2023, 6, 1), code("copd"))
    copd = {"kind": "persons", "criteria": [{"type": "has_code", "codelist": ["copd"]}]}
    other = Indicator.model_validate(ratio.model_dump() | {"id": "copd_per_asthma", "numerator": copd})
    cat = catalogue.model_copy(update={"indicators": [ratio, other]})
    con = w.load(ibis.duckdb.connect())
    got = compute(con, cat, periods_range=Q4).to_pandas()
    assert _left_behind(con) == []
    assert [pick(got, "dementia_per_asthma", end) for end in (JAN, FEB, MAR)] == [(2, 3)] * 3
    assert [pick(got, "copd_per_asthma", end) for end in (JAN, FEB, MAR)] == [(1, 3)] * 3


def test_each_breakdown_is_summed_from_the_finer_reported_one_with_fewest_groups() -> None:
    """A breakdown by people's groups comes from the sums of a reported breakdown by all its attributes and more (of
    those, the one with fewest groups); one by age band, or with nothing finer, from the cells themselves."""
    parts = {"none": (), "imd_quintile": ("imd_quintile",), "ethnic_group": ("ethnic_group",), "sex": ("sex",),
             "age_band": ("age_band",), "sex_by_imd_quintile": ("sex", "imd_quintile"),
             "ethnic_group_by_imd_quintile": ("ethnic_group", "imd_quintile")}
    assert {b: _source(b, parts) for b in parts} == {
        "none": "sex", "imd_quintile": "sex_by_imd_quintile", "ethnic_group": "ethnic_group_by_imd_quintile",
        "sex": "sex_by_imd_quintile", "age_band": None, "sex_by_imd_quintile": None,
        "ethnic_group_by_imd_quintile": None}
    assert _source("none", {"none": (), "age_band": ("age_band",)}) is None
