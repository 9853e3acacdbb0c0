"""Building blocks of the generator, checked against hand-worked values and properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placewise.profile import load_profile
from placewise.sources.synth.clinical import _periodic
from placewise.sources.synth.config import Stream
from placewise.sources.synth.events import cumulative_intensity, draw, person_rate
from placewise.sources.synth.generate import _start_of_window, build_world, load_synthetic
from placewise.sources.synth.population import (
    _integral, _inverse, _solve_rate, apportion, nhs_numbers, rng_for,
)


@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=30), st.integers(0, 10_000))
def test_apportion_sums_to_total_and_stays_within_one_of_the_exact_share(weights: list[float], total: int) -> None:
    out = apportion(np.array(weights), total)
    exact = np.array(weights) / sum(weights) * total
    assert out.sum() == total
    assert np.all(np.abs(out - exact) < 1)


def test_apportion_hand_worked() -> None:
    # 10 split 1:1:1 -> 3.33 each; the largest remainders (ties by position) get the spare unit.
    assert apportion(np.array([1.0, 1.0, 1.0]), 10).tolist() == [4, 3, 3]
    assert apportion(np.array([26, 16, 13, 11, 9, 8, 7, 5, 3, 2]), 100).tolist() == [26, 16, 13, 11, 9, 8, 7, 5, 3, 2]


def test_nhs_numbers_fill_the_test_range_exactly() -> None:
    """Every valid test-range number can be drawn (and only those) when the range is asked for whole."""
    numbers = nhs_numbers(rng_for(2, 0), 909_091)
    found = set(numbers.tolist())
    assert len(found) == len(numbers) == 909_091
    assert numbers[0] >= "9990000000" and numbers[-1] <= "9999999999"
    # 999 000 000: 9*10 + 9*9 + 9*8 = 243; 243 mod 11 = 1; 11 - 1 = 10, so no valid number has this stem.
    assert not any(n.startswith("999000000") for n in found)
    # 999 000 001: 243 + 1*2 = 245; 245 mod 11 = 3; check digit 11 - 3 = 8.
    assert "9990000018" in found
    # 999 999 999: 9 * (10 + 9 + ... + 2) = 486; 486 mod 11 = 2; check digit 9.
    assert "9999999999" in found
    sample = numbers[::997]
    digits = np.array([[int(c) for c in n] for n in sample])
    check = (11 - (digits[:, :9] * np.arange(10, 1, -1)).sum(axis=1) % 11) % 11
    assert np.all(check == digits[:, 9])


def test_beyond_the_test_range_the_rest_come_from_the_never_issued_9xx_stems() -> None:
    """More people than the test range holds: the whole test range, then valid, distinct 900-998 numbers."""
    numbers = nhs_numbers(rng_for(2, 0), 909_091 + 5_000)
    assert len(set(numbers.tolist())) == len(numbers) == 914_091
    in_test = numbers >= "9990000000"
    assert in_test.sum() == 909_091
    rest = numbers[~in_test]
    assert rest[0] >= "9000000000" and rest[-1] < "9990000000"  # sorted
    digits = np.array([[int(c) for c in n] for n in rest])
    check = (11 - (digits[:, :9] * np.arange(10, 1, -1)).sum(axis=1) % 11) % 11
    assert np.all(check == digits[:, 9])
    assert np.array_equal(numbers, nhs_numbers(rng_for(2, 0), 914_091))


def test_a_small_draw_spreads_over_the_whole_range() -> None:
    numbers = nhs_numbers(rng_for(3, 0), 1_000).astype(np.int64)
    assert numbers.min() < 9_991_000_000 and numbers.max() > 9_998_000_000


def test_a_falling_hazard_has_a_finite_total() -> None:
    # slope -0.04 from age 1: the integral never exceeds e^{-0.04 (1 - 50)} / 0.04 = 177.47
    assert _inverse(np.array([177.0, 178.0]), -0.04, 1.0)[0] < np.inf
    assert _inverse(np.array([177.0, 178.0]), -0.04, 1.0)[1] == np.inf


@pytest.mark.parametrize("slope", [-0.04, 0.0, 0.08])
def test_inverse_undoes_the_cumulative_hazard(slope: float) -> None:
    ages = np.array([20.0, 45.0, 70.0, 95.0])
    assert np.allclose(_inverse(_integral(ages, slope, 18.0), slope, 18.0), ages)
    assert _integral(np.array([10.0]), slope, 18.0)[0] == 0  # no hazard before the minimum age


def test_integral_hand_worked() -> None:
    # slope 0.1 from 40 to 60: (e^{1} - e^{-1}) / 0.1 = 23.504
    assert _integral(np.array([60.0]), 0.1, 40.0)[0] == pytest.approx(23.5040, abs=1e-4)


def test_solved_rate_gives_the_target_prevalence() -> None:
    rng = np.random.default_rng(5)
    age = rng.uniform(0, 90, 200_000)
    mult = np.exp(0.5 * rng.random(200_000))
    exposure = rng.exponential(size=200_000)
    rate = _solve_rate(age, mult, 0.07, 30.0, exposure, 0.12)
    assert np.mean(exposure <= rate * mult * _integral(age, 0.07, 30.0)) == pytest.approx(0.12, abs=0.001)


def test_periodic_issues_hand_worked() -> None:
    # Started on day 100, every 56 days, kept between days 200 and 400: 212, 268, 324, 380.
    who, day = _periodic(np.array([7]), np.array([100]), 200, np.array([400]), 56)
    assert who.tolist() == [7, 7, 7, 7]
    assert day.tolist() == [212, 268, 324, 380]


def test_start_of_window_gives_whole_months() -> None:
    assert _start_of_window(dt.date(2026, 9, 30), 5) == dt.date(2021, 10, 1)
    assert _start_of_window(dt.date(2025, 12, 31), 3) == dt.date(2023, 1, 1)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 1000))
def test_drawn_events_fall_inside_each_persons_registered_time(seed: int) -> None:
    w = _world()
    stream = Stream(rate=3.0, age=[1.0] * len(w.cfg.age_bands), seasonality=[1.0] * 12)
    block = slice(0, len(w.people))
    who, day = draw(rng_for(seed, 9), stream, w, block)
    p = w.people
    assert np.all(day >= np.maximum(p.start[who], w.window.start))
    assert np.all(day <= p.ref[who])
    assert np.all(np.diff(who) >= 0)


def test_seasonality_and_growth_shape_the_intensity() -> None:
    w = _world()
    flat = Stream(rate=1.0, age=[1.0] * len(w.cfg.age_bands), seasonality=[1.0] * 12)
    cum = cumulative_intensity(flat, w)
    assert cum[-1] == pytest.approx(w.window.end - w.window.start + 1)
    winter = Stream(rate=1.0, age=[1.0] * len(w.cfg.age_bands), seasonality=[2.0] + [1.0] * 11, growth=0.1)
    daily = np.diff(cumulative_intensity(winter, w))
    january = w.month == 0
    assert daily[january][:31].mean() / daily[~january][:31].mean() > 1.8
    assert daily[-1] / daily[0] == pytest.approx(1.1 ** ((len(daily) - 1) / 365.25))  # 1 October to 30 September


def test_lasting_need_keeps_a_streams_mean_and_makes_past_use_foretell_future_use() -> None:
    """A stream's ``need`` loading multiplies each rate by exp(need × z − need²/2): the rate of a person with z = 0
    falls by exp(−need²/2), the mean over z ~ N(0, 1) is unchanged, and counts in two separate years correlate."""
    w = _world()
    everyone = np.arange(len(w.people))
    when = np.full(len(everyone), w.window.end)
    plain = Stream(rate=2.0, age=[1.0] * len(w.cfg.age_bands), seasonality=[1.0] * 12)
    needy = plain.model_copy(update={"need": 0.8})
    base, rate = person_rate(plain, w, everyone, when), person_rate(needy, w, everyone, when)
    z = w.need
    assert np.allclose(rate, base * np.exp(0.8 * z - 0.32))
    assert np.mean(np.exp(0.8 * rng_for(1, 2).standard_normal(1_000_000) - 0.32)) == pytest.approx(1.0, abs=0.005)
    rng = np.random.default_rng(0)
    year1, year2 = rng.poisson(rate), rng.poisson(rate)
    assert np.corrcoef(year1, year2)[0, 1] > 0.15
    assert abs(np.corrcoef(rng.poisson(base), rng.poisson(base))[0, 1]) < 0.05


def test_true_admission_risk_rises_with_age_conditions_deprivation_and_need() -> None:
    """The truth file's 12-month probability, person by person: more of each risk factor, more risk."""
    from placewise.sources.synth.truth import admission_probability

    w = _world()
    base = admission_probability(w)
    current = base > 0
    saved = (w.n_conditions.copy(), w.people.dep.copy(), w.need.copy())
    try:
        for change in ("conditions", "deprivation", "need"):
            if change == "conditions":
                w.n_conditions = saved[0] + 2
            elif change == "deprivation":
                w.people.dep = np.minimum(saved[1] + 0.5, 1.0)
            else:
                w.need = saved[2] + 1.0
            higher = admission_probability(w)
            moved = current & (higher != base)
            assert moved.any() and np.all(higher[moved] > base[moved]), change
            w.n_conditions, w.people.dep, w.need = (a.copy() for a in saved)
    finally:
        w.n_conditions, w.people.dep, w.need = saved
    age = w.people.age_at(w.window.end)
    assert base[current & (age >= 85)].mean() > 5 * base[current & (age >= 20) & (age < 40)].mean()


