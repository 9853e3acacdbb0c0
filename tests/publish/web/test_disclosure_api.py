"""Disclosure control at the API boundary, by role, through the one disclosure module."""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pytest
import pandas as pd
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placewise.profile import load_profile
from placewise.publish.disclosure import load_rule

RULE = load_rule(load_profile())
INDICATOR = "ae_4hr_type1"


def _rows(client: TestClient, indicator: str = INDICATOR, **params: str) -> pd.DataFrame:
    """The rows of a data response."""
    r = client.get(f"/api/v1/indicators/{indicator}/data", params=params)
    assert r.status_code == 200, r.text
    return pd.DataFrame(r.json()["rows"])


def _warehouse(db: str, indicator: str, level: str) -> pd.DataFrame:
    """The warehouse's own rows for one indicator and level (whole population)."""
    with duckdb.connect(db, read_only=True) as con:
        return con.execute("SELECT geography_code, CAST(period_end AS VARCHAR) AS period_end, numerator, denominator, "
                           "value FROM measurements WHERE indicator_id = ? AND geography_type = ? "
                           "AND breakdown = 'none'", [indicator, level]).df()


def test_the_public_sees_practice_and_pcn_figures_only_through_the_rule_and_an_analyst_sees_them_all(
        engine_client, login, web_warehouse):
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    # The profile publishes PCNs and practices for their whole population only: never a count of 1-7,
    # hidden cells empty, and no breakdown at all.
    for level in ("practice", "pcn"):
        rows = _rows(client, level=level)
        assert len(rows) > 0 and set(rows.breakdown) == {"none"}
        shown, hidden = rows[~rows.suppressed], rows[rows.suppressed]
        assert not shown.numerator.between(1, RULE.suppress_up_to).any() and (shown.numerator % RULE.round_to == 0).all()
        assert hidden[["numerator", "denominator", "value"]].isna().all().all()
        assert _rows(client, level=level, breakdown="sex").empty
    login(client, "analyst")
    got = _rows(client, level="practice")
    want = _warehouse(web_warehouse.db, INDICATOR, "practice")
    merged = got.merge(want, on=["geography_code", "period_end"], suffixes=("", "_wh"))
    assert len(got) == len(want) == len(merged) > 0
    assert not got.suppressed.any()
    for c in ("numerator", "denominator", "value"):
        assert np.allclose(merged[c], merged[f"{c}_wh"], equal_nan=True), c


def test_public_counts_are_rounded_and_hidden_cells_empty_with_a_reason(engine_client, web_warehouse):
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    rows = _rows(client, level="place", breakdown="imd_quintile")
    assert len(rows) > 0
    shown = rows[~rows.suppressed]
    for c in ("numerator", "denominator"):
        v = shown[c].dropna()
        assert (v % RULE.round_to == 0).all(), c
    hidden = rows[rows.suppressed]
    assert len(hidden) > 0, "the small warehouse has small Place × quintile cells"
    assert hidden[["numerator", "denominator", "value", "lower", "upper"]].isna().all().all()
    assert set(hidden.suppression_reason) <= {"small count", "secondary"}


def test_a_place_lead_reads_their_own_places_practices_unsuppressed_and_no_others(engine_client, login, web_warehouse):
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    login(client, "place_lead")
    rows = _rows(client, level="practice")
    areas = pd.DataFrame(client.get("/api/v1/areas", params={"level": "practice"}).json())
    own = set(areas[areas.place == web_warehouse.place].geography_code)
    assert own and own <= set(rows.geography_code)
    mine, others = rows[rows.geography_code.isin(own)], rows[~rows.geography_code.isin(own)]
    want = _warehouse(web_warehouse.db, INDICATOR, "practice")
    merged = mine.merge(want, on=["geography_code", "period_end"], suffixes=("", "_wh"))
    assert len(merged) == len(mine) and np.allclose(merged.numerator, merged.numerator_wh, equal_nan=True)
    # Other Places' practices are published through the rule, as the public sees them.
    assert not others.numerator.between(1, RULE.suppress_up_to).any()
    assert (others.numerator.dropna() % RULE.round_to == 0).all()
    places = _rows(client, level="place")
    assert (places[places.geography_code != web_warehouse.place].numerator.dropna() % RULE.round_to == 0).all()


