"""Synthesise → ingest → measure on a small synthetic BLMK: every indicator computes and adds up."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from placewise.analyse.measurements import measure_all
from placewise.ingest.load import ingest
from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect

pytestmark = pytest.mark.slow
KEY = b"end-to-end test key, not a secret"
PERSON_BASED = ["hypertension_prevalence", "gp_appointments_rate", "dementia_diagnosis_rate", "ld_health_checks"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """A 0.3% synthetic BLMK with two years of history, ingested into a DuckDB warehouse."""
    root = tmp_path_factory.mktemp("e2e")
    generate(load_profile(), scale=0.003, seed=11, out=root / "files", years=2)
    ingest(root / "files", root / "w.duckdb", KEY)
    return root / "w.duckdb"


@pytest.fixture(scope="module")
def result(synthetic) -> pd.DataFrame:
    return measure_all(connect(synthetic), load_profile()).to_pandas()


def test_every_person_level_indicator_has_system_values(result):
    cat = load_catalogue(load_profile())
    ics = result[(result.geography_type == "ics") & (result.breakdown == "none")]
    published = {"ae_4hr_type1_published", "ae_4hr_all_published"}   # NHS England data end in March 2019
    missing = {i.id for i in cat.indicators} - published - set(ics.indicator_id)
    assert not missing
    proportions = ics[ics.indicator_id.isin([i.id for i in cat.indicators if i.measure == "proportion"])]
    assert (proportions.numerator <= proportions.denominator).all()
    assert proportions.value.dropna().between(0, 100).all()


def test_plausible_system_values(result):
    ics = result[(result.geography_type == "ics") & (result.breakdown == "none")]
    prevalence = ics[ics.indicator_id == "hypertension_prevalence"].value
    assert prevalence.between(5, 25).all()          # recorded hypertension prevalence in England is about 14%
    four_hours = ics[ics.indicator_id == "ae_4hr_all"].value
    assert four_hours.between(40, 100).all()


@pytest.mark.parametrize("indicator", PERSON_BASED)
def test_geographies_and_groups_add_up_to_the_system(result, indicator):
    r = result[result.indicator_id == indicator]
    ics = r[(r.geography_type == "ics") & (r.breakdown == "none")].set_index("period_end")
    for level in ("practice", "pcn", "place", "legacy_ccg"):
        part = r[(r.geography_type == level) & (r.breakdown == "none")].groupby("period_end")
        pd.testing.assert_series_equal(part.denominator.sum(), ics.denominator, check_names=False, rtol=1e-9)
        pd.testing.assert_series_equal(part.numerator.sum(), ics.numerator, check_names=False, rtol=1e-9)
    quintiles = r[(r.geography_type == "ics") & (r.breakdown == "imd_quintile")].groupby("period_end")
    pd.testing.assert_series_equal(quintiles.denominator.sum(), ics.denominator, check_names=False, rtol=1e-9)
