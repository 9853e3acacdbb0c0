"""Referral variation: standardised ratios, overdispersed funnel limits and conversion, worked by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from placewise.analyse.variation import (
    Ratios,
    conversion,
    disagreement,
    funnel_limits,
    overdispersion,
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


def test_overdispersion_worked_by_hand() -> None:
    # E = 100 each; log(O/E) = 0.5, 0, -0.5; s = 0.1 -> z = 5, 0, -5, winsorised at the 10th/90th
    # percentiles (-4, 4) -> phi = 32/3; N phi = 32 > 2; w = 100 each: tau^2 = (32 - 2) / (300 - 100) = 0.15.
    e = np.full(3, 100.0)
    o = 100 * np.exp([0.5, 0.0, -0.5])
    assert overdispersion(o[:, None], e[:, None])[0] == pytest.approx(0.15)
    assert overdispersion(e[:, None], e[:, None])[0] == 0.0  # no spread: none
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a specialty no unit referred to: 0, without numpy's empty-slice warnings
        assert overdispersion(np.column_stack([o, np.zeros(3)]), np.column_stack([e, e])).tolist() == \
            pytest.approx([0.15, 0.0])
    lower, upper = funnel_limits(100.0, 0.15, 1.959963984540054)
    assert (float(lower), float(upper)) == pytest.approx((np.exp(-0.784), np.exp(0.784)), rel=1e-4)


def test_signals_and_disagreement() -> None:
    r = Ratios(observed=np.array([150.0, 100.0, 60.0]), expected=np.array([100.0, 100.0, 100.0]))
    s = signal(r, 0.0)  # limits at E = 100: exp(+/-0.196) = 0.822, 1.217
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
    assert signal(r, 0.0).tolist() == [0, -1]  # P(X = 0 | E = 10) = 4.5e-5


def test_referral_cube_from_a_hand_built_warehouse() -> None:
    import sys
    from datetime import date
    from pathlib import Path

    import ibis

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
    from measure_builder import Warehouse

    from placewise.analyse.variation import AGE_BANDS, referral_cube

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
    cube = referral_cube(con, [date(2024, 2, 1), date(2024, 3, 1)])
    assert cube.practices == ["P1", "P2", "P3"] and cube.specialties == ["110", "300"]
    woman_54 = (int(np.searchsorted(AGE_BANDS, 54, side="right") - 1) * 2 + 0) * 5 + 0
    man_25 = (int(np.searchsorted(AGE_BANDS, 25, side="right") - 1) * 2 + 1) * 5 + 4
    assert cube.referrals[0, 0, :, woman_54].tolist() == [1, 1]       # Feb and Mar; April is outside
    assert cube.referrals[2, 1, 1, man_25] == 1 and cube.referrals.sum() == 3
    assert cube.population[0, :, woman_54].tolist() == [2, 2] and cube.population[2, :, man_25].tolist() == [1, 1]
    r, p = cube.age_sex()
    assert r.shape == (3, 2, 2, 20) and r.sum() == 3 and p.sum() == 6
