"""Central rates for the projection from the observed history, the national schedules and the profile.

Local levels, national shapes: each Place's mortality is the national schedule scaled by its
observed deaths over those the schedule expects (indirect standardisation, by sex), and its
fertility likewise by births. Migration is taken directly from what was observed, in five-year age
bands (single years are too sparse), spread evenly over the band's ages. The communal population is
the profile's share by age of the base population.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from placewise.analyse.planning.config import AGES, SEXES, Planning
from placewise.analyse.planning.history import History
from placewise.analyse.planning.projection import Rates
from placewise.analyse.planning.schedules import fertility, male_share_of_births, mortality

BAND = np.minimum(np.arange(AGES) // 5, 18)
"""Five-year band of each single year of age (0-4 … 85-89, 90+)."""


def banded(values: np.ndarray) -> np.ndarray:
    """Sum over single years into five-year bands along the last axis."""
    out = np.zeros(values.shape[:-1] + (BAND.max() + 1,))
    np.add.at(out.T, BAND, values.T)  # out.T is a view: the bands fill along out's last axis
    return out


def _ratio(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Observed over expected, 1 where nothing was expected."""
    return np.where(expected > 0, observed / np.where(expected > 0, expected, 1), 1.0)


def communal_share(planning: Planning) -> np.ndarray:
    """The communal share by single year of age from the profile's bands."""
    c = planning.communal
    return np.asarray(c.shares)[np.searchsorted(c.band_lowers, np.arange(AGES), side="right") - 1]


def rates_from_history(history: History, planning: Planning, years: slice = slice(None),
                       base: int = -1) -> Rates:
    """Rates observed over the chosen years (default all), projecting from mid-year ``base`` (default the last)."""
    exposure = history.population[:-1][years]
    q_nat = mortality(planning.national)
    f_nat = fertility(planning.national)
    mort = _ratio(history.deaths[years].sum(axis=(0, 3)), (exposure * q_nat).sum(axis=(0, 3)))
    fert = _ratio(history.births[years].sum(axis=(0, 2)), (exposure[:, :, 0, :] * f_nat).sum(axis=(0, 2)))
    out_rate = _ratio(banded(history.out_migration[years].sum(axis=0)), banded(exposure.sum(axis=0)))
    out_rate = np.where(banded(exposure.sum(axis=0)) > 0, out_rate, 0.0)
    n_years = len(exposure)
    in_band = banded(history.in_migration[years].sum(axis=0)) / n_years
    width = np.bincount(BAND)
    base_year = history.mid_years[base].year
    return Rates(
        places=history.places, base_year=base_year, population=history.population[base],
        death=np.minimum(q_nat * mort[..., None], 1.0), fertility=f_nat * fert[:, None],
        male_births=male_share_of_births(planning.national), out_rate=np.minimum(out_rate[..., BAND], 1.0),
        in_count=(in_band / width)[..., BAND], communal_share=communal_share(planning),
        communal_from_age=planning.communal.rate_from_age,
    )


def read_base_population(path: Path, places: tuple[str, ...]) -> np.ndarray:
    """A mid-year estimate file (``place_code, sex, age, population``; age 90 is 90+) as [Place, sex, age].

    Errors name the file, the row (the header is row 1), the field and the value.
    """
    out = np.zeros((len(places), 2, AGES))
    place_ix, sex_ix = {p: i for i, p in enumerate(places)}, {s: i for i, s in enumerate(SEXES)}
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"place_code", "sex", "age", "population"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            for row_no, row in enumerate(reader, start=2):
                out[_cell(path, row_no, row, place_ix, sex_ix)] += _count(path, row_no, row["population"])
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the base population file: {e}") from None
    missing_places = [p for i, p in enumerate(places) if out[i].sum() == 0]
    if missing_places:
        raise ValueError(f"{path}: no population for Place(s) {', '.join(missing_places)}")
    return out


def _cell(path: Path, row_no: int, row: dict[str, str], place_ix: dict[str, int],
          sex_ix: dict[str, int]) -> tuple[int, int, int]:
    """The (Place, sex, age) index of one row, or an error naming the bad field."""
    if row["place_code"] not in place_ix:
        raise ValueError(f"{path}: row {row_no}, field place_code: {row['place_code']!r} is not a Place of the profile")
    if row["sex"] not in sex_ix:
        raise ValueError(f"{path}: row {row_no}, field sex: {row['sex']!r} is not one of {', '.join(SEXES)}")
    try:
        age = int(row["age"])
    except ValueError:
        age = -1
    if not 0 <= age < AGES:
        raise ValueError(f"{path}: row {row_no}, field age: {row['age']!r} is not a whole number from 0 to 90")
    return place_ix[row["place_code"]], sex_ix[row["sex"]], age


def _count(path: Path, row_no: int, text: str) -> float:
    """A non-negative population count, or an error naming the row."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{path}: row {row_no}, field population: {text!r} is not a non-negative number")
    return value


def with_base(rates: Rates, population: np.ndarray, base_year: int) -> Rates:
    """The same rates projecting from another base population and year (an ONS mid-year estimate).

    In-migration is a count, so it is scaled with each Place's population; the rest are rates.
    """
    old, new = rates.population.sum(axis=(1, 2)), population.sum(axis=(1, 2))
    scale = np.where(old > 0, new / np.where(old > 0, old, 1), 0.0)
    return replace(rates, population=population, base_year=base_year, in_count=rates.in_count * scale[:, None, None])


def scaled_to(population: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Each Place's population [Place, sex, age] scaled to a given total, keeping its age and sex shape."""
    current = population.sum(axis=(1, 2))
    if (current <= 0).any():
        raise ValueError("cannot scale a Place with no population to a total")
    return population * (np.asarray(totals, dtype=float) / current)[:, None, None]
