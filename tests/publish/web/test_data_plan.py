"""Data rows carry the target for their financial year and the plan for their period, as the Board reads them."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa

from placewise.analyse.plan import load_plans, plan_against_actual
from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.publish.inputs import plan_inputs
from placewise.publish.web.summaries import measurement_frame

PATH = "/api/v1/indicators/ae_4hr_all"


def test_rows_carry_the_board_plan_and_the_year_target(engine_client, login) -> None:
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    login(client, "analyst")
    rows = pd.DataFrame(client.get(f"{PATH}/data", params={"level": "place"}).json()["rows"])
    assert len(rows) > 0 and rows.plan.notna().all() and rows.target.notna().all()
    # Hand-worked from the profile: 2024/25's operating-plan target is 78% by March 2025; the warehouse starts in
    # April 2024, so no March 2024 value starts a glide path and the plan is flat at the target (analyse.plan).
    assert (rows.target == 78).all() and (rows.plan == 78).all()
    profile = load_profile()
    frame = measurement_frame({"ae_4hr_all": rows.drop(columns=["funnel", "target", "plan"])})
    board = plan_inputs(frame, profile, load_catalogue(profile)).pva
    board = board[board.indicator_id == "ae_4hr_all"].set_index(["geography_code", "period_start"]).plan
    key = pd.MultiIndex.from_arrays([rows.geography_code, pd.to_datetime(rows.period_start).dt.date])
    assert board.reindex(key).tolist() == rows.plan.tolist()


def test_a_glide_path_from_a_march_value_is_what_the_board_shows() -> None:
    profile = load_profile()
    catalogue = load_catalogue(profile)
    actual = pd.DataFrame({"indicator_id": "ae_4hr_all", "geography_type": "place", "geography_code": "E1",
                           "period_start": pd.to_datetime(["2024-03-01", "2024-04-01"]).date, "breakdown": "none",
                           "value": [72.0, 73.0]})
    pva = plan_against_actual(pa.Table.from_pandas(actual), load_plans(profile, catalogue), catalogue).to_pandas()
    april = pva[pva.period_start == pd.Timestamp("2024-04-01").date()].plan.item()
    assert april == 72 + (78 - 72) / 12


def test_a_suppressed_row_still_carries_its_target_and_plan(engine_client) -> None:
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    r = client.get(f"{PATH}/data", params={"level": "practice"})
    rows = pd.DataFrame(r.json()["rows"])
    hidden = rows[rows.suppressed]
    assert len(hidden) > 0 and hidden.value.isna().all()
    assert (hidden.target == 78).all() and hidden.plan.notna().all()
    csv = pd.read_csv(io.StringIO(client.get(f"{PATH}/data", params={"level": "practice", "format": "csv"}).text))
    assert csv.target.tolist() == rows.target.tolist()
    assert csv.plan.astype(float).tolist() == rows.plan.astype(float).tolist()


def test_breakdown_rows_have_no_target_or_plan(engine_client, login) -> None:
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    login(client, "analyst")
    rows = pd.DataFrame(client.get(f"{PATH}/data", params={"level": "place", "breakdown": "sex"}).json()["rows"])
    assert len(rows) > 0 and rows.target.isna().all() and rows.plan.isna().all()


def test_the_explorer_quotes_the_target_and_plan_the_api_rows_carry(engine_client, login, web_warehouse) -> None:
    """The explorer's summary and the API agree: 2024/25's operating-plan target (78%), not the standing 95%."""
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    login(client, "analyst")
    ics = load_profile().ics.code
    body = client.get(f"{PATH}/data", params={"level": "ics", "area": ics}).json()
    latest = [r for r in body["rows"] if r["breakdown"] == "none"][-1]
    assert latest["target"] == 78 and latest["plan"] == 78 and body["spc"]["target"] == 78
    html = client.get("/explore", params={"indicator": "ae_4hr_all", "level": "ics", "area": ics}).text
    assert '<div class="hint" data-testid="target">Target: 78.0%</div>' in html
    assert '<div class="hint" data-testid="plan">Plan: 78.0%</div>' in html
