"""The synthetic RTT return against the person-level referral pathways it is counted from.

The generator records each GP referral's RTT clock (``truth/referral_pathways.parquet``: ``rtt_clock_end`` and
``rtt_clock_end_on``) and the RTT return by provider and treatment function with its GP-referral and other-source
parts apart (``truth/rtt_returns.parquet``). The GP-referral part must be what the clocks give, worked here by the RTT
rules (a pathway is incomplete at a month end if its clock started on or before that day and had not stopped; weeks
waited from the referral day), the other sources' part the profile's stated share, and the provider rows of
``aggregate_returns`` (incomplete pathways and clock stops) the sum of both over treatment functions.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from placewise.profile import load_profile
from placewise.sources.synth import generate
from placewise.sources.synth.config import Synthetic

END = dt.date(2026, 9, 30)
MONTH_ENDS = (dt.date(2025, 3, 31), END)
"""Two month ends at least three years into the window: no referral made before it is still waiting."""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """DuckDB views over a synthetic BLMK at scale 0.02: the pathways' truth, the RTT truth and the returns."""
    out = tmp_path_factory.mktemp("rtt")
    generate(load_profile(), scale=0.02, seed=11, out=out, end_date=END)
    con = duckdb.connect()
    for name, path in (("pathways", "truth/referral_pathways"), ("rtt", "truth/rtt_returns"),
                       ("returns", "aggregate_returns"), ("referrals", "referrals"),
                       ("appointments", "outpatient_appointments"), ("spells", "inpatient_spells")):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{out / f'{path}.parquet'}')")
    return con


def worked(con: duckdb.DuckDBPyConnection, month_end: dt.date) -> dict[tuple[str, str, str], int]:
    """The GP referrals' RTT counts at a month end by provider, treatment function and measure, from the clocks."""
    rows = con.execute("""
        WITH c AS (SELECT provider_code, treatment_function, referral_date AS start, rtt_clock_end AS kind,
                          rtt_clock_end_on AS stop, $m::DATE - referral_date AS waited
                   FROM pathways WHERE rtt_clock_end <> 'none'),
             w AS (SELECT * FROM c WHERE start <= $m::DATE AND (stop IS NULL OR stop > $m::DATE)),
             s AS (SELECT * FROM c WHERE kind IN ('admitted', 'non_admitted')
                   AND stop BETWEEN date_trunc('month', $m::DATE) AND $m::DATE)
        SELECT provider_code, treatment_function, 'rtt_waiting_list', count(*) FROM w GROUP BY ALL
        UNION ALL SELECT provider_code, treatment_function, 'rtt_within_18wk', count(*) FROM w
                  WHERE waited <= 126 GROUP BY ALL
        UNION ALL SELECT provider_code, treatment_function, 'rtt_over_52wk', count(*) FROM w
                  WHERE waited > 364 GROUP BY ALL
        UNION ALL SELECT provider_code, treatment_function, 'rtt_over_65wk', count(*) FROM w
                  WHERE waited > 455 GROUP BY ALL
        UNION ALL SELECT provider_code, treatment_function, 'rtt_clock_stops_' || kind, count(*) FROM s GROUP BY ALL
        UNION ALL SELECT provider_code, treatment_function, 'rtt_' || kind || '_within_18wk', count(*) FROM s
                  WHERE stop - start <= 126 GROUP BY ALL""", {"m": month_end}).fetchall()
    return {(p, t, m): n for p, t, m, n in rows}


@pytest.mark.parametrize("month_end", MONTH_ENDS)
def test_the_returns_gp_referral_part_is_what_the_pathways_clocks_give(db: duckdb.DuckDBPyConnection,
                                                                         month_end: dt.date) -> None:
    expected = worked(db, month_end)
    got = {(p, t, m): n for p, t, m, n in db.execute(
        "SELECT provider_code, treatment_function, measure, gp_referrals FROM rtt WHERE period = date_trunc('month', $m::DATE)"
        " AND gp_referrals > 0", {"m": month_end}).fetchall()}
    assert got == {k: v for k, v in expected.items() if v > 0}
    assert sum(v for (_, _, m), v in got.items() if m == "rtt_waiting_list") > 300
    assert sum(v for (_, _, m), v in got.items() if m == "rtt_over_52wk") > 0
    assert sum(v for (_, _, m), v in got.items() if m == "rtt_clock_stops_admitted") > 0


def test_other_sources_are_the_stated_share_on_top(db: duckdb.DuckDBPyConnection) -> None:
    g = load_profile().section("synthetic", Synthetic).rtt_return.gp_referral_share
    worst = db.execute("SELECT max(abs(other_sources - gp_referrals * (1 - $g) / $g)) FROM rtt", {"g": g}).fetchone()[0]
    assert worst <= 0.5
    share = db.execute("SELECT sum(gp_referrals) / sum(gp_referrals + other_sources) FROM rtt").fetchone()[0]
    assert share == pytest.approx(g, abs=0.005)


