"""The disclosure decision on a generated warehouse: the ICS total is hidden only where it is a small count
(or, rarely, where every Place under it is one).

A small synthetic BLMK (scale 0.005, seed 3), ingested and measured over twelve months, every indicator,
passed through the one entry point publishers call (``publish.inputs.published_measurements``). At this
scale many Place, PCN and practice counts are small, so their complements are many: the test proves
they are taken below the ICS total, and that no hidden count is left determined by the published ones.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from placewise.analyse.measurements import measure_all
from placewise.ingest.load import ingest
from placewise.measure import ReportingRange, load_catalogue
from placewise.profile import load_profile
from placewise.publish.disclosure import (
    CELL_KEYS,
    PRIMARY,
    UNPUBLISHED,
    cell_counts,
    determined,
    equations,
    geography_relations,
    held_at_zero,
    load_rule,
)
from placewise.publish.inputs import published_measurements, read_measurements
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect

pytestmark = pytest.mark.slow
KEY = b"disclosure warehouse test key, not a secret"
MONTHS = ReportingRange(date(2024, 4, 1), date(2025, 3, 31))


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The warehouse's measurements, the decision's cells and the nested geographies."""
    root = tmp_path_factory.mktemp("disclosure")
    profile = load_profile()
    generate(profile, scale=0.005, seed=3, out=root / "files")
    ingest(root / "files", root / "w.duckdb", KEY)
    con = connect(root / "w.duckdb")
    try:
        measure_all(con, profile, periods_range=MONTHS)
        frame = read_measurements(con)
        _, decision = published_measurements(con, profile, load_catalogue(profile), frame)
        practices = con.table("practices").select("practice_code", "pcn_code", "la_code").to_pandas()
    finally:
        con.disconnect()
    return frame, decision.cells, geography_relations(profile, practices, frame)


def test_the_ics_total_is_hidden_only_where_it_or_every_place_is_a_small_count(decided):
    _, cells, _ = decided
    ics = cells[(cells.geography_type == "ics") & (cells.breakdown == "none") & (cells.reason != UNPUBLISHED)]
    assert len(ics) > 400   # every indicator, up to twelve months
    # Hidden as a complement only where every Place of that indicator and period is a small count, so
    # nothing below the ICS is left to protect them with (ucr_contacts in one month here: 2, 2 and 7 of 11).
    secondary = ics[ics.suppressed & (ics.reason != PRIMARY)]
    assert len(secondary) <= 0.01 * len(ics)
    problem = ["indicator_id", "period_start", "period_end"]
    places = cells[(cells.geography_type == "place") & (cells.breakdown == "none")]
    small = places.assign(small=places.reason == PRIMARY).groupby(problem).small.all()
    assert small.reindex(pd.MultiIndex.from_frame(secondary[problem]), fill_value=True).all(), secondary
    # Places are hidden, many for small counts of their own, so complements were needed and found below.
    place = cells[(cells.geography_type == "place") & (cells.breakdown == "none")]
    assert place.suppressed.sum() > 0


def test_no_hidden_count_is_determined_by_the_published_ones(decided):
    frame, cells, relations = decided
    base = (cells.reason != UNPUBLISHED).to_numpy() & cells.breakdown.ne("imd_quintile_gap").to_numpy()
    exempt = cells.indicator_id.isin(list(load_rule(load_profile()).exempt)).to_numpy()
    keep = base & ~exempt
    sub = frame.loc[keep].reset_index(drop=True)
    hidden = cells.suppressed.to_numpy()[keep]
    assert hidden.any()
    eq = equations(sub[CELL_KEYS], relations)
    measures = {i.id: i.measure for i in load_catalogue(load_profile()).indicators}
    counts = cell_counts(sub, measures)
    # Hidden zeros under a published zero total are known to be zero; nothing else hidden is pinned.
    known = held_at_zero(eq, hidden, counts)
    assert not determined(eq, hidden & ~known).any()
    assert (counts[determined(eq, hidden)] == 0).all()

