"""SPC against NHSRplotthedots on the real NHS England A&E data, and against a slow, literal reading of its rules.

Expected values in the first tests were produced by NHSRplotthedots itself: its integration tests
(tests/testthat/test-integration_tests.R, nhs-r-community/NHSRplotthedots commit 0c096d8) store the full
``ptd_spc()`` output for NHSRdatasets::ae_attendances as serialised R objects in
tests/testthat/_snaps/integration_tests.md. ae_attendances is the same publication as
``../shared/reference/nhse_ae_attendances_2016_2019.csv`` (12,765 rows, April 2016 to March 2019), and the
decoded ``y`` columns equal the performance computed here from that file. The mean and limits below are the
decoded doubles; point types are written one character per month: ``.`` common cause, ``I`` special cause
improvement, ``C`` special cause concern.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from placewise.analyse.spc import AssuranceIcon, PointType, ShortSeriesWarning, VariationIcon, describe_latest, spc

CODES = {".": PointType.COMMON_CAUSE, "I": PointType.IMPROVEMENT, "C": PointType.CONCERN}


def codes(text: str) -> list[int]:
    """Point types from the one-character-per-month notation."""
    return [int(CODES[c]) for c in text]


def ae(reference_dir: Path) -> pd.DataFrame:
    """The NHS England A&E file as published."""
    return pd.read_csv(reference_dir / "nhse_ae_attendances_2016_2019.csv", dtype={"type": str})


def performance(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """4-hour performance (1 - breaches / attendances) by ``by`` x month, months as columns."""
    totals = frame.groupby([*by, "period"])[["attendances", "breaches"]].sum()
    return (1 - totals["breaches"] / totals["attendances"]).unstack("period")


def england(reference_dir: Path) -> np.ndarray:
    """All providers and types together, as NHSRplotthedots' integration tests chart them."""
    return performance(ae(reference_dir).assign(all="England"), ["all"]).to_numpy()


# --- NHSRplotthedots' own output ----------------------------------------------------------------------------------

def test_england_performance_fixed_after_12_points_matches_nhsrplotthedots(reference_dir: Path) -> None:
    # ptd_spc(ae_all(), performance, period, fix_after_n_points = 12)
    r = spc(england(reference_dir), polarity="higher_is_better", fix_after_n=12)
    assert r.mean[0] == pytest.approx([0.8908915564349236] * 36, rel=1e-12)
    assert r.lpl[0] == pytest.approx([0.8614049789074258] * 36, rel=1e-12)
    assert r.upl[0] == pytest.approx([0.9203781339624213] * 36, rel=1e-12)
    assert r.point_type[0].tolist() == codes(".........C.IIIIIIII.CCCC.....CCCCCCC")
    assert flagged_months(r.beyond_limits) == [9, 20, 21, 22, 23, 33, 34]


def test_england_performance_matches_nhsrplotthedots(reference_dir: Path) -> None:
    # ptd_spc(ae_all(), performance, period): the "plot arguments behave as expected" snapshot
    r = spc(england(reference_dir), polarity="higher_is_better")
    assert r.mean[0, 0] == pytest.approx(0.8847056829421236, rel=1e-12)
    assert r.lpl[0, 0] == pytest.approx(0.8604472128746817, rel=1e-12)
    assert r.upl[0, 0] == pytest.approx(0.9089641530095655, rel=1e-12)
    assert r.point_type[0].tolist() == codes("IIIIIII..C.IIIIIIIIICCCCIIIIIII..CC.")
    # its close_to_limits column is 1 at months 1, 2, 3, 5, 8, 12, 14, 15, 16, 25, 26, 32, 35; of those, the
    # ones in a same-side two-of-three window are special causes by that rule
    assert flagged_months(r.two_in_three) == [1, 2, 3, 5, 12, 14, 15, 16, 25, 26]
    assert r.variation_icon[0] == VariationIcon.COMMON_CAUSE


