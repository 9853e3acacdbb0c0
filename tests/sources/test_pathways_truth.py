"""The engine's referral conversion measured against the generator's truth of each referral's pathway.

The generator records what each GP referral truly led to (``truth/referral_pathways.parquet``: the day of the
attended first appointment and of the elective admission written for it). The truth of the published rule's
conversion is what a perfect linkage would find: a referral is converted to a first attendance when its true first
attendance came within 18 × 7 = 126 days, and that attendance to an admission when its true admission came within
12 months. The engine links by person and treatment function only (the canonical tables carry no referral id on
appointments), so other first attendances and admissions of the same person and treatment function (other sources,
earlier referrals, admissions with no referral) can be taken for the referral's: its conversion by specialty, through
``referral_pathways`` and ``conversion_counts`` unchanged, must stay within ``TOLERANCE`` of the truth, and the same
comparison must catch a wrong linkage window (2 weeks to the first attendance, or 1 month to the admission).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest

from placewise.analyse.variation import (
    ADMISSION_MONTHS, FIRST_ATTENDANCE_WEEKS, conversion_counts, referral_pathways,
)
from placewise.ingest import ingest
from placewise.profile import load_profile
from placewise.sources.synth import generate

KEY = b"pathways-truth-test-key"
END = dt.date(2026, 9, 30)
START = dt.date(2022, 1, 1)
LAST = dt.date(2024, 12, 31)
"""Referrals made from START to LAST: every 126-day and 12-month window has closed by END."""
TOLERANCE = 0.03
"""Largest difference allowed between the engine's share and the truth's, by specialty (absolute)."""
MIN_REFERRALS = 150
"""Specialties with fewer referrals are compared only in the total."""


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ibis.BaseBackend]:
    """A synthetic BLMK at scale 0.02 ingested into DuckDB: the delivery folder and the warehouse."""
    folder = tmp_path_factory.mktemp("pathways")
    generate(load_profile(), scale=0.02, seed=5, out=folder / "delivery", end_date=END)
    ingest(folder / "delivery", folder / "wh.duckdb", KEY)
    return folder / "delivery", ibis.duckdb.connect(str(folder / "wh.duckdb"))


def truth_counts(delivery: Path, weeks: int = FIRST_ATTENDANCE_WEEKS, months: int = ADMISSION_MONTHS) -> pd.DataFrame:
    """By treatment function, from the generator's truth: referrals, converted to a first attendance within the
    window, those attendances, and those converted to an elective admission within the window."""
    t = pq.read_table(delivery / "truth" / "referral_pathways.parquet").to_pandas()
    for c in ("referral_date", "first_attended_on", "admitted_on"):
        t[c] = pd.to_datetime(t[c])
    t = t[(t.referral_date >= pd.Timestamp(START)) & (t.referral_date <= pd.Timestamp(LAST))]
    attended = t.first_attended_on.notna() & (t.first_attended_on <= t.referral_date + pd.Timedelta(days=7 * weeks))
    admitted = attended & t.admitted_on.notna() & (t.admitted_on <= t.first_attended_on + pd.DateOffset(months=months))
    return pd.DataFrame({"treatment_function": t.treatment_function, "referred": 1, "attended": attended,
                         "seen": attended, "admitted": admitted}).groupby("treatment_function").sum()


def engine_counts(con: ibis.BaseBackend, weeks: int = FIRST_ATTENDANCE_WEEKS,
                  months: int = ADMISSION_MONTHS) -> pd.DataFrame:
    """By treatment function, the engine's conversion counts over the same referrals (practices summed)."""
    counts = conversion_counts(referral_pathways(con, START, LAST, weeks, months), END, weeks, months).to_pandas()
    return counts.groupby("treatment_function")[["referred", "attended", "seen", "admitted"]].sum()


def gaps(engine: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Engine share minus true share, to a first attendance and to an admission, by specialty with enough
    referrals, and over all (the row ``all``)."""
    both = engine.merge(truth, left_index=True, right_index=True, how="outer", suffixes=("_engine", "_truth")).fillna(0)
    both = both[both.referred_truth >= MIN_REFERRALS]
    both.loc["all"] = both.sum()
    assert (both.referred_engine == both.referred_truth).all(), "the engine and the truth count other referrals"
    return pd.DataFrame({
        "to_first": both.attended_engine / both.referred_engine - both.attended_truth / both.referred_truth,
        "to_admission": both.admitted_engine / both.seen_engine - both.admitted_truth / both.seen_truth,
        "true_to_first": both.attended_truth / both.referred_truth,
        "true_to_admission": both.admitted_truth / both.seen_truth,
        "referred": both.referred_truth,
    })


def test_conversion_by_specialty_recovers_the_truth(delivery: tuple[Path, ibis.BaseBackend]) -> None:
    folder, con = delivery
    g = gaps(engine_counts(con), truth_counts(folder))
    print(g.round(3).to_string())
    assert len(g) >= 10, "too few specialties with enough referrals to compare"
    assert g.loc["all", "true_to_first"] > 0.6, "most referrals lead to a first attendance within 18 weeks"
    assert 0.05 < g.loc["all", "true_to_admission"] < 0.4
    assert g[["to_first", "to_admission"]].abs().max().max() <= TOLERANCE


def test_a_wrong_linkage_window_is_caught(delivery: tuple[Path, ibis.BaseBackend]) -> None:
    folder, con = delivery
    truth = truth_counts(folder)
    two_weeks = gaps(engine_counts(con, weeks=2), truth)
    one_month = gaps(engine_counts(con, months=1), truth)
    assert two_weeks["to_first"].abs().max() > TOLERANCE
    assert two_weeks.loc["all", "to_first"] < -0.3
    assert one_month["to_admission"].abs().max() > TOLERANCE
    assert one_month.loc["all", "to_admission"] < -0.05