def test_a_place_lead_cannot_work_out_another_places_hidden_count_from_their_own(engine_client, login,
                                                                                web_warehouse):
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    login(client, "place_lead")
    leaks = 0
    for indicator, breakdown in itertools.product(INDICATORS, ("none", "imd_quintile", "sex", "age_band",
                                                               "ethnic_group")):
        if client.get(f"/api/v1/indicators/{indicator}").status_code == 404:
            continue
        rows = _rows(client, indicator, level="place", breakdown=breakdown)
        ics = _rows(client, indicator, level="ics", breakdown=breakdown)
        if rows.empty or ics.empty:
            continue
        mine = rows[rows.geography_code == web_warehouse.place]
        assert not mine.suppressed.any(), "the lead reads their own Place as it is"
        # Each ICS total less the Places the lead can read: one hidden Place left would be given away. (An ICS
        # total made of the lead's own Place alone tells them only their own figure.)
        keys = ["breakdown_group", "period_end"]
        leaks += len(_beyond(_hidden_alone(rows, ics, keys), rows, keys, {web_warehouse.place}))
    assert leaks == 0


def _beyond(alone: pd.DataFrame, parts: pd.DataFrame, keys: list[str], own: set[str]) -> pd.DataFrame:
    """The equations of ``alone`` with a part of some area other than ``own``."""
    return alone.merge(parts[~parts.geography_code.isin(own)][keys].drop_duplicates(), on=keys)


