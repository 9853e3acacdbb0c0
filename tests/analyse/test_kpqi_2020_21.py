"""BLMK's 2020/21 dashboards through ingest → warehouse → measure: the Key Performance and Quality Indicators
view by legacy CCG and the Recovery (actual against plan) view reproduce the printed values, and the
achieved/not achieved verdict, trend, variance and status match the pack (checked against the extraction's
DERIVED_ tables, which this code never reads). Skips where ../shared/reference is absent."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from placewise.analyse.kpqi import kpqi_view
from placewise.analyse.measurements import measure_all
from placewise.analyse.plan import load_plans, plan_against_actual
from placewise.ingest.load import ingest
from placewise.measure import ReportingRange, load_catalogue
from placewise.profile import load_profile
from placewise.publish.inputs import read_measurements
from placewise.sources import blmk_2020_21
from placewise.warehouse import connect

REF = Path(__file__).resolve().parents[3] / "shared" / "reference" / "blmk_performance_2020_21"
pytestmark = pytest.mark.skipif(not REF.is_dir(), reason="../shared/reference/blmk_performance_2020_21 absent")
ORG = {"bedfordshire_ccg": "06F", "luton_ccg": "06P", "milton_keynes_ccg": "04F", "blmk": "QHG"}
ROWS = {
    "Cancer Waiting Times - 2 Week Wait": ("cancer_2ww", False),
    "Cancer Waiting Times - 31 Day First Treatment": ("cancer_31d", False),
    "Cancer Waiting Times - 62 Day GP Referral": ("cancer_62d", False),
    "RTT Incomplete Pathway - 18 Weeks": ("rtt_18wk", False),
    "RTT Incomplete Pathway - 52 Week Waits": ("rtt_52wk", False),
    "RTT Incomplete Pathway - Waiting Lists": ("rtt_waiting_list", False),
    "Diagnostic Test Waiting Times": ("diagnostics_6wk", True),  # printed: waiting 6+ weeks; ours: under 6
}
PLANS = {"RTT waiting list": "rtt_waiting_list", "RTT 52+ week waits": "rtt_52wk"}
RETURNED = ["rtt_18wk", "rtt_waiting_list", "rtt_52wk", "diagnostics_6wk", "cancer_2ww", "cancer_31d", "cancer_62d",
            "cancer_fds_28d", "ambulance_cat1_mean", "ambulance_cat2_mean"]


def printed(text: str, complement: bool) -> float:
    """A printed cell as the report shows it: a percentage (or its complement) or a count."""
    if text.endswith("%"):
        v = float(text.rstrip("%"))
        return 100 - v if complement else v
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    """The 2020/21 returns ingested and measured; the measurements as the report reads them, and the plan CSV."""
    tmp = tmp_path_factory.mktemp("blmk2021")
    rows, plan_csv = blmk_2020_21.write(REF, tmp / "returns")
    assert rows > 300
    db = tmp / "real.duckdb"
    ingest(tmp / "returns", db, b"k" * 32)
    con = connect(db)
    try:
        measure_all(con, load_profile(), periods_range=ReportingRange(date(2020, 3, 1), date(2021, 3, 31)),
                    indicators=RETURNED)
        frame = read_measurements(con)
        return frame[frame.geography_type.isin(["ics", "legacy_ccg"])].reset_index(drop=True), plan_csv
    finally:
        con.disconnect()


def derived(name: str) -> list[dict[str, str]]:
    """A table the extraction computed from the printed figures (variance, trend, RAG), to check against."""
    with (REF / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_kpqi_view_matches_the_printed_dashboard(warehouse: tuple[pd.DataFrame, Path]) -> None:
    frame, _ = warehouse
    cat = load_catalogue(load_profile())
    view = kpqi_view(frame, cat, date(2021, 3, 31), [v[0] for v in ROWS.values()])
    got = {(r.indicator_id, r.geography_code): r for r in view.itertuples()}
    checked = 0
    for row in derived("DERIVED_kpqi_ccg_trend_and_rag.csv"):
        if row["measure"] not in ROWS:
            continue
        ind, complement = ROWS[row["measure"]]
        r = got[(ind, ORG[row["organisation"]])]
        assert r.value == pytest.approx(printed(row["current_value"], complement), abs=1e-9), row
        assert r.previous == pytest.approx(printed(row["previous_value"], complement), abs=1e-9), row
        assert r.trend == row["DERIVED_trend"], row
        if row["DERIVED_rag_vs_threshold"]:
            want = "achieved" if row["DERIVED_rag_vs_threshold"] == "Green" else "not achieved"
            assert r.achieved == want, row
        checked += 1
    assert checked == 28


def test_faster_diagnosis_and_ambulance_as_printed(warehouse: tuple[pd.DataFrame, Path]) -> None:
    """Hand-worked from the KPQI page (003 L3583, L3617-3630): cat 1 against 7:00, cat 2 against 18:00."""
    frame, _ = warehouse
    view = kpqi_view(frame, load_catalogue(load_profile()), date(2021, 3, 31),
                     ["cancer_fds_28d", "ambulance_cat1_mean", "ambulance_cat2_mean"])
    got = {(r.indicator_id, r.geography_code): (round(r.value, 4), r.achieved) for r in view.itertuples()}
    assert got[("cancer_fds_28d", "QHG")][0] == 76.25
    assert got[("ambulance_cat1_mean", "06F")] == (round(6 + 5 / 60, 4), "achieved")
    assert got[("ambulance_cat2_mean", "06F")] == (round(18 + 17 / 60, 4), "not achieved")
    assert got[("ambulance_cat2_mean", "06P")] == (round(15 + 3 / 60, 4), "achieved")
    assert got[("ambulance_cat2_mean", "QHG")] == (round(16 + 29 / 60, 4), "achieved")


def test_recovery_actual_against_plan_matches_the_pack(warehouse: tuple[pd.DataFrame, Path]) -> None:
    frame, plan_csv = warehouse
    profile = load_profile()
    cat = load_catalogue(profile)
    pva = plan_against_actual(pa.Table.from_pandas(frame, preserve_index=False), load_plans(profile, cat, (plan_csv,)), cat).to_pandas()
    pva = pva[pva.geography_code == "QHG"]
    got = {(r.indicator_id, r.period_start): r for r in pva.itertuples()}
    checked = 0
    for row in derived("DERIVED_actual_vs_plan_blmk.csv"):
        if row["measure"] not in PLANS:
            continue
        r = got[(PLANS[row["measure"]], blmk_2020_21.month_start(row["period"]))]
        assert r.variance == pytest.approx(float(row["DERIVED_variance"].replace("+", "")), abs=1e-9), row
        assert 100 * r.relative_variance == pytest.approx(float(row["DERIVED_variance_pct_of_plan"].rstrip("%")),
                                                          abs=0.006), row
        worse = row["DERIVED_status"] == "worse than plan"
        assert (r.rag in ("amber", "red")) == worse, row
        checked += 1
    assert checked == 11


def test_the_reports_kpqi_page_gives_the_views_verdicts(warehouse: tuple[pd.DataFrame, Path]) -> None:
    """The report's KPQI table, built from the disclosed measurements, says what the tested view says."""
    from placewise.publish.assembly import build_models

    frame, plan_csv = warehouse
    view = kpqi_view(frame, load_catalogue(load_profile()), date(2021, 3, 31), [v[0] for v in ROWS.values()])
    models = build_models(warehouse=str(plan_csv.parent / "real.duckdb"), compare="legacy_ccg",
                          indicators=[v[0] for v in ROWS.values()], plan_csv=(plan_csv,))
    table = next(m for scope, m in models if scope.area.geography_type == "ics").kpqi
    assert table is not None
    names = {"NHS Bedfordshire CCG (legacy)": "06F", "NHS Luton CCG (legacy)": "06P",
             "NHS Milton Keynes CCG (legacy)": "04F"}
    codes = [names.get(a, "QHG") for a in table.areas]
    got = {(ind, code): cell for ind, _, _, cells in table.rows for code, cell in zip(codes, cells, strict=True)}
    compared = 0
    for r in view[view.target.notna()].itertuples():  # the waiting list has no target: not in the table
        cell = got[(r.indicator_id, r.geography_code)].split(" · ")
        assert r.achieved in cell and r.trend in cell, (r.indicator_id, r.geography_code, cell)
        compared += 1
    assert compared == (len(ROWS) - 1) * 4


