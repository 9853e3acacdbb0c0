"""The planning run: reproducible Monte Carlo, parameters round-trip, scenarios, capacity; the CLI end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from placewise.analyse.planning.config import AGES, SETTINGS, load_planning
from placewise.analyse.planning.demand import activity_rates
from placewise.analyse.planning.history import History
from placewise.analyse.planning.rates import rates_from_history
from placewise.analyse.planning.run import plan
from placewise.cli import app
from placewise.profile import load_profile

PLACES = ("E06000055", "E06000056", "E06000032", "E06000042")


def _history() -> History:
    """Two years of a made-up history: 1,000 people per single year of age and sex in each Place."""
    rng = np.random.default_rng(0)
    cell = (len(PLACES), 2, AGES)
    pop = np.full((3,) + cell, 1000.0)
    return History(places=PLACES, mid_years=(date(2024, 6, 30), date(2025, 6, 30), date(2026, 6, 30)),
                   population=pop, deaths=rng.poisson(np.linspace(0.5, 150, AGES), (2,) + cell).astype(float),
                   out_migration=rng.poisson(30, (2,) + cell).astype(float),
                   in_migration=rng.poisson(35, (2,) + cell).astype(float),
                   births=rng.poisson(600, (2, len(PLACES), 2)).astype(float),
                   activity=rng.poisson(200, (2, len(SETTINGS)) + cell).astype(float), other_sex=0)


@pytest.fixture(scope="module")
def inputs():
    planning = load_planning(load_profile())
    history = _history()
    return rates_from_history(history, planning), activity_rates(history), planning


@pytest.mark.slow
def test_same_seed_identical_other_seed_differs(inputs) -> None:
    rates, act, planning = inputs
    a = plan(rates, act, planning, to=2032, runs=16, seed=7).summary
    b = plan(rates, act, planning, to=2032, runs=16, seed=7).summary
    c = plan(rates, act, planning, to=2032, runs=16, seed=8).summary
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.p90, c.p90)
    assert np.allclose(a.principal, c.principal)  # the principal run takes no draws


@pytest.mark.slow
def test_parameters_round_trip_and_percentiles_are_ordered(inputs) -> None:
    rates, act, planning = inputs
    result = plan(rates, act, planning, to=2030, runs=256, seed=1)
    p = result.parameters
    width = p.high - p.low
    assert ((p.sampled_p10 - p.low).abs() <= 0.02 * width).all()
    assert ((p.sampled_p90 - p.high).abs() <= 0.02 * width).all()
    assert {"demography.fertility_level", "housing.delivery", "growth.gp_appointments",
            "capacity.appointments_per_gp_clinical_wte", "workforce.productivity_growth"} <= set(p.parameter)
    s = result.summary
    assert (s.p10 <= s.p50 + 1e-9).all() and (s.p50 <= s.p90 + 1e-9).all()


def test_ics_is_the_sum_of_places_and_identities_hold_in_every_run(inputs) -> None:
    rates, act, planning = inputs
    result = plan(rates, act, planning, to=2035, runs=32, seed=3)
    s = result.summary
    pop = s[(s.scenario == "principal") & (s.measure == "population")]
    by_year = pop[pop.geography != "ICS"].groupby("year").principal.sum()
    np.testing.assert_allclose(pop[pop.geography == "ICS"].set_index("year").principal, by_year)
    for proj in result.projections.values():
        change = np.diff(proj.totals(), axis=0)
        np.testing.assert_allclose(change, proj.births - proj.deaths + proj.net_migration, rtol=1e-12, atol=1e-6)
    assert (result.projections["trend"].housing_adjustment == 0).all()


def test_scenarios_change_only_their_settings(inputs) -> None:
    rates, act, planning = inputs
    result = plan(rates, act, planning, to=2035, runs=32, seed=3,
                  scenarios=["principal", "frailty_case_finding", "shift_out_of_hospital"])
    base, frail, shift = (result.activity[n] for n in ("principal", "frailty_case_finding", "shift_out_of_hospital"))
    em, ae = SETTINGS.index("emergency_admissions"), SETTINGS.index("ae_attendances")
    assert (frail[-1, :, SETTINGS.index("falls_admissions")] < base[-1, :, SETTINGS.index("falls_admissions")]).all()
    op, comm = SETTINGS.index("outpatient_attendances"), SETTINGS.index("community_contacts")
    # The principal run and most sampled runs avoid admissions (a normal interval leaves 10% beyond each end).
    assert (frail[-1, 0, em] < base[-1, 0, em]).all() and (frail[-1, :, em] < base[-1, :, em]).mean() > 0.8
    np.testing.assert_allclose(frail[:, :, ae], base[:, :, ae])
    np.testing.assert_allclose(frail[0], base[0])  # nothing changes in the base year
    assert (shift[-1, :, op] < base[-1, :, op]).all() and (shift[-1, :, comm] > base[-1, :, comm]).all()


def test_capacity_arithmetic(inputs) -> None:
    rates, act, planning = inputs
    result = plan(rates, act, planning, to=2030, runs=4, seed=1, scenarios=["principal"])
    s = result.summary.set_index(["measure", "geography", "year"]).principal
    days = s["emergency_bed_days", "ICS", 2030] + s["elective_bed_days", "ICS", 2030]
    assert s["beds_at_85%", "ICS", 2030] == pytest.approx(days / 365 / 0.85)
    assert s["beds_at_92%", "ICS", 2030] == pytest.approx(days / 365 / 0.92)
    assert s["beds_to_add_at_85%", "ICS", 2026] == 0
    # 25,694 WTE in post and 1,820 vacancies (001 L1095, L1099): the base-year gap is the vacancies.
    assert s["nhs_wte_required", "ICS", 2026] == pytest.approx(25694 + 1820)
    assert s["nhs_wte_gap", "ICS", 2026] == pytest.approx(1820)
    gp = s["gp_appointments", "ICS", 2030] / np.sqrt(3500 * 5000)
    assert s["gp_clinical_wte", "ICS", 2030] == pytest.approx(gp)


def test_unknown_scenario_and_past_horizon_are_refused(inputs) -> None:
    rates, act, planning = inputs
    with pytest.raises(ValueError, match="unknown scenario"):
        plan(rates, act, planning, to=2030, runs=2, seed=1, scenarios=["nope"])
    with pytest.raises(ValueError, match="must be after the base year"):
        plan(rates, act, planning, to=2026, runs=2, seed=1)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """A 0.3% synthetic BLMK with three years of history."""
    from placewise.ingest.load import ingest
    from placewise.sources.synth.generate import generate

    root = tmp_path_factory.mktemp("plan-cli")
    generate(load_profile(), scale=0.003, seed=2, out=root / "files", years=3)
    ingest(root / "files", root / "w.duckdb", b"plan-cli-test-key-0123456789abcdef")
    return root / "w.duckdb"


@pytest.mark.slow
def test_plan_cli_end_to_end_and_rerun_identical(warehouse: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["plan", "--db", str(warehouse), "--to", "2035", "--runs", "32", "--seed", "4"]
    first = runner.invoke(app, args + ["--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args + ["--out", str(tmp_path / "b")])
    assert second.exit_code == 0, second.output
    for name in ("summary", "population", "parameters", "backtest"):
        a = pd.read_parquet(tmp_path / "a" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / "b" / f"{name}.parquet"))
        assert len(a) == len(pd.read_csv(tmp_path / "a" / f"{name}.csv"))
    s = pd.read_parquet(tmp_path / "a" / "summary.parquet")
    assert set(s.scenario) == set(load_planning(load_profile()).scenarios)
    assert set(s.geography) == set(PLACES) | {"ICS"} and s.year.max() == 2035
    assert "2 years of history, 2024-06-30 to 2026-06-30" in first.output
    back = pd.read_parquet(tmp_path / "a" / "backtest.parquet")
    total = back[(back.measure == "population") & (back.geography == "ICS")].iloc[0]
    assert abs(total.relative_error) < 0.05  # two years ahead, the registered population within 5%


@pytest.mark.slow
def test_plan_cli_refuses_bad_input(warehouse: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["plan", "--db", str(warehouse), "--scenario", "nope", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown scenario" in bad.output
    base = tmp_path / "mye.csv"
    base.write_text("place_code,sex,age,population\nE06000055,female,abc,10\n")
    bad = runner.invoke(app, ["plan", "--db", str(warehouse), "--base-population", str(base), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "row 2, field age" in bad.output


def test_bed_gap_against_a_recorded_bed_base_where_the_profile_has_one() -> None:
    from placewise.analyse.planning.capacity import bed_gap
    from placewise.analyse.planning.config import Fact

    cap = load_planning(load_profile()).capacity.model_copy(
        update={"bed_capacity": {"E06000056": Fact(value=100, source="test")}})
    needed = np.array([[[50.0, 80.0]], [[60.0, 130.0]]])  # [year, run, Place]
    gap = bed_gap(needed, cap, ("E06000055", "E06000056"))
    np.testing.assert_allclose(gap[:, 0, 0], [0, 10])  # no bed base: growth over the base year
    np.testing.assert_allclose(gap[:, 0, 1], [-20, 30])  # against the 100 recorded beds