def test_rl4_performance_by_type_matches_nhsrplotthedots(reference_dir: Path) -> None:
    # ptd_spc(ae_rl4_by_type(), performance, period, facet_field = type): two facets charted at once
    frame = ae(reference_dir)
    y = performance(frame[frame["org_code"] == "RL4"], ["type"])
    assert y.index.tolist() == ["1", "other"]
    r = spc(y.to_numpy(), polarity="higher_is_better")
    assert r.mean[:, 0] == pytest.approx([0.8465251279816813, 0.9876265567345781], rel=1e-12)
    assert r.lpl[:, 0] == pytest.approx([0.7605954283455616, 0.9781517632214081], rel=1e-12)
    assert r.upl[:, 0] == pytest.approx([0.9324548276178011, 0.9971013502477482], rel=1e-12)
    assert r.point_type[0].tolist() == codes("...........IIIIIIII.CCCC............")
    assert r.point_type[1].tolist() == codes("IIIIIIIIII.....CCCCCCCCCIIIIIII...C.")


def flagged_months(mask: np.ndarray) -> list[int]:
    """Month indices flagged in a one-series mask."""
    return np.flatnonzero(mask[0]).tolist()


# --- a slow, literal reading of the rules, used as an independent oracle ------------------------------------------

def oracle(y: list[float], good: int, rebase_at: set[int], fix: int | None) -> dict[str, list]:
    """One series, point by point, following NHSRplotthedots' window definitions word for word."""
    out: dict[str, list] = {k: [] for k in ("mean", "lpl", "upl", "point_type")}
    starts = sorted({0} | rebase_at)
    for a, b in zip(starts, [*starts[1:], len(y)]):
        seg = y[a:b]
        base = seg if fix is None else seg[:fix]
        mean = sum(base) / len(base)
        ranges = [abs(base[i] - base[i - 1]) for i in range(1, len(base))]
        mr = sum(ranges) / len(ranges) if ranges else float("nan")
        kept = [m for m in ranges if m < 3.267 * mr]
        mr = sum(kept) / len(kept) if kept else float("nan")
        lpl, upl = mean - 2.66 * mr, mean + 2.66 * mr
        near_low, near_high = mean - 2 * (2.66 / 3) * mr, mean + 2 * (2.66 / 3) * mr
        n = len(seg)
        outside = [v > upl or v < lpl for v in seg]
        side = [(v > mean) - (v < mean) for v in seg]
        close = [not o and (v < near_low or v > near_high) for o, v in zip(outside, seg)]
        run = [False] * n
        trend = [False] * n
        two = [False] * n
        for i in range(6, n):
            if side[i] != 0 and all(side[j] == side[i] for j in range(i - 6, i)):
                run[i - 6 : i + 1] = [True] * 7
            diffs = [seg[j] - seg[j - 1] for j in range(i - 5, i + 1)]
            if all(d > 0 for d in diffs) or all(d < 0 for d in diffs):
                trend[i - 6 : i + 1] = [True] * 7
        for i in range(2, n):
            window = range(i - 2, i + 1)
            if sum(close[j] for j in window) >= 2 and abs(sum(side[j] for j in window)) == 3:
                for j in window:
                    two[j] = two[j] or close[j]
        for i in range(n):
            if outside[i]:
                direction = 1 if side[i] == 1 else -1
            elif trend[i]:
                right = i + 1 < n and trend[i + 1]
                step = (seg[i + 1] - seg[i]) if right else (seg[i] - seg[i - 1] if i > 0 else 0)
                direction = 1 if step > 0 else -1
            elif two[i] or run[i]:
                direction = 1 if side[i] > 0 else -1
            else:
                direction = 0
            if good == 0:
                kind = {1: PointType.NEITHER_HIGH, -1: PointType.NEITHER_LOW, 0: PointType.COMMON_CAUSE}[direction]
            else:
                kind = {1: PointType.IMPROVEMENT, -1: PointType.CONCERN, 0: PointType.COMMON_CAUSE}[direction * good]
            out["point_type"].append(int(kind))
        out["mean"] += [mean] * n
        out["lpl"] += [lpl] * n
        out["upl"] += [upl] * n
    return out


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_rules_agree_with_the_oracle_on_random_series(seed: int) -> None:
    # Small integers give many ties, points on the mean and runs; half the series get climbs and falls (trends,
    # peaks shared by two trends), some a level shift or a rebase; limits are sometimes fixed; series are ragged.
    rng = np.random.default_rng(seed)
    n_series, width = 300, 40
    values = rng.integers(0, 6, size=(n_series, width)).astype(float)
    shift_at = rng.integers(10, 40, size=(n_series, 1))
    values += np.where(np.arange(width) > shift_at, rng.integers(-3, 4, size=(n_series, 1)), 0)
    values[:, ::9] += rng.integers(-15, 16, size=values[:, ::9].shape)
    for s in np.flatnonzero(rng.random(n_series) < 0.5):
        # a climb and/or fall of a few to a dozen steps, occasionally flat for a step (ties break trends)
        steps = rng.choice([-1.0, 1.0]) * np.where(np.arange(14) < rng.integers(3, 15), 1.0, -1.0)
        steps[rng.random(14) < 0.05] = 0.0
        start = rng.integers(0, width - 15)
        values[s, start : start + 15] = values[s, start] + np.concatenate([[0.0], np.cumsum(steps)])
    lengths = rng.integers(15, width + 1, size=n_series)
    values[np.arange(width) >= lengths[:, None]] = np.nan
    rebase = np.zeros((n_series, width), dtype=bool)
    rebase[np.arange(n_series), rng.integers(13, width, size=n_series)] = rng.random(n_series) < 0.4
    fix = [None, 12, 15][seed % 3]
    polarity, good = [("higher_is_better", 1), ("lower_is_better", -1), ("neutral", 0)][seed % 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortSeriesWarning)
        r = spc(values, polarity=polarity, rebase=rebase, fix_after_n=fix)
    for s in range(n_series):
        n = lengths[s]
        expected = oracle(values[s, :n].tolist(), good, set(np.flatnonzero(rebase[s, :n]).tolist()), fix)
        assert r.point_type[s, :n].tolist() == expected["point_type"], f"series {s}"
        np.testing.assert_allclose(r.mean[s, :n], expected["mean"], rtol=1e-12)
        np.testing.assert_allclose(r.upl[s, :n], expected["upl"], rtol=1e-12)
        np.testing.assert_allclose(r.lpl[s, :n], expected["lpl"], rtol=1e-12)