def test_the_provider_rows_are_the_sum_over_treatment_functions(db: duckdb.DuckDBPyConnection) -> None:
    """Every measure of the truth's return has provider rows in ``aggregate_returns``, each the sum over treatment
    functions; the admitted (non-admitted) clock stops within 18 weeks are a share of the month's admitted
    (non-admitted) clock stops."""
    mismatched = db.execute("""
        WITH t AS (SELECT period, provider_code AS org_code, measure, sum(gp_referrals + other_sources) AS n
                   FROM rtt GROUP BY ALL),
             r AS (SELECT period, org_code, measure, coalesce(value, numerator) AS n FROM returns
                   UNION ALL SELECT period, org_code, 'rtt_waiting_list', denominator FROM returns
                   WHERE measure = 'rtt_within_18wk'
                   UNION ALL SELECT period, org_code, replace(replace(measure, '_within_18wk', ''), 'rtt_',
                                    'rtt_clock_stops_'), denominator FROM returns
                   WHERE measure IN ('rtt_admitted_within_18wk', 'rtt_non_admitted_within_18wk'))
        SELECT count(DISTINCT measure), count(*), count(*) FILTER (WHERE r.n IS DISTINCT FROM t.n)
        FROM t JOIN r USING (period, org_code, measure)""").fetchone()
    assert mismatched[0] == 8 and mismatched[1] > 10 * 100 and mismatched[2] == 0
    stops = db.execute("""SELECT sum(value) FILTER (WHERE measure = 'rtt_clock_stops_admitted'),
                                 sum(value) FILTER (WHERE measure = 'rtt_clock_stops_non_admitted'),
                                 sum(numerator) FILTER (WHERE measure = 'rtt_admitted_within_18wk'),
                                 sum(numerator) FILTER (WHERE measure = 'rtt_non_admitted_within_18wk')
                          FROM returns WHERE period = DATE '2025-03-01'""").fetchone()
    assert stops[0] > 0 and stops[1] > stops[0] and 0 < stops[2] < stops[0] and 0 < stops[3] < stops[1]
    assert db.execute("SELECT count(DISTINCT period) FROM rtt").fetchone()[0] == 60


def test_each_clock_stop_is_an_activity_written_for_the_referral(db: duckdb.DuckDBPyConnection) -> None:
    """An admitted clock stops on the referral's elective admission; a non-admitted one on an outpatient appointment
    of the referral's person, provider and treatment function (the first attendance or the first follow-up); a
    nullified one on the first appointment the person did not attend."""
    counts = db.execute("""
        WITH c AS (SELECT p.*, r.nhs_number FROM pathways p JOIN referrals r USING (referral_id)
                   WHERE rtt_clock_end IN ('admitted', 'non_admitted', 'nullified'))
        SELECT count(*) FILTER (WHERE rtt_clock_end = 'admitted'),
               count(*) FILTER (WHERE rtt_clock_end = 'admitted' AND admitted_on = rtt_clock_end_on),
               count(*) FILTER (WHERE rtt_clock_end = 'non_admitted'),
               count(*) FILTER (WHERE rtt_clock_end = 'non_admitted' AND rtt_clock_end_on >= first_attended_on
                   AND EXISTS (SELECT 1 FROM appointments o WHERE o.nhs_number = c.nhs_number
                               AND o.provider_code = c.provider_code AND o.treatment_function = c.treatment_function
                               AND o.appointment_date = c.rtt_clock_end_on)),
               count(*) FILTER (WHERE rtt_clock_end = 'nullified'),
               count(*) FILTER (WHERE rtt_clock_end = 'nullified' AND EXISTS (
                   SELECT 1 FROM appointments o WHERE o.nhs_number = c.nhs_number AND o.first_attendance
                   AND o.attendance = 'did_not_attend' AND o.treatment_function = c.treatment_function
                   AND o.appointment_date = c.rtt_clock_end_on))
        FROM c""").fetchone()
    admitted, admitted_found, treated, treated_found, nullified, nullified_found = counts
    assert admitted > 100 and admitted_found == admitted
    assert treated > 1000 and treated_found == treated
    assert nullified > 20 and nullified_found == nullified


def test_medical_specialties_have_pathway_admissions(db: duckdb.DuckDBPyConnection) -> None:
    """Cardiology and respiratory medicine referrals lead to some elective admissions (coronary arteriography,
    angioplasty, bronchoscopy); general medicine has no elective procedure and none."""
    admitted = dict(db.execute("""SELECT treatment_function, count(*) FILTER (WHERE admitted_on IS NOT NULL)
                                  / count(*) FILTER (WHERE first_attended_on IS NOT NULL) FROM pathways
                                  WHERE treatment_function IN ('320', '340', '300') GROUP BY 1""").fetchall())
    assert 0.05 < admitted["320"] < 0.2 and 0.02 < admitted["340"] < 0.12 and admitted["300"] == 0


def test_completed_pathways_wait_as_the_rtt_rules_and_published_figures_order_them(db: duckdb.DuckDBPyConnection) -> None:
    """Most non-admitted clocks stop at the first attendance (first definitive treatment, discharge, active monitoring
    or a decision not to treat there), so non-admitted pathways are completed sooner than the incomplete list has
    waited, and admitted ones later: in every published month of the 18-week standard the admitted share within 18
    weeks was below the incomplete share and the non-admitted share above it (synthetic.yaml, pathways)."""
    at_first, non_admitted = db.execute("""SELECT count(*) FILTER (WHERE rtt_clock_end_on = first_attended_on), count(*)
                                           FROM pathways WHERE rtt_clock_end = 'non_admitted'""").fetchone()
    assert non_admitted > 1000 and 0.6 < at_first / non_admitted < 0.95
    shares = dict(db.execute("""SELECT measure, sum(numerator) / sum(denominator) FROM returns
                                WHERE measure LIKE 'rtt_%within_18wk' AND period > DATE '2025-09-01'
                                GROUP BY ALL""").fetchall())
    assert shares["rtt_admitted_within_18wk"] < shares["rtt_within_18wk"] < shares["rtt_non_admitted_within_18wk"]
