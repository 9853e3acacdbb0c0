"""The planning chapter: pyramids with disclosure control, fan charts, scenarios, back-test and parameters."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from placewise.analyse.planning.config import AGES, load_planning
from placewise.analyse.planning.demand import activity_rates
from placewise.analyse.planning.rates import rates_from_history
from placewise.analyse.planning.run import plan
from placewise.profile import load_profile
from placewise.publish.planning import BANDS, banded, build_chapter, fan_chart, pyramid, render_chapter

PLACES = ("E06000055", "E06000056", "E06000032", "E06000042")


def test_fan_chart_draws_band_median_and_principal() -> None:
    years = np.arange(2026, 2031)
    svg = fan_chart(years, np.arange(5.0), np.arange(5.0) - 1, np.arange(5.0), np.arange(5.0) + 1, title="t",
                    value_format=".0f")
    band = re.search(r'class="fan" points="([^"]+)"', svg).group(1).split()
    assert len(band) == 10  # up along the 90th percentile, back along the 10th
    ys = [float(p.split(",")[1]) for p in band]
    assert ys[0] < ys[-1]  # the 90th percentile is drawn above the 10th in the first year
    assert 'class="principal"' in svg and 'class="median"' in svg and ">2030<" in svg


def test_pyramid_leaves_hidden_bands_out() -> None:
    now = np.full((19, 2), 100.0)
    hidden = np.zeros((19, 2), bool)
    hidden[18] = True
    svg = pyramid(now, now * 1.2, hidden, title="p", years=(2026, 2040))
    assert svg.count('class="base female"') == 18 and svg.count('class="base male"') == 18
    assert svg.count('class="hidden"') == 2
    assert svg.count('class="horizon"') == 2


def test_banded_sums_single_years_into_the_report_bands() -> None:
    frame = pd.DataFrame({"age": [0, 4, 5, 89, 90], "sex": ["female", "male", "female", "male", "male"],
                          "v": [1.0, 2.0, 3.0, 4.0, 5.0]})
    b = banded(frame, "v")
    assert len(BANDS) == 19
    assert b[0].tolist() == [1, 2] and b[1].tolist() == [3, 0] and b[17].tolist() == [0, 4] and b[18].tolist() == [0, 5]


@pytest.fixture(scope="module")
def chapter_html(made_up_history) -> str:
    """The chapter of a small made-up history with a few people aged 90+ (to be hidden)."""
    pop = np.full((3, 4, 2, AGES), 200.0)
    pop[:, :, :, 90] = 3
    history = made_up_history(PLACES, pop, 1)
    profile = load_profile()
    planning = load_planning(profile)
    result = plan(rates_from_history(history, planning), activity_rates(history), planning, to=2040, runs=16, seed=1)
    return render_chapter(build_chapter(result.summary, result.population, result.parameters, None, profile, 16))


def test_chapter_has_every_part(chapter_html: str) -> None:
    assert chapter_html.count('class="chart pyramid"') == 4
    assert chapter_html.count('class="chart fan"') >= 12
    assert chapter_html.count('class="chart scenarios"') == 3  # population, beds at 92%, NHS WTE
    assert chapter_html.count('class="scenario"') == 3 * 5
    for scenario in ("principal", "trend", "frailty case finding", "shift out of hospital", "los reduction"):
        assert f"<td>{scenario}</td>" in chapter_html
    assert "growth.gp_appointments" in chapter_html and "001 L1095" in chapter_html
    assert "nothing to back-test" in chapter_html
    # 3 people aged 90+ of each sex in every Place: hidden in all four base-year pyramids.
    assert chapter_html.count('class="hidden"') >= 8


def test_a_synthetic_projection_says_so_and_at_what_scale_on_every_page(made_up_history, tmp_path) -> None:
    """The demo projects 2% of BLMK: 30 GP WTE for the ICS must not be read as the whole ICS's need."""
    from placewise.publish.planning import write_plan_chapter

    history = made_up_history(PLACES, np.full((3, 4, 2, AGES), 200.0), 1)
    profile = load_profile()
    planning = load_planning(profile)
    result = plan(rates_from_history(history, planning), activity_rates(history), planning, to=2030, runs=4, seed=1)
    html_path, _, _ = write_plan_chapter(result, profile, tmp_path / "synthetic", synthetic_share=0.02)
    html = html_path.read_text(encoding="utf-8")
    assert ("Synthetic data: a simulated population of 2.0% of Bedfordshire, Luton and Milton Keynes Integrated Care "
            "System, not real patients.") in html
    assert '@top-center { content: "SYNTHETIC DATA' in html   # printed at the top of every page of the PDF
    real = write_plan_chapter(result, profile, tmp_path / "real")[0].read_text(encoding="utf-8")
    assert "Synthetic data" not in real and "SYNTHETIC DATA" not in real