def test_the_reports_recovery_table_prints_the_packs_plan_actual_variance_and_status(
        warehouse: tuple[pd.DataFrame, Path]) -> None:
    """The report's "Recovery: actual against plan" table for the ICS prints, month by month, the pack's plan,
    actual, variance and variance as a share of the plan, and a RAG that is amber or red exactly where the pack says
    "worse than plan" (the 11 months of the waiting list and the 52-week waits in DERIVED_actual_vs_plan_blmk.csv)."""
    from placewise.publish.assembly import build_models

    _, plan_csv = warehouse
    models = build_models(warehouse=str(plan_csv.parent / "real.duckdb"), compare="legacy_ccg",
                          indicators=list(PLANS.values()), plan_csv=(plan_csv,))
    model = next(m for scope, m in models if scope.area.geography_type == "ics")
    printed_rows = {(p.spec.id, r.period): r for p, rows in model.recovery for r in rows}
    checked = 0
    for row in derived("DERIVED_actual_vs_plan_blmk.csv"):
        if row["measure"] not in PLANS:
            continue
        month = blmk_2020_21.month_start(row["period"])
        r = printed_rows[(PLANS[row["measure"]], f"{month:%b %Y}")]
        assert (r.plan, r.actual) == (f"{int(row['plan_value']):,}", f"{int(row['actual_value'].replace(',', '')):,}"), row
        assert r.variance == f"{int(row['DERIVED_variance']):+,}", row
        # to one decimal against the pack's two (0.05 + 0.005): 218 of 1,104 is 19.746%, printed 19.75%, ours +19.7%
        assert float(r.share.rstrip("%")) == pytest.approx(float(row["DERIVED_variance_pct_of_plan"].rstrip("%")),
                                                           abs=0.055), row
        assert (r.rag in ("Amber", "Red")) == (row["DERIVED_status"] == "worse than plan"), row
        checked += 1
    assert checked == 11 and len(printed_rows) == 11