# --- the BLMK providers -------------------------------------------------------------------------------------------

BLMK = ["RC1", "RC9", "RD8"]  # Bedford Hospital, Luton and Dunstable, Milton Keynes University Hospital


@pytest.mark.parametrize("types", ["1", "all"])
def test_blmk_providers_four_hour_performance(reference_dir: Path, types: str) -> None:
    frame = ae(reference_dir)
    frame = frame[frame["org_code"].isin(BLMK)]
    if types == "1":
        frame = frame[frame["type"] == "1"]
    y = performance(frame, ["org_code"])
    assert y.index.tolist() == BLMK and y.shape == (3, 36)
    months = [m.strftime("%B %Y") for m in pd.to_datetime(y.columns)]
    values = y.to_numpy()
    r = spc(values, polarity="higher_is_better", target=0.95, series_names=BLMK)
    # limits by a plain calculation: mean of the 36 months, mean moving range with outlying ranges dropped once
    mean = values.mean(axis=1)
    ranges = np.abs(np.diff(values, axis=1))
    mr = ranges.mean(axis=1)
    mr = np.array([row[row < 3.267 * m].mean() for row, m in zip(ranges, mr)])
    np.testing.assert_allclose(r.mean[:, 0], mean, rtol=1e-12)
    np.testing.assert_allclose(r.lpl[:, -1], mean - 2.66 * mr, rtol=1e-12)
    np.testing.assert_allclose(r.upl[:, -1], mean + 2.66 * mr, rtol=1e-12)
    for s, org in enumerate(BLMK):
        assert r.point_type[s].tolist() == oracle(values[s].tolist(), 1, set(), None)["point_type"], org
    # Bedford and Luton and Dunstable ended 2018/19 below their lower process limits (special cause concern);
    # Milton Keynes shows only common cause variation throughout.
    assert (values[:2, -1] < mean[:2] - 2.66 * mr[:2]).all()
    assert r.variation_icon.tolist() == [VariationIcon.CONCERN_LOW, VariationIcon.CONCERN_LOW,
                                         VariationIcon.COMMON_CAUSE]
    assert not r.special_cause[2].any()
    # The 95% standard sits inside Bedford's and Milton Keynes' limits but below Luton and Dunstable's.
    assert r.assurance_icon.tolist() == [AssuranceIcon.INCONSISTENT, AssuranceIcon.CONSISTENTLY_PASS,
                                         AssuranceIcon.INCONSISTENT]
    assert describe_latest(r, 0, months).startswith(
        "The latest point (March 2019) is below the lower process limit: special cause concern."
    )
