"""Cohort-component arithmetic: hand-worked steps, and the accounting identity in every run, Place and year."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placewise.analyse.planning.config import AGES
from placewise.analyse.planning.projection import Draws, Rates, communal, project


def _rates(places: int = 1, **overrides: np.ndarray | float | int) -> Rates:
    """Rates of zero everywhere (nothing happens) unless overridden."""
    zero = np.zeros((places, 2, AGES))
    fields = dict(places=tuple(f"E0600000{i}" for i in range(places)), base_year=2026, population=zero.copy(),
                  death=zero.copy(), fertility=np.zeros((places, AGES)), male_births=0.5, out_rate=zero.copy(),
                  in_count=zero.copy(), communal_share=np.zeros(AGES), communal_from_age=75)
    fields.update(overrides)
    return Rates(**fields)


def _draws(runs: int = 1, **overrides: np.ndarray) -> Draws:
    """Central draws (multipliers 1, no improvement) for ``runs`` runs."""
    fields = dict(mortality_level=np.ones(runs), mortality_improvement=np.zeros(runs),
                  fertility_level=np.ones(runs), migration_level=np.ones(runs))
    fields.update(overrides)
    return Draws(**fields)


def test_one_step_worked_by_hand() -> None:
    # 100 girls aged 0 and 50 aged 1; q = 0.1 and 0.2; 10% leave; 10 girls aged 1 arrive.
    pop, q, out, arrive = (np.zeros((1, 2, AGES)) for _ in range(4))
    pop[0, 0, :2] = [100, 50]
    q[0, 0, :2] = [0.1, 0.2]
    out[0, 0, :] = 0.1
    arrive[0, 0, 1] = 10
    p = project(_rates(population=pop, death=q, out_rate=out, in_count=arrive), _draws(), 1)
    # deaths 10 + 10; leavers 10 + 5; survivors 80 (now 1) + 35 (now 2); arrivals 10 (aged 1)
    assert p.deaths[0, 0, 0] == pytest.approx(20)
    assert p.out_migration[0, 0, 0] == pytest.approx(15)
    assert p.in_migration[0, 0, 0] == pytest.approx(10)
    np.testing.assert_allclose(p.population[1, 0, 0, 0, :3], [0, 90, 35])
    assert p.totals()[1, 0, 0] == pytest.approx(125)


def test_births_split_by_sex_with_half_a_year_of_infant_mortality() -> None:
    pop, q = np.zeros((1, 2, AGES)), np.zeros((1, 2, AGES))
    pop[0, 0, 30] = 1000
    q[0, :, 0] = 0.004
    fert = np.zeros((1, AGES))
    fert[0, 30] = 0.05
    p = project(_rates(population=pop, death=q, fertility=fert, male_births=0.512), _draws(), 1)
    assert p.births[0, 0, 0] == pytest.approx(50)
    np.testing.assert_allclose(p.population[1, 0, 0, :, 0], [50 * 0.488 * 0.998, 50 * 0.512 * 0.998])
    assert p.deaths[0, 0, 0] == pytest.approx(50 * 0.002)
    assert p.population[1, 0, 0, 0, 31] == pytest.approx(1000)


def test_open_age_group_keeps_its_survivors() -> None:
    pop, q = np.zeros((1, 2, AGES)), np.zeros((1, 2, AGES))
    pop[0, 1, 89:] = [10, 40]
    q[0, 1, 89:] = [0.1, 0.25]
    p = project(_rates(population=pop, death=q), _draws(), 1)
    assert p.population[1, 0, 0, 1, 90] == pytest.approx(9 + 30)


def test_mortality_level_and_improvement_scale_deaths_by_run() -> None:
    pop, q = np.zeros((1, 2, AGES)), np.zeros((1, 2, AGES))
    pop[0, 0, 70] = 1000
    q[0, 0, 70:] = 0.02
    p = project(_rates(population=pop, death=q), _draws(2, mortality_level=np.array([1.0, 1.5]),
                                                         mortality_improvement=np.array([0.0, 0.1])), 2)
    np.testing.assert_allclose(p.deaths[0, :, 0], [20, 30])
    np.testing.assert_allclose(p.deaths[1, :, 0], [980 * 0.02, 970 * 0.03 * 0.9])


def test_housing_led_fills_the_gap_to_the_dwellings() -> None:
    pop = np.zeros((1, 2, AGES))
    pop[0, :, 20:60] = 10.0
    share = np.full(AGES, 0.01)
    rates = _rates(population=pop, communal_share=share)
    base_households = (pop - communal(pop, rates)).sum()
    housing = np.array([[[1.0, 1.1]]])
    p = project(rates, _draws(), 1, housing)
    # Ageing moves 0.1 people out of the fixed communal numbers under 75, so the gap is 0.2 smaller.
    assert p.communal[1, 0, 0] == pytest.approx(7.8)
    assert p.totals()[1, 0, 0] - p.communal[1, 0, 0] == pytest.approx(1.1 * base_households)
    assert p.housing_adjustment[0, 0, 0] == pytest.approx(0.1 * base_households - 0.2)


def test_housing_led_loss_takes_people_like_out_migrants() -> None:
    pop, out = np.zeros((1, 2, AGES)), np.zeros((1, 2, AGES))
    pop[0, :, 20:60] = 10.0
    out[0, :, 20:30] = 0.1
    p = project(_rates(population=pop, out_rate=out), _draws(), 1, np.array([[[1.0, 0.9]]]))
    target = 0.9 * pop.sum()
    assert p.totals()[1, 0, 0] == pytest.approx(target)
    unchanged = p.population[1, 0, 0, :, 45:60]
    np.testing.assert_allclose(unchanged, 10.0)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Rates, Draws, int, np.ndarray | None]:
    """Random Places, populations, rates, runs and (sometimes) dwelling-led targets."""
    places, runs, years = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = (places, 2, AGES)
    rates = _rates(places, population=rng.uniform(0, 500, shape) * (rng.random(shape) < 0.8),
                   death=rng.uniform(0, 0.3, shape), fertility=rng.uniform(0, 0.1, (places, AGES)),
                   male_births=rng.uniform(0.4, 0.6), out_rate=rng.uniform(0, 0.5, shape),
                   in_count=rng.uniform(0, 20, shape), communal_share=rng.uniform(0, 0.3, AGES),
                   communal_from_age=int(rng.integers(0, 91)))
    d = _draws(runs, mortality_level=rng.uniform(0.5, 2, runs), mortality_improvement=rng.uniform(-0.02, 0.05, runs),
               fertility_level=rng.uniform(0.5, 1.5, runs), migration_level=rng.uniform(0.5, 1.5, runs))
    housing = None
    if draw(st.booleans()):
        housing = np.concatenate([np.ones((runs, places, 1)), rng.uniform(0.7, 1.5, (runs, places, years))], axis=-1)
    return rates, d, years, housing


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_accounting_identity_every_year_run_and_place(case: tuple[Rates, Draws, int, np.ndarray | None]) -> None:
    rates, d, years, housing = case
    p = project(rates, d, years, housing)
    change = np.diff(p.totals(), axis=0)
    identity = p.births - p.deaths + p.in_migration - p.out_migration + p.housing_adjustment
    np.testing.assert_allclose(change, identity, rtol=1e-10, atol=1e-7)
    assert (p.population >= -1e-9).all()
    assert (p.births >= 0).all() and (p.deaths >= 0).all() and (p.out_migration >= 0).all()