_WORLD = {}


def _world():
    """A tiny world, built once."""
    if not _WORLD:
        prof = load_profile()
        _WORLD["w"] = build_world(prof, load_synthetic(prof), scale=0.002, seed=3, end_date=dt.date(2026, 9, 30), years=5)
    return _WORLD["w"]


def test_the_generator_never_reads_the_engines_codelists_or_catalogue() -> None:
    """Its own vocabulary only: no generator module imports placewise.codelists or the indicator catalogue."""
    import ast
    from pathlib import Path

    import placewise.sources.synth as synth
    folder = Path(synth.__file__).parent
    for path in folder.glob("*.py"):
        if path.name == "calibrate.py":  # the calibration report measures the files as the engine would
            continue
        tree = ast.parse(path.read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m and ("codelists" in m or "catalogue" in m or "derive" in m)], path


def test_vocabulary_codes_are_well_formed() -> None:
    """Every SNOMED CT and dm+d id passes its Verhoeff check; ICD-10 and OPCS-4 codes have SUS's form."""
    import re

    from placewise.ingest.codes import dmd_valid, snomed_concept_valid
    from placewise.sources.synth import hospital_codes as h
    from placewise.sources.synth import vocabulary as v
    snomed = [c for w in v.DIAGNOSIS.values() for c in w] + list(v.RESOLVED.values()) + list(v.SYSTOLIC)
    snomed += list(v.DIASTOLIC_OF.values()) + [c for _, w in v.ONLY_NON_DIAGNOSTIC.values() for c in w]
    snomed += [v.BMI, v.SPIROMETRY, v.EFI_SCORE, *v.FRAILTY_GRADES, v.LD_HEALTH_CHECK, v.SMI_HEALTH_CHECK, *v.SMOKING]
    snomed += [*v.CHOLESTEROL, v.ALCOHOL_INTAKE, *v.ALCOHOL_LEVEL, *v.PALLIATIVE_ENTRY, *v.PALLIATIVE_REVIEW]
    assert snomed_concept_valid(snomed).all()
    assert dmd_valid([c for m in v.MEDICINES.values() for c in m.products]).all()
    icd = [c for w in h.COMORBIDITY_ICD10.values() for c in w] + list(h.FALL_INJURY_PRIMARY_ICD10)
    icd += list(h.FALL_EXTERNAL_CAUSE_ICD10) + list(h.OTHER_EMERGENCY_ICD10) + list(h.ELECTIVE_PRIMARY)
    assert all(re.fullmatch(r"[A-Z][0-9]{2}[0-9X]", c) for c in icd)
    assert all(c.startswith(("S", "T")) for c in h.FALL_INJURY_PRIMARY_ICD10)
    assert all("W00" <= c < "W20" for c in h.FALL_EXTERNAL_CAUSE_ICD10)
    opcs = [c for _, _, w in h.ELECTIVE_PRIMARY.values() for c in w] + [c for w in h.EMERGENCY_PROCEDURES.values() for c in w]
    assert all(re.fullmatch(r"[A-Z][0-9]{3}", c) for c in opcs)
