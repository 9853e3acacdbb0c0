"""Referral variation: standardised ratios, overdispersed funnel limits and conversion, worked by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from placewise.analyse.funnels import ratio_overdispersion
from placewise.analyse.variation import (
    Ratios,
    conversion,
    disagreement,
    signal,
    standardised_ratios,
)


def test_isr_against_ics_rates_by_stratum() -> None:
    # Strata (young, old). ICS rates: young 4/400 = 0.01, old 14/200 = 0.07.
    # A: 100 young, 100 old -> E = 1 + 7 = 8, O = 10, ISR 1.25.  B: 300, 100 -> E = 3 + 7 = 10, O = 8, ISR 0.8.
    referrals = np.array([[[1, 9]], [[3, 5]]])   # (units, specialties, strata)
    population = np.array([[100, 100], [300, 100]])
    r = standardised_ratios(referrals, population)
    np.testing.assert_allclose(r.expected[:, 0], [8, 10])
    np.testing.assert_allclose(r.ratio[:, 0], [1.25, 0.8])


def test_monthly_ratios_keep_observed_equal_to_expected_over_the_ics() -> None:
    rng = np.random.default_rng(3)
    pop = rng.integers(50, 500, (6, 4, 10)).astype(float)          # units, months, strata
    refs = rng.poisson(pop[:, None] * 0.02 * np.arange(1, 4)[None, :, None, None])  # units, specs, months, strata
    r = standardised_ratios(refs, pop)
    assert r.ratio.shape == (6, 3, 4)
    np.testing.assert_allclose(r.observed.sum(axis=0), r.expected.sum(axis=0))


def test_feedback_funnels_are_the_report_funnels_worked_by_hand() -> None:
    """One funnel per specialty (column) over the units, as analyse/funnels.py draws the report's rate funnels:
    z-scores on the square-root scale, where a practice with no referrals counts, winsorised, then exact Poisson
    limits widened by tau^2 (Spiegelhalter 2005; FunnelPlotR's CQC method)."""
    # Specialty 1: ten practices each expecting 100: O = 0, 64, 100 x 6, 144, 196 -> z = 2 (sqrt(O) - 10) = -20, -4,
    # 0 x 6, 4, 8. Winsorised at the 10th/90th percentiles (-20 + 0.9 x 16 = -5.6; 4 + 0.1 x 4 = 4.4): z^2 sums to
    # 31.36 + 16 + 16 + 19.36 = 82.72 = N phi > N - 1 = 9; w = 4E = 400: tau^2 = (82.72 - 9) / (4000 - 400) = 0.020478.
    # (The log scale could not place the 0, left it out and had nine practices: too few for an estimate.)
    # Specialty 2: practice 0 expects none (left out, no verdict), so nine practices remain: no estimate, tau^2 = 0,
    # and the limits are the exact Poisson ones (at E = 100: 95% 0.804-1.206, 99.8% 0.701-1.328).
    e = np.full((10, 2), 100.0)
    e[0, 1] = 0.0
    o = np.column_stack([[0, 64, *[100] * 6, 144, 196], [0, *[100] * 7, 75, 130]]).astype(float)
    tau2 = ratio_overdispersion(o, e)
    assert tau2 == pytest.approx([73.72 / 3600, 0.0])
    # Specialty 1 at E = 100: sd = sqrt(1/400 + 0.020478) = 0.15158; 95% limits (1 -/+ 1.96 sd)^2 = 0.4941, 1.6825;
    # 99.8% (1 -/+ 3.09 sd)^2 = 0.2826, 2.1563. 196 (1.96) is high beyond 95%; 0 low beyond 99.8%; 64 and 144 inside.
    # Specialty 2: 130 (1.30) is high beyond 95% and 75 (0.75) low beyond 95%, inside 99.8%.
    s = signal(Ratios(o, e))
    assert s[:, 0].tolist() == [-1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert s[:, 1].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, -1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a specialty no practice was expected to refer to: 0, without warnings
        assert ratio_overdispersion(o, np.column_stack([e[:, 0], np.zeros(10)])).tolist() == \
            pytest.approx([73.72 / 3600, 0.0])


def test_signals_and_disagreement() -> None:
    r = Ratios(observed=np.array([150.0, 100.0, 60.0]), expected=np.array([100.0, 100.0, 100.0]))
    s = signal(r)  # three units, too few for tau^2: exact Poisson limits at E = 100, 0.804 and 1.206
    assert s.tolist() == [1, 0, -1]
    need = np.array([0, 0, -1], dtype=np.int8)
    assert disagreement(s, need).tolist() == [True, False, False]


def test_conversion_and_its_rule() -> None:
    first, admitted = conversion([10, 0], [5, 0], [1, 0])
    assert first[0] == 0.5 and admitted[0] == 0.2 and np.isnan(first[1])
    with pytest.raises(ValueError, match="more than the step before"):
        conversion([10], [11], [1])


def test_zero_referrals_against_one_expected_is_no_signal() -> None:
    # P(X = 0 | E = 1) = 0.37: on the log scale zero is far below any limit, but it is no evidence of low use.
    r = Ratios(observed=np.array([0.0, 0.0]), expected=np.array([1.0, 10.0]))
    assert signal(r).tolist() == [0, -1]  # P(X = 0 | E = 10) = 4.5e-5


def test_referral_cube_from_a_hand_built_warehouse() -> None:
    import sys
    from datetime import date
    from pathlib import Path

    import ibis

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
    from measure_builder import Warehouse

    from placewise.analyse.variation import AGE_BANDS, MULTIMORBIDITY_BANDS, referral_cube

    w = Warehouse()
    # Two women aged 54 in IMD quintile 1 (L1, decile 1) at P1; a man aged 25 in quintile 5 (L2) at P3.
    for pid, lsoa, practice, born, sex in (("a", "L1", "P1", (1970, 1), "female"), ("b", "L1", "P1", (1970, 1),
                                           "female"), ("c", "L2", "P3", (1999, 1), "male")):
        w.person(pid, born=born, sex=sex, lsoa=lsoa, practice=practice)
    for pid, day, tf in (("a", date(2024, 2, 10), "110"), ("a", date(2024, 3, 1), "110"),
                         ("c", date(2024, 3, 31), "300"), ("b", date(2024, 4, 1), "110")):
        w.add("referrals", referral_id=f"R{pid}{day}", person_id=pid, practice_code="P1" if pid != "c" else "P3",
              provider_code="RC9", treatment_function=tf, referral_date=day, priority="routine")
    con = w.load(ibis.duckdb.connect())
    cube = referral_cube(con, [date(2024, 2, 1), date(2024, 3, 1)], [])
    assert cube.practices == ["P1", "P2", "P3"] and cube.specialties == ["110", "300"]
    # No registers counted: everyone is in the first multimorbidity band.
    woman_54 = ((int(np.searchsorted(AGE_BANDS, 54, side="right") - 1) * 2 + 0) * 5 + 0) * len(MULTIMORBIDITY_BANDS)
    man_25 = ((int(np.searchsorted(AGE_BANDS, 25, side="right") - 1) * 2 + 1) * 5 + 4) * len(MULTIMORBIDITY_BANDS)
    assert cube.referrals[0, 0, :, woman_54].tolist() == [1, 1]       # Feb and Mar; April is outside
    assert cube.referrals[2, 1, 1, man_25] == 1 and cube.referrals.sum() == 3
    assert cube.population[0, :, woman_54].tolist() == [2, 2] and cube.population[2, :, man_25].tolist() == [1, 1]
    r, p = cube.age_sex()
    assert r.shape == (3, 2, 2, 20) and r.sum() == 3 and p.sum() == 6


def test_multimorbidity_bands_count_register_conditions_at_each_month_end() -> None:
    # QOF registers v49.0 as the profile declares them; bands none, one, two or three, four or more (NICE NG56's two
    # or more, split at four). Hand-built women aged 54, one per number of conditions, all at P1.
    import sys
    from datetime import date
    from pathlib import Path

    import ibis

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
    from measure_builder import Warehouse

    from placewise.analyse.variation import (
        MULTIMORBIDITY_BANDS,
        MULTIMORBIDITY_REGISTERS,
        STRATA,
        multimorbidity_registers,
        referral_cube,
    )
    from placewise.derive.records import codes
    from placewise.profile import load_profile

    regs = multimorbidity_registers(load_profile())
    assert [r.id for r in regs] == list(MULTIMORBIDITY_REGISTERS)
    conditions = ["hypertension", "chd", "dementia", "copd", "depression"]  # asthma would need a recent inhaler
    w = Warehouse()
    for k in range(6):   # person k has the first k conditions, diagnosed 2020
        w.person(f"p{k}", born=(1970, 1), lsoa="L1", practice="P1")
        for c in conditions[:k]:
            w.event(f"p{k}", date(2020, 5, 1), codes([c])[0])
    # p1 gets a second condition on 29 Feb 2024 (counted at the end of February) and p6 one on 1 Mar 2024 (not in Feb).
    w.event("p1", date(2024, 2, 29), codes(["stroke_tia"])[0])
    w.person("p6", born=(1970, 1), lsoa="L1", practice="P1")
    w.event("p6", date(2024, 3, 1), codes(["chd"])[0])
    w.add("referrals", referral_id="R1", person_id="p4", practice_code="P1", provider_code="RC9",
          treatment_function="110", referral_date=date(2024, 2, 3), priority="routine")
    cube = referral_cube(w.load(ibis.duckdb.connect()), [date(2024, 2, 1), date(2024, 3, 1)], regs)
    by_band = cube.population[0].reshape(2, -1, len(MULTIMORBIDITY_BANDS)).sum(axis=1)
    # Feb: p0, p6 none; p1 two (hypertension, stroke); p2, p3 two or three; p4, p5 four or more.
    # Mar: p6 has one now.
    assert by_band.tolist() == [[2, 0, 3, 2], [1, 1, 3, 2]]
    assert cube.referrals.reshape(*cube.referrals.shape[:3], *STRATA)[..., 3].sum() == 1   # p4's referral: four or more
    r, p = cube.age_sex()
    assert r.sum() == 1 and p.sum() == 14


def test_multimorbidity_bands_follow_each_registers_age_range_and_span_month_by_month() -> None:
    # Depression counts from 18 (QOF v49.0), age in whole years from the first of the birth month: a woman born March
    # 2006 is 17 at the end of February 2024 and 18 at the end of March. A diagnosis counts from the end of its month,
    # whether on its first day or its last.
    import sys
    from datetime import date
    from pathlib import Path

    import ibis

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
    from measure_builder import Warehouse

    from placewise.analyse.variation import MULTIMORBIDITY_BANDS, multimorbidity_registers, referral_cube
    from placewise.derive.records import codes
    from placewise.profile import load_profile

    w = Warehouse()
    w.person("young", born=(2006, 3), lsoa="L1", practice="P1")
    for c in ("depression", "hypertension"):
        w.event("young", date(2020, 5, 1), codes([c])[0])
    w.person("older", born=(1970, 1), lsoa="L1", practice="P1")
    w.event("older", date(2024, 3, 1), codes(["hypertension"])[0])   # from 1 March: counted at the end of March only
    w.event("older", date(2024, 3, 31), codes(["chd"])[0])           # the month's last day counts at its end
    cube = referral_cube(w.load(ibis.duckdb.connect()), [date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)],
                         multimorbidity_registers(load_profile()))
    by_band = cube.population[0].reshape(3, -1, len(MULTIMORBIDITY_BANDS)).sum(axis=1)
    # Feb: young one (hypertension; 17, so not depression), older none. Mar: young two (18 now), older two.
    # Apr: the same.
    assert by_band.tolist() == [[1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 2, 0]]


def test_referrals_link_to_first_attendances_and_admissions_by_our_rule_at_the_boundaries() -> None:
    # Our rule (docs/variation.md): same person and treatment function; an attended first appointment from the day of
    # the referral to 18 x 7 = 126 days after; an elective admission from the day of that attendance to 12 months
    # after; each event used once (an attendance goes to the latest referral it may follow).
    import sys
    from datetime import date, timedelta
    from pathlib import Path

    import ibis

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
    from measure_builder import Warehouse

    from placewise.analyse.variation import conversion, conversion_counts, referral_pathways

    w = Warehouse()
    day0 = date(2023, 1, 2)

    def refer(rid: str, pid: str, on: date, tf: str = "300") -> None:
        w.add("referrals", referral_id=rid, person_id=pid, practice_code="P1", provider_code="RC9",
              treatment_function=tf, referral_date=on, priority="routine")

    def seen(pid: str, on: date, tf: str = "300", first: bool = True, outcome: str = "attended") -> None:
        w.add("outpatient_appointments", appointment_id=f"A{pid}{on}{tf}{first}", person_id=pid, provider_code="RC9", treatment_function=tf,
              appointment_date=on, first_attendance=first, attendance=outcome, referral_source="gp")

    for pid in "abcdefgh":
        w.person(pid, practice="P1")
    refer("Ra", "a", day0)                           # seen on day 126: linked; admitted 12 months later: linked
    seen("a", day0 + timedelta(days=126))
    w.spell("a", date(2024, 5, 8), date(2024, 5, 9), method="elective")
    refer("Rb", "b", day0)                           # seen on day 127: not linked
    seen("b", day0 + timedelta(days=127))
    refer("Rc1", "c", day0)                          # two referrals compete for one attendance: the later takes it
    refer("Rc2", "c", day0 + timedelta(days=14))
    seen("c", day0 + timedelta(days=30))
    w.spell("c", day0 + timedelta(days=30), day0 + timedelta(days=31), method="elective")   # same day: linked
    refer("Rd", "d", day0)                           # seen in another treatment function, and a follow-up and a
    seen("d", day0 + timedelta(days=10), tf="110")   # missed first appointment in this one: none linked
    seen("d", day0 + timedelta(days=11), first=False)
    seen("d", day0 + timedelta(days=12), outcome="did_not_attend")
    refer("Re", "e", day0)                           # seen the day before the referral: not linked
    seen("e", day0 - timedelta(days=1))
    refer("Rf", "f", day0)                           # admitted a day over 12 months, and as an emergency: not linked
    seen("f", day0 + timedelta(days=7))
    w.spell("f", date(2024, 1, 10), date(2024, 1, 11), method="elective")
    w.spell("f", day0 + timedelta(days=20), day0 + timedelta(days=21))
    refer("Rg", "g", day0 + timedelta(days=1))       # two attendances, one referral: it keeps the first, and the
    seen("g", day0 + timedelta(days=2))              # second is not used
    seen("g", day0 + timedelta(days=3))
    con = w.load(ibis.duckdb.connect())
    p = referral_pathways(con, date(2023, 1, 1), date(2023, 1, 31)).to_pandas().set_index("referral_id")
    linked = {r: (a, m) for r, a, m in zip(p.index, p.attended_on.notna(), p.admitted_on.notna(), strict=True)}
    assert linked == {"Ra": (True, True), "Rb": (False, False), "Rc1": (False, False), "Rc2": (True, True),
                      "Rd": (False, False), "Re": (False, False), "Rf": (True, False), "Rg": (True, False)}
    assert p.loc["Ra", "attended_on"].date() == day0 + timedelta(days=126)
    assert p.loc["Rc2", "attended_on"].date() == day0 + timedelta(days=30)
    # Counts: every 18-week window has closed by 2024-06-30, and every 12-month one, except none.
    c = conversion_counts(referral_pathways(con, date(2023, 1, 1), date(2023, 1, 31)), date(2024, 6, 30)).to_pandas()
    assert c[["referred", "attended", "seen", "admitted"]].iloc[0].tolist() == [8, 4, 4, 2]
    to_first, to_admission = conversion(c.referred, c.attended, c.admitted, c.seen)
    assert to_first[0] == 0.5 and to_admission[0] == 0.5
    # By 2023-06-01 Ra's 126 days have passed (1 Jan + 126 = 8 May) but no 12-month window has: nothing is "seen".
    early = conversion_counts(referral_pathways(con, date(2023, 1, 1), date(2023, 1, 31)), date(2023, 6, 1)).to_pandas()
    assert early[["referred", "attended", "seen", "admitted"]].iloc[0].tolist() == [8, 4, 0, 0]