def _hidden_alone(parts: pd.DataFrame, total: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Equations (a total and its parts, matched on ``keys``) in which exactly one cell is hidden."""
    both = pd.concat([parts[[*keys, "suppressed"]], total[[*keys, "suppressed"]]])
    hidden = both.groupby(keys).suppressed.sum()
    return hidden[hidden == 1].reset_index()


INDICATORS = ["ae_4hr_type1", "hypertension_treated_to_target", "diabetes_hba1c_58", "emergency_admissions_dsr",
              "emergency_admissions_count", "los_emergency_mean", "ld_health_checks", "gp_dna_rate"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(role=st.sampled_from(["public", "clinician", "admin", "place_lead"]), indicator=st.sampled_from(INDICATORS),
       breakdown=st.sampled_from(["imd_quintile", "ethnic_group", "sex", "age_band"]))
def test_below_analyst_no_small_count_is_shown_or_recoverable_by_subtraction(web_app, web_warehouse, role,
                                                                           indicator, breakdown):
    with TestClient(web_app) as client:
        if role != "public":
            user = next(u for u in web_warehouse.users if u.role == role)
            client.post("/auth/login", json={"username": user.username, "password": "placewise-demo-only"})
        meta = client.get(f"/api/v1/indicators/{indicator}")
        if meta.status_code == 404 or indicator in RULE.exempt or breakdown not in meta.json()["breakdowns"]:
            return
        every = pd.concat([_rows(client, indicator, breakdown=b) for b in ("none", breakdown)], ignore_index=True)
        areas = pd.DataFrame(client.get("/api/v1/areas").json())
    # A Place lead reads their own Place's cells as they are: the others must stay safe beside them.
    own = set(areas[areas.place == web_warehouse.place].geography_code) if role == "place_lead" else set()
    sub_ics = every[(every.geography_type != "ics") & ~every.geography_code.isin(own)]
    for c in ("numerator", "denominator"):
        v = sub_ics[c].dropna()
        assert not ((v >= 1) & (v <= RULE.suppress_up_to)).any(), (c, v[(v >= 1) & (v <= 7)].head())
    assert set(every.geography_type) <= set(RULE.geographies)
    groups = every[(every.breakdown == breakdown) & ~every.geography_code.isin(own)]
    # Only geographies published by group make an equation of their groups (PCNs and practices are not).
    whole = every[(every.breakdown == "none") & every.geography_type.isin(set(groups.geography_type))]
    alone = _hidden_alone(groups, whole, ["geography_type", "geography_code", "period_end"])
    assert alone.empty, alone.head()
    places = every[every.geography_type == "place"]
    ics = every[every.geography_type == "ics"]
    keys = ["breakdown", "breakdown_group", "period_end"]
    alone = _beyond(_hidden_alone(places, ics, keys), places, keys, own)
    assert alone.empty, alone.head()


def test_one_areas_series_carries_its_spc_chart_from_the_points_the_caller_reads(engine_client, login, web_warehouse):
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    from placewise.publish.icons import Assurance, Variation

    public = client.get("/api/v1/indicators/hypertension_treated_to_target/data",
                        params={"level": "place", "area": web_warehouse.place}).json()
    visible = [r["period_end"] for r in public["rows"] if not r["suppressed"]]
    assert (public["spc"] or {"period_end": []})["period_end"] == visible
    login(client, "analyst")
    r = client.get("/api/v1/indicators/hypertension_treated_to_target/data",
                   params={"level": "place", "area": web_warehouse.place})
    body = r.json()
    rows = pd.DataFrame(body["rows"])
    chart = body["spc"]
    shown = rows[~rows.suppressed & rows.value.notna()]
    assert chart["period_end"] == list(shown.period_end) and len(chart["point_type"]) == len(shown) >= 6
    assert set(chart["point_type"]) <= {"common_cause", "special_cause_improvement", "special_cause_concern",
                                        "special_cause_neutral_high", "special_cause_neutral_low"}
    mean = np.mean(shown.value)
    assert chart["mean"][0] == pytest.approx(mean)      # one segment, no rebasing: the mean of the points
    assert chart["variation"] in set(Variation) and chart["assurance"] in set(Assurance)
    assert client.get("/api/v1/indicators/hypertension_treated_to_target/data",
                      params={"level": "place"}).json()["spc"] is None


@pytest.mark.parametrize("indicator", ["emergency_admissions_dsr", "ld_health_checks"])
def test_a_rolling_or_cumulative_series_carries_no_spc_point_type_and_says_why(client, login, web_warehouse,
                                                                              indicator):
    login(client, "analyst")
    meta = client.get(f"/api/v1/indicators/{indicator}").json()
    assert "not independent" in meta["no_spc"] and "Making Data Count" in meta["no_spc"]
    area = _rows(client, indicator, level="ics").geography_code.iloc[0]
    body = client.get(f"/api/v1/indicators/{indicator}/data", params={"level": "ics", "area": area}).json()
    rows = pd.DataFrame(body["rows"])
    chart = body["spc"]
    assert chart["period_end"] == list(rows[~rows.suppressed & rows.value.notna()].period_end) != []
    assert chart["point_type"] is None and chart["mean"] is None and chart["upper_limit"] is None
    assert chart["variation"] is None and chart["assurance"] is None and chart["no_spc"] == meta["no_spc"]
    page = client.get("/explore", params={"indicator": indicator, "level": "ics"}).text
    assert 'class="chart line"' in page and 'class="chart spc"' not in page and "mdc-icon" not in page
    assert client.get("/api/v1/indicators/hypertension_treated_to_target").json()["no_spc"] is None


def test_a_kept_response_is_only_given_to_callers_who_read_the_same_figures(web_app, web_warehouse, login):
    # Responses are kept per snapshot and audience: an analyst's unsuppressed body asked for first must not
    # reach the public or a clinician, and a Place lead's must not reach another Place's lead.
    params = {"level": "practice", "to": "2025-03-31", "from": "2025-03-31"}
    with TestClient(web_app) as analyst:
        login(analyst, "analyst")
        open_rows = _rows(analyst, **params)
        page = analyst.get("/explore", params={"indicator": INDICATOR, "level": "practice"}).text
    assert open_rows.numerator.between(1, RULE.suppress_up_to).any(), "the small warehouse has small practices"
    for role in ("public", "clinician"):
        with TestClient(web_app) as client:
            if role != "public":
                login(client, role)
            rows = _rows(client, **params)
            assert not rows.numerator.between(1, RULE.suppress_up_to).any(), role
            shown = client.get("/explore", params={"indicator": INDICATOR, "level": "practice"}).text
            assert "suppressed: small numbers" in shown and "suppressed: small numbers" not in page, role


def test_each_row_carries_its_funnel_verdict_among_the_areas_of_its_level(engine_client, login, web_warehouse):
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    from placewise.analyse.funnels import proportion_funnel
    from placewise.analyse.statistics import FunnelSignificance

    login(client, "analyst")
    ind, day = "hypertension_treated_to_target", "2025-03-31"
    rows = _rows(client, ind, level="practice", **{"from": day, "to": day})
    ok = rows[rows.value.notna() & (rows.denominator > 0)]
    assert len(ok) >= 3
    ics = _rows(client, ind, level="ics", **{"from": day, "to": day})  # the centre: the ICS's published value
    funnel = proportion_funnel(ok.numerator.to_numpy(float), ok.denominator.to_numpy(float), 100,
                               float(ics.value.iloc[0]) / 100)
    assert list(ok.funnel) == [FunnelSignificance(int(c)).label for c in funnel.signal]
    one = ok.iloc[0]
    alone = _rows(client, ind, level="practice", area=one.geography_code)
    assert alone[alone.period_end == day].funnel.tolist() == [one.funnel]
    by_group = _rows(client, ind, level="place", breakdown="imd_quintile")
    assert by_group.funnel.isna().all()
