"""Attempted recovery from the planning chapter's pyramids: a reader with every Place's base-year pyramid and the
ICS's registered people by age band and sex (NHS England publishes every ICB's, by five-year band and sex) tries to
get a hidden count back by subtraction.

Decided Place by Place, Bedford Borough's 3 women aged 90 and over were hidden with complements inside Bedford's
own pyramid, while every other Place's women of 90+ were drawn: 3 = 123 in the ICS - 40 - 40 - 40.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from placewise.analyse.planning.config import AGES, load_planning
from placewise.analyse.planning.demand import activity_rates
from placewise.analyse.planning.rates import rates_from_history
from placewise.analyse.planning.run import plan
from placewise.profile import load_profile
from placewise.publish.planning import BANDS, banded, build_chapter

PLACES = ("E06000055", "E06000056", "E06000032", "E06000042")
SEXES = ("female", "male")


@pytest.fixture(scope="module")
def planned(made_up_history):
    """A made-up history: 200 people of every single year of age, Bedford Borough (the first Place) 3 women and
    3 men aged 90 and over, every other Place 40 of each."""
    pop = np.full((3, 4, 2, AGES), 200.0)
    pop[:, :, :, 90] = 40
    pop[:, 0, :, 90] = 3
    history = made_up_history(PLACES, pop, 2)
    planning = load_planning(load_profile())
    return plan(rates_from_history(history, planning), activity_rates(history), planning, to=2030, runs=4, seed=1)


def _hidden(svg: str) -> np.ndarray:
    """Which bands [band, sex] a pyramid marks hidden: its bars and marks come band by band, women first."""
    marks = re.findall(r'class="(hidden|base female|base male)"', svg)
    assert len(marks) == 2 * len(BANDS)
    return np.array([m == "hidden" for m in marks]).reshape(len(BANDS), 2)


def _recoverable(truth: np.ndarray, hidden: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Hidden small counts (Place, band, sex, count) pinned by the visible ones, the ICS's counts by band and sex
    (known) and each Place's totals by band, by sex and overall (unknown), by an exact rank test."""
    n_place, n_band, n_sex = truth.shape
    unknown = [tuple(k) for k in np.argwhere(hidden)]
    col = {k: i for i, k in enumerate(unknown)}
    margins = [(p, b) for p in range(n_place) for b in range(n_band)] + \
        [(p, -1 - s) for p in range(n_place) for s in range(n_sex)] + [(p, -99) for p in range(n_place)]
    width = len(unknown) + len(margins)
    rows = []
    for b in range(n_band):
        for s in range(n_sex):
            eq = np.zeros(width)
            for p in range(n_place):
                if (p, b, s) in col:
                    eq[col[(p, b, s)]] = 1
            rows.append(eq)
    for m, (p, what) in enumerate(margins):
        eq = np.zeros(width)
        eq[len(unknown) + m] = -1
        for b in range(n_band):
            for s in range(n_sex):
                inside = what == b or what == -1 - s or what == -99
                if inside and (p, b, s) in col:
                    eq[col[(p, b, s)]] = 1
        rows.append(eq)
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    return [(*map(int, k), int(truth[k])) for k in unknown if 1 <= truth[k] <= 7
            and np.linalg.matrix_rank(np.vstack([a, np.eye(width)[col[k]]])) == rank]


def test_no_band_comes_back_from_the_pyramids_and_the_ics(planned) -> None:
    profile = load_profile()
    chapter = build_chapter(planned.summary, planned.population, planned.parameters, None, profile, 4)
    pop = planned.population[planned.population.population_variant == "housing_led"]
    base = int(planned.summary.year.min())
    truth = np.stack([banded(pop[(pop.place == p) & (pop.year == base)], "principal") for p in PLACES])
    assert truth[0, 18].tolist() == [3, 3] and truth[1, 18].tolist() == [40, 40]
    hidden = np.stack([_hidden(svg) for _, svg in chapter.pyramids])
    assert hidden[0, 18].all()
    assert _recoverable(truth, hidden) == []
    assert chapter.hidden_bands == int(hidden.sum())


def test_the_checker_finds_the_recovery_it_is_meant_to() -> None:
    """Guard on the checker: Bedford's 90+ hidden with its 85-89 (a rectangle inside its own pyramid) and every
    other Place's drawn: the ICS's counts give the 3 back."""
    truth = np.full((4, len(BANDS), 2), 1000.0)
    truth[:, 18] = 40
    truth[0, 18] = 3
    hidden = np.zeros(truth.shape, dtype=bool)
    hidden[0, 17:19] = True
    assert _recoverable(truth, hidden) == [(0, 18, 0, 3), (0, 18, 1, 3)]
    hidden[1, 17:19] = True
    assert _recoverable(truth, hidden) == []
