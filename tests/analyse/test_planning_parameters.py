"""National schedules, dwelling trajectories, Monte Carlo draws and the planning profile."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from placewise.analyse.planning.config import Interval, load_planning
from placewise.analyse.planning.housing import completions, dwellings, household_capacity
from placewise.analyse.planning.schedules import fertility, life_expectancy, male_share_of_births, mortality
from placewise.analyse.planning.uncertainty import central, draws
from placewise.profile import ProfileError, load_profile


@pytest.fixture(scope="module")
def planning():
    return load_planning(load_profile())


def test_life_expectancy_of_a_constant_hazard() -> None:
    # q = 1 - e^-h at every age: expectation of life is about 1/h (mid-year deaths), 91 ages long.
    h = 0.05
    q = np.full(91, 1 - np.exp(-h))
    lived = sum((1 - q[0]) ** a * (1 - q[0] / 2) for a in range(90)) + (1 - q[0]) ** 90 / h
    assert life_expectancy(q) == pytest.approx(lived)


def test_national_schedules_reproduce_the_ons_facts(planning) -> None:
    q = mortality(planning.national)
    np.testing.assert_allclose(life_expectancy(q), [82.6, 78.6], atol=1e-6)
    assert (np.diff(q[:, 20:], axis=1) > 0).all()  # rising with age in adulthood
    assert q[1, 80] > q[0, 80]
    f = fertility(planning.national)
    assert f.sum() == pytest.approx(1.49)
    assert f[:15].sum() == 0 and f[50:].sum() == 0
    assert (np.arange(91) + 1) @ f / f.sum() == pytest.approx(30.9, abs=0.15)  # aged a at the start: a + 1 at the birth
    assert male_share_of_births(planning.national) == pytest.approx(105 / 205)


def test_dwellings_add_completions_and_scale_future_ones_by_delivery(planning) -> None:
    bedford = planning.housing["E06000055"]
    assert completions(bedford, 2029, 2032).tolist() == [970, 970, 1700, 1700]
    stock = dwellings(bedford, np.array([2021, 2026, 2031]), 2026, np.array([1.0, 0.5]))
    assert stock[0].tolist() == [76000, 76000 + 5 * 970, 76000 + 9 * 970 + 1700]
    assert stock[1].tolist() == [76000, 76000 + 5 * 970, 76000 + 5 * 970 + 0.5 * (4 * 970 + 1700)]
    households, housed = household_capacity([bedford], np.array([2026, 2027]), 2026, np.array([1.0]),
                                            np.array([-0.01]))
    assert housed[0, 0, 0] == 1
    assert housed[0, 0, 1] == pytest.approx((76000 + 6 * 970) / (76000 + 5 * 970) * 0.99)
    assert households[0, 0, 0] == pytest.approx((76000 + 5 * 970) * 0.97)


def test_central_cb_plan_delivers_32000_dwellings_by_2035(planning) -> None:
    # 001 L202: 'a need for 32,000 new dwellings by 2035' (Central Bedfordshire Local Plan 2015-2035).
    assert completions(planning.housing["E06000056"], 2016, 2035).sum() == 32000


@pytest.mark.parametrize("distribution,low,high", [("normal", -0.02, 0.05), ("lognormal", 0.7, 1.3)])
def test_sampled_percentiles_round_trip_to_the_stated_interval(distribution: str, low: float, high: float) -> None:
    iv = Interval(low=low, high=high, distribution=distribution, source="test")
    values = draws(iv, "x", 256, seed=1)
    assert values[0] == central(iv)
    p10, p90 = np.percentile(values[1:], [10, 90])
    width = high - low
    assert p10 == pytest.approx(low, abs=0.02 * width)
    assert p90 == pytest.approx(high, abs=0.02 * width)


def test_draws_are_reproducible_and_independent_by_name() -> None:
    iv = Interval(low=0.0, high=1.0, source="test")
    assert np.array_equal(draws(iv, "a", 64, 1), draws(iv, "a", 64, 1))
    assert not np.array_equal(draws(iv, "a", 64, 1), draws(iv, "a", 64, 2))
    assert not np.array_equal(draws(iv, "a", 64, 1), draws(iv, "b", 64, 1))


def test_interval_checks() -> None:
    with pytest.raises(ValueError, match="above high"):
        Interval(low=2, high=1, source="test")
    with pytest.raises(ValueError, match="positive low"):
        Interval(low=0, high=1, distribution="lognormal", source="test")


def test_bad_planning_profile_names_file_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    shutil.copytree(load_profile().folder, folder)
    text = (folder / "planning.yaml").read_text()
    (folder / "planning.yaml").write_text(text.replace("vacancy: 0.03", "vacancy: 1.5"))
    with pytest.raises(ProfileError, match=r"planning.yaml: housing.E06000055.vacancy"):
        load_planning(load_profile(folder))
    (folder / "planning.yaml").write_text(text.replace("  E06000032:   # Luton", "  E06000099:   # Luton"))
    with pytest.raises(ProfileError, match=r"without a dwelling trajectory \['E06000032'\]"):
        load_planning(load_profile(folder))


PLACES = ("E06000055", "E06000032")


@pytest.mark.parametrize("body,message", [
    ("place_code,sex,age\n", "missing column(s) population"),
    ("place_code,sex,age,population\nE06000099,female,0,5\n", "row 2, field place_code: 'E06000099'"),
    ("place_code,sex,age,population\nE06000055,woman,0,5\n", "row 2, field sex: 'woman'"),
    ("place_code,sex,age,population\nE06000055,female,91,5\n", "row 2, field age: '91'"),
    ("place_code,sex,age,population\nE06000055,female,0,-1\n", "row 2, field population: '-1'"),
    ("place_code,sex,age,population\nE06000055,female,0,5\n", "no population for Place(s) E06000032"),
])
def test_base_population_file_errors_name_row_and_field(tmp_path: Path, body: str, message: str) -> None:
    from placewise.analyse.planning.rates import read_base_population

    path = tmp_path / "mye.csv"
    path.write_text(body)
    with pytest.raises(ValueError) as e:
        read_base_population(path, PLACES)
    assert str(path) in str(e.value) and message in str(e.value)


def test_base_population_file_read_and_in_migration_scaled_with_it(tmp_path: Path) -> None:
    from placewise.analyse.planning.projection import Rates
    from placewise.analyse.planning.rates import read_base_population, with_base

    path = tmp_path / "mye.csv"
    path.write_text("place_code,sex,age,population\nE06000055,female,0,100\nE06000055,male,90,50\n"
                    "E06000032,female,30,400\n")
    pop = read_base_population(path, PLACES)
    assert pop[0, 0, 0] == 100 and pop[0, 1, 90] == 50 and pop[1, 0, 30] == 400 and pop.sum() == 550
    zero = np.zeros((2, 2, 91))
    old = zero.copy()
    old[:, 0, 10] = [15, 40]
    rates = Rates(PLACES, 2026, old, zero, np.zeros((2, 91)), 0.5, zero, np.ones((2, 2, 91)), np.zeros(91), 75)
    new = with_base(rates, pop, 2021)
    assert new.base_year == 2021
    np.testing.assert_allclose(new.in_count[:, 0, 0], [150 / 15, 400 / 40])
