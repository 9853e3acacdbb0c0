"""Plan against actual: variance, RAG by polarity, forecast to year end, trajectories from CSV."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from placewise.analyse.measurements import SCHEMA
from placewise.analyse.plan import RagRule, forecast_year_end, load_plans, plan_against_actual, rag
from placewise.measure import load_catalogue
from placewise.measure.catalogue import financial_year
from placewise.profile import ProfileError, load_profile

HTN = "hypertension_treated_to_target"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(load_profile())


def _measurements(values: dict[date, float]) -> pa.Table:
    """ICS rows (no breakdown) of the hypertension indicator, plus a broken-down row that must be ignored."""
    rows = [dict(indicator_id=HTN, period_start=d, period_end=d, geography_type="ics", geography_code="QHG",
                 breakdown="none", breakdown_group="All", numerator=None, denominator=None, value=v, lower=None,
                 upper=None, computed_at=None, events=None, sum_squares=None) for d, v in values.items()]
    rows.append({**rows[0], "breakdown": "sex", "breakdown_group": "male", "value": 99.0})
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in SCHEMA})


def test_rag_honours_polarity_and_the_amber_band():
    rule = RagRule(amber_within=0.05)
    actual = np.array([7.0, 8.3, 10.0, 8.0, 9.0, np.nan])
    plan = np.full(6, 8.0)
    direction = np.array([-1, -1, -1, 1, 0, 1], dtype=float)   # lower better x3, higher better, neutral, missing
    assert rag(actual, plan, direction, rule).tolist() == ["green", "amber", "red", "green", None, None]


def test_variance_and_rag_against_the_bundled_trajectory(catalogue):
    plans = load_plans(load_profile(), catalogue)
    m = _measurements({date(2023, 12, 1): 60.0, date(2024, 1, 1): 68.0, date(2024, 2, 1): 65.0})
    out = [r for r in plan_against_actual(m, plans, catalogue).to_pylist() if r["indicator_id"] == HTN]
    assert [r["period_start"] for r in out] == [date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1),
                                                date(2024, 3, 1)]
    assert [r["plan"] for r in out] == [62.4, 67.27, 72.13, 77.0]
    assert out[0]["variance"] == pytest.approx(-2.4)
    assert out[0]["relative_variance"] == pytest.approx(-2.4 / 62.4)
    assert [r["rag"] for r in out] == ["amber", "green", "red", None]   # -3.8% amber; -9.9% red; March no actual
    assert out[3]["actual"] is None


def test_forecast_to_year_end_carries_the_recent_mean_variance(catalogue):
    plans = load_plans(load_profile(), catalogue)
    pva = plan_against_actual(_measurements({date(2023, 12, 1): 60.0, date(2024, 1, 1): 68.0,
                                             date(2024, 2, 1): 65.0}), plans, catalogue)
    (f,) = [r for r in forecast_year_end(pva, plans, catalogue).to_pylist() if r["indicator_id"] == HTN]
    assert f["year_start"] == date(2023, 4, 1) and f["year_end_period"] == date(2024, 3, 1)
    assert f["periods_used"] == 3
    assert f["forecast"] == pytest.approx(77 + (-2.4 + 0.73 - 7.13) / 3)   # 74.0667
    assert f["rag"] == "amber"


def test_cyp_mental_health_access_against_blmk_share_of_the_ambition(catalogue):
    """Appendix D row 22 (001 L2406): 13,440 children and young people against an ambition of 17,614 in March 2024."""
    plans = load_plans(load_profile(), catalogue)
    m = _measurements({date(2023, 4, 1): 13440.0, date(2024, 4, 1): 14000.0, date(2025, 4, 1): 17000.0})
    m = m.set_column(0, "indicator_id", pa.array(["cyp_mh_access"] * m.num_rows))  # keyed by the first month
    r, later = [r for r in plan_against_actual(m, plans, catalogue).to_pylist() if r["indicator_id"] == "cyp_mh_access"]
    assert (r["period_start"], r["plan"], r["variance"], r["rag"]) == (date(2023, 4, 1), 17614.0, -4174.0, "red")
    # The 2025/26 guidance keeps the national ambition: the share is the plan again for the 12 months to March 2026;
    # 2024/25 has none (its guidance was not among the stored pages).
    assert (later["period_start"], later["plan"], later["variance"], later["rag"]) == (
        date(2025, 4, 1), 17614.0, -614.0, "amber")


def test_an_operating_plan_submission_as_csv_fills_the_years_the_profile_holds_no_plan_for(tmp_path, catalogue):
    # No BLMK figure for children and young people's access is held for 2024/25 or 2026/27. An ICB's submission for
    # those years, in the documented format (docs/board.md), is the plan there: a rolling 12 months keyed by its first
    # month (2024-04-01 is the 12 months to March 2025), at a synthetic sample's share like every count plan.
    path = tmp_path / "submission.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "cyp_mh_access,ics,QHG,2024-04-01,16000\n"
                    "cyp_mh_access,ics,QHG,2026-04-01,18500\n", encoding="utf-8")
    m = _measurements({date(2023, 4, 1): 13440.0, date(2024, 4, 1): 14000.0, date(2025, 4, 1): 17000.0,
                       date(2026, 4, 1): 18000.0})
    m = m.set_column(0, "indicator_id", pa.array(["cyp_mh_access"] * m.num_rows))
    for share in (1.0, 0.02):
        rows = [r for r in plan_against_actual(m, load_plans(load_profile(), catalogue, (path,), share),
                                               catalogue).to_pylist() if r["indicator_id"] == "cyp_mh_access"]
        assert [(r["period_start"], r["plan"], r["basis"]) for r in rows] == [
            (date(2023, 4, 1), 17614.0 * share, "trajectory"), (date(2024, 4, 1), 16000.0 * share, "trajectory"),
            (date(2025, 4, 1), 17614.0 * share, "trajectory"), (date(2026, 4, 1), 18500.0 * share, "trajectory")]
    # Without it, those years have no plan, and the report says "No plan held" for them.
    rows = plan_against_actual(m, load_plans(load_profile(), catalogue), catalogue).to_pandas()
    assert set(rows[rows.indicator_id == "cyp_mh_access"].period_start) == {date(2023, 4, 1), date(2025, 4, 1)}


def test_talking_therapies_access_against_blmk_share_of_the_ambition(catalogue):
    """Appendix D row 23 (001 L2407): 25,750 people accessing NHS Talking Therapies against 28,269 in 2023/24."""
    plans = load_plans(load_profile(), catalogue)
    m = _measurements({date(2023, 4, 1): 25750.0})   # the 12 months to March 2024, keyed by its first month
    m = m.set_column(0, "indicator_id", pa.array(["talking_therapies_entering"] * m.num_rows))
    (r,) = [r for r in plan_against_actual(m, plans, catalogue).to_pylist()
            if r["indicator_id"] == "talking_therapies_entering"]
    assert (r["period_start"], r["plan"], r["variance"], r["rag"]) == (date(2023, 4, 1), 28269.0, -2519.0, "red")


def test_a_count_plan_at_share_s_is_s_times_the_plan_and_rates_are_untouched(tmp_path, catalogue):
    """A synthetic sample of 2% of the ICS is judged against 2% of a count's plan; a percentage's plan is the same."""
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "rtt_waiting_list,ics,QHG,2021-03-01,70039\n"   # a returned count (no denominator)
                    "rtt_18wk,ics,QHG,2021-03-01,60.5\n", encoding="utf-8")   # a returned percentage
    whole, sample = load_plans(load_profile(), catalogue, (path,)), load_plans(load_profile(), catalogue, (path,), 0.02)

    def points(plans, indicator):
        return [p.value for t in plans.trajectories if t.indicator == indicator for p in t.points]

    for indicator in ("talking_therapies_entering", "cyp_mh_access", "rtt_waiting_list"):
        assert points(sample, indicator) == pytest.approx([0.02 * v for v in points(whole, indicator)]), indicator
    for indicator in (HTN, "rtt_18wk"):
        assert points(sample, indicator) == points(whole, indicator), indicator
    # 500 people entering treatment in the sample against 2% of 28,269 (565.38): 11.6% behind, red.
    m = _measurements({date(2023, 4, 1): 500.0})
    m = m.set_column(0, "indicator_id", pa.array(["talking_therapies_entering"] * m.num_rows))
    (r,) = [r for r in plan_against_actual(m, sample, catalogue).to_pylist()
            if r["indicator_id"] == "talking_therapies_entering"]
    assert (r["plan"], r["variance"], r["rag"]) == (pytest.approx(565.38), pytest.approx(-65.38), "red")


def test_every_population_sized_target_is_the_same_at_every_scale(catalogue):
    """Only plans are scaled to a sample: a count's target would not be, so every count target must be zero (no
    waits over 52 or 65 weeks, no out-of-area placements)."""
    from placewise.analyse.plan import population_sized

    sized = [i for i in catalogue.indicators if population_sized(i) and i.target is not None]
    assert {i.id for i in sized} >= {"rtt_52wk", "rtt_65wk", "oap_bed_days"}
    assert all(v == 0 for i in sized for v in [i.target.value, *(y.value for y in i.target.years)]), sized


def test_trajectories_from_csv_by_geography(tmp_path, catalogue):
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "gp_dna_rate,place,E06000032,2024-01-01,5.0\n"
                    "gp_dna_rate,place,E06000032,2024-02-01,4.5\n", encoding="utf-8")
    plans = load_plans(load_profile(), catalogue, (path,))
    luton = [t for t in plans.trajectories if t.geography_code == "E06000032"]
    assert [(p.period, p.value) for p in luton[0].points] == [(date(2024, 1, 1), 5.0), (date(2024, 2, 1), 4.5)]


def test_bad_csv_value_names_file_row_and_field(tmp_path, catalogue):
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "gp_dna_rate,place,E06000032,2024-01-01,5.0\n"
                    "gp_dna_rate,place,E06000032,2024-02-01,lots\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"plan.csv: row 3, field value: 'lots' is not a valid number"):
        load_plans(load_profile(), catalogue, (path,))


def test_unknown_indicator_in_a_trajectory(tmp_path, catalogue):
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "waiting_list,ics,QHG,2024-01-01,5.0\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="unknown indicator 'waiting_list'"):
        load_plans(load_profile(), catalogue, (path,))


def _actuals(ind: str, first: date, values: list[float], code: str = "QHG") -> pa.Table:
    """Monthly ICS rows (no breakdown) of one indicator from ``first``."""
    months = [date(first.year + (first.month - 1 + k) // 12, (first.month - 1 + k) % 12 + 1, 1)
              for k in range(len(values))]
    rows = [{"indicator_id": ind, "period_start": d, "period_end": d, "geography_type": "ics",
             "geography_code": code, "breakdown": "none", "breakdown_group": "All", "numerator": None,
             "denominator": None, "value": v, "lower": None, "upper": None, "computed_at": None,
             "events": None, "sum_squares": None}
            for d, v in zip(months, values, strict=True)]
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in SCHEMA})


def test_a_glide_path_runs_from_the_march_before_to_the_years_target(catalogue):
    # DM01: 95% by March 2025 (2024/25 planning guidance). March 2024 was 82%, so April's plan is
    # 82 + 13/12 and each month adds 13/12 until 95 in March 2025. No plan figure is held for 2023/24 or 2025/26
    # (indicators.yaml, target.unset), so those months have no plan: the 99% standard is the reference, not a plan.
    plans = load_plans(load_profile(), catalogue)
    everything = plan_against_actual(_actuals("diagnostics_6wk", date(2024, 1, 1), [80.0 + k for k in range(17)]),
                                     plans, catalogue).to_pandas()
    out = everything[everything.indicator_id == "diagnostics_6wk"]  # the profile's hypertension plan too
    assert list(out.period_start) == [date(2024 + (m >= 9), (m + 3) % 12 + 1, 1) for m in range(12)]
    assert out.plan.to_list() == pytest.approx([82 + 13 * k / 12 for k in range(1, 13)])
    assert set(out.basis) == {"glide path to the year's target"}
    # April 2024: 83 against a plan of 83.08 is worse but within 5% (amber); March 2025: 94 against 95, amber.
    assert out.actual.iloc[[0, -1]].to_list() == [83.0, 94.0] and set(out.rag) == {"amber"}


def test_a_lower_is_better_glide_path_and_a_flat_plan_without_a_march_value(catalogue):
    plans = load_plans(load_profile(), catalogue)
    # Category 2 mean: 30 minutes in 2024/25. Data start in May 2024, so no March value: the plan is 30 flat.
    out = plan_against_actual(_actuals("ambulance_cat2_mean", date(2024, 5, 1), [29.0, 31.0, 40.0]), plans,
                              catalogue).to_pandas()
    out = out[out.indicator_id == "ambulance_cat2_mean"]
    assert len(out) == 12 and (out.plan == 30.0).all()
    # April has no actual; 29 is better than 30; 31 is worse by 1/30 = 3.3% (amber, within 5%); 40 is red.
    assert out.rag.iloc[:5].fillna("").to_list() == ["", "green", "amber", "red", ""]


def test_a_submitted_trajectory_replaces_the_glide_path_for_its_whole_year(tmp_path, catalogue):
    path = tmp_path / "plan.csv"
    path.write_text("indicator_id,geography_type,geography_code,period_start,value\n"
                    "diagnostics_6wk,ics,QHG,2024-06-01,90.0\n", encoding="utf-8")
    plans = load_plans(load_profile(), catalogue, (path,))
    out = plan_against_actual(_actuals("diagnostics_6wk", date(2024, 1, 1), [80.0 + k for k in range(12)]), plans,
                              catalogue).to_pylist()
    out = [r for r in out if r["indicator_id"] == "diagnostics_6wk" and r["period_start"] >= date(2024, 4, 1)]
    assert [(r["period_start"], r["plan"], r["basis"]) for r in out] == [(date(2024, 6, 1), 90.0, "trajectory")]


def test_a_quarterly_indicator_glides_by_quarter_from_the_quarter_to_march(catalogue):
    # KH03 G&A occupancy: 92% or below in 2024/25. The quarter to March 2024 (starting January) was 96%, so the
    # plan falls 4 x 3/12 = 1 point a quarter: 95, 94, 93 and 92 at the quarters starting April to January.
    plans = load_plans(load_profile(), catalogue)
    quarters = [date(2024, 1, 1), date(2024, 4, 1), date(2024, 7, 1), date(2024, 10, 1), date(2025, 1, 1)]
    rows = _actuals("ga_bed_occupancy", date(2024, 1, 1), [96.0, 95.5, 93.0, 94.0, 91.0]).to_pylist()
    for r, q in zip(rows, quarters, strict=True):
        r["period_start"] = r["period_end"] = q
    out = plan_against_actual(pa.Table.from_pylist(rows, schema=SCHEMA), plans, catalogue).to_pandas()
    out = out[(out.indicator_id == "ga_bed_occupancy") & (out.period_start >= date(2024, 4, 1))]
    assert list(out.period_start) == quarters[1:]
    assert out.plan.to_list() == pytest.approx([95.0, 94.0, 93.0, 92.0])
    assert set(out.basis) == {"glide path to the year's target"}
    # lower is better: 95.5 above 95 (amber, within 5%), 93 below 94 (green), 94 above 93 (amber), 91 green
    assert out.rag.to_list() == ["amber", "green", "amber", "green"]


def test_a_cumulative_indicator_is_planned_at_its_run_rate_from_nothing_each_april(catalogue):
    # LD health checks count from 1 April (75% standard): the plan is 75 x months elapsed / 12, so 37.5% in
    # September and 75% in March; 28.8% in September is red against 37.5 (worse by 23%), not against 75.
    plans = load_plans(load_profile(), catalogue)
    values = [7.0, 13.0, 18.0, 24.0, 30.0, 28.8]  # April to September 2026
    out = plan_against_actual(_actuals("ld_health_checks", date(2026, 4, 1), values), plans, catalogue).to_pandas()
    out = out[out.indicator_id == "ld_health_checks"]
    assert len(out) == 12 and out.plan.to_list() == pytest.approx([75 * k / 12 for k in range(1, 13)])
    assert set(out.basis) == {"the year's target spread evenly over the year"}
    assert out.rag.iloc[:6].to_list() == ["green", "green", "amber", "amber", "amber", "red"]
    forecast = forecast_year_end(plan_against_actual(_actuals("ld_health_checks", date(2026, 4, 1), values), plans,
                                                     catalogue), plans, catalogue).to_pandas()
    row = forecast[forecast.indicator_id == "ld_health_checks"].iloc[0]
    assert row.plan == 75.0 and row.forecast == pytest.approx(75 + ((24 - 25) + (30 - 31.25) + (28.8 - 37.5)) / 3)


def _rtt_plan(catalogue, first: date, values: list[float]):
    """The RTT 18-week plan rows for monthly actuals from ``first``."""
    out = plan_against_actual(_actuals("rtt_18wk", first, values), load_plans(load_profile(), catalogue),
                              catalogue).to_pandas()
    return out[out.indicator_id == "rtt_18wk"]


def test_rtt_18_weeks_has_no_plan_where_the_guidance_planned_long_waits_instead(catalogue):
    # The 2023/24 and 2024/25 planning guidance set long-wait objectives (65 weeks by September 2024), not a share
    # within 18 weeks, so no plan is drawn from April 2023 to March 2025, although the NHS Constitution's 92% is the
    # reference. The 2025/26 guidance planned 65% nationally by March 2026: from a March 2025 value of 59%, the plan
    # rises 0.5 a month (59 + 6 x k / 12) to 65% in March 2026; the first planned month is April 2025.
    out = _rtt_plan(catalogue, date(2023, 4, 1), [58.0] * 23 + [59.0] + [60.0] * 12)
    assert out.period_start.min() == date(2025, 4, 1) and 92.0 not in set(out.plan)
    assert out.plan.to_list() == pytest.approx([59 + 6 * k / 12 for k in range(1, 13)])
    assert set(out.basis) == {"glide path to the year's target"}


def test_rtt_18_weeks_2026_27_glides_to_70_percent_and_the_day_before_april_is_2025_26(catalogue):
    # Medium term planning framework (October 2025): 70% nationally in 2026/27. From March 2026 at 64%, April 2026's
    # plan is 64.5 (6 points over 12 months); March 2026, the last day of 2025/26, is 2025/26's 65%.
    out = _rtt_plan(catalogue, date(2025, 3, 1), [60.0] * 12 + [64.0, 64.0])
    by_month = dict(zip(out.period_start, out.plan, strict=True))
    assert by_month[date(2026, 3, 1)] == pytest.approx(65.0) and by_month[date(2026, 4, 1)] == pytest.approx(64.5)
    assert by_month[date(2027, 3, 1)] == pytest.approx(70.0) and date(2025, 3, 1) not in by_month


def test_every_standard_is_planned_only_in_years_with_a_planned_figure(catalogue):
    # One rule for every standard (placewise.analyse.targets.plan_figure): a month has a plan set here exactly when
    # its financial year has its own operating-plan target, or the indicator is held to its standing standard in a
    # year neither declared unset nor after an earlier year's plan target. Checked over 2016/17 to 2026/27.
    from placewise.analyse.targets import plan_figure
    months = [date(2016 + (k + 3) // 12, (k + 3) % 12 + 1, 1) for k in range(132)]
    plans = load_plans(load_profile(), catalogue)
    for i in catalogue.indicators:
        if i.target is None or i.frequency != "monthly" or i.target.trajectory:
            continue
        out = plan_against_actual(_actuals(i.id, months[0], [1.0] * len(months)), plans, catalogue).to_pandas()
        planned = {financial_year(d) for d in out[out.indicator_id == i.id].period_start}
        held = {y for y in map(financial_year, months) if plan_figure(i.target, y) is not None}
        assert planned == held, i.id
        unset = {financial_year(d) for d in months if i.target.unset_reason(financial_year(d))}
        assert not planned & unset, i.id
