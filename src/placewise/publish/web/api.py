"""The REST API (``/api/v1``) and the login endpoints (``/auth``): every route declares its roles."""

from __future__ import annotations

import io
import json
import os
import threading
import warnings
from dataclasses import asdict
from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote

import numpy as np
import pandas as pd
import ibis
import pyarrow as pa
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from placewise.analyse.plan import Plans, load_plans, plan_against_actual
from placewise.analyse.spc import AssuranceIcon, PointType, ShortSeriesWarning, VariationIcon, spc
from placewise.analyse.targets import target_status
from placewise.derive.worklists import RUNS_TABLE, rows_of
from placewise.profile.worklists import load_worklists
from placewise.publish.access import AccessRefused, Requester, reidentify
from placewise.publish.icons import assurance_from_spc, variation_from_spc
from placewise.publish.inputs import specs_from_catalogue
from placewise.publish.report import POINT_CLASS
from placewise.publish.web import audit, queries
from placewise.publish.web.app import WebState, refuse, state
from placewise.publish.web.auth import SESSION_COOKIE, SESSION_LENGTH, UserError
from placewise.publish.phm import disclosed_panel
from placewise.publish.web.roles import ANONYMOUS, Role, User, allow, reads_unsuppressed
from placewise.publish.web.summaries import measurement_frame
from placewise.publish.web.snapshot import ROW_COLUMNS
from placewise.publish.web.views import funnel_labels, ics_centres
from placewise.warehouse.connection import table_names
from placewise.warehouse.identity import STORE_ENV, IdentityError, key_from_env, open_store

router = APIRouter(prefix="/api/v1", tags=["data"])
auth_router = APIRouter(prefix="/auth", tags=["sessions"])
Format = Literal["json", "csv", "xlsx"]
CODE = r"^[A-Za-z0-9_.-]{1,40}$"


def web(request: Request) -> WebState:
    """The application's state (a dependency)."""
    return state(request)


def user_of(request: Request) -> User:
    """The caller, as :func:`placewise.publish.web.app.authorise` admitted them."""
    return request.state.user


Web = Annotated[WebState, Depends(web)]
Caller = Annotated[User, Depends(user_of)]


# ----------------------------------------------------------------------------------------------- sessions

class Login(BaseModel):
    """A login by name and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    """Who the caller is, and the CSRF token of their session (send it as X-CSRF-Token on changes)."""

    username: str | None
    role: Role
    place: str | None
    practice: str | None
    csrf_token: str | None


async def _login_fields(request: Request) -> tuple[str, str, str | None]:
    """Username, password and where to go next, from a JSON body or a form post."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = Login.model_validate(await request.json())
        except Exception as e:  # a body that is not JSON or lacks a field
            raise HTTPException(422, f"invalid request: the body must be JSON with username and password ({e})")\
                from None
        return body.username, body.password, None
    form = await request.form()
    name, password, nxt = form.get("username"), form.get("password"), form.get("next")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise HTTPException(422, "invalid request: username and password are required (JSON or a form post)")
    return name, password, nxt if isinstance(nxt, str) and nxt.startswith("/") and not nxt.startswith("//") else None


@auth_router.post("/login", response_model=Me, openapi_extra={"requestBody": {"content": {
    "application/json": {"schema": Login.model_json_schema()},
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["username", "password"],
                                                     "properties": {"username": {"type": "string"},
                                                                    "password": {"type": "string"},
                                                                    "next": {"type": "string"}}}}}}})
@allow("public")
async def login(request: Request, w: Web) -> Response:
    """Log in with a name and password: sets the session cookie; a form post is redirected to ``next``."""
    name, password, nxt = await _login_fields(request)
    user = w.auth.check_password(name, password)
    if user is None:
        audit.record(w.store, User(name[:64], "public"), "login", name[:64], "refused", "wrong name or password")
        if nxt is not None:  # the sign-in page's form: back to it, saying so
            return RedirectResponse(f"/login?failed=true&next={quote(nxt)}", status_code=303)
        raise HTTPException(401, "wrong name or password")
    token, csrf = w.auth.start_session(user)
    audit.record(w.store, user, "login", user.username or "", "granted")
    body = Me(**asdict(user), csrf_token=csrf)
    response: Response = RedirectResponse(nxt, status_code=303) if nxt else JSONResponse(body.model_dump())
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=w.secure_cookies, path="/",
                        max_age=int(SESSION_LENGTH.total_seconds()))
    return response


@auth_router.post("/logout", status_code=204)
@allow("public")
async def logout(request: Request, w: Web, user: Caller) -> Response:
    """End the session (needs its CSRF token) and clear the cookie; a form post goes back to the front page."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and user is not ANONYMOUS:
        w.auth.end_session(cookie)
        audit.record(w.store, user, "logout", user.username or "", "granted")
    form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    response = RedirectResponse("/", status_code=303) if form else Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
@allow("public")
def me(request: Request, user: Caller) -> Me:
    """The caller and their session's CSRF token (null for the public and for API tokens)."""
    return Me(**asdict(user), csrf_token=request.state.csrf)


# ----------------------------------------------------------------------------------------------- indicators

class IndicatorMeta(BaseModel):
    """An indicator of the catalogue: what it measures, where from, and by what rule."""

    id: str
    title: str
    definition: str
    domain: str
    measure: str
    per: int
    unit: str
    polarity: str
    frequency: str
    geographies: list[str]
    breakdowns: list[str]
    specification: str
    version: str
    deviations: list[str]
    target: float | None
    standard_source: str
    no_spc: str | None = Field(None, description="Why the indicator gets no SPC (its points overlap: a rolling or "
                                                 "cumulative figure, as Making Data Count advises); null where SPC "
                                                 "applies")


def _metadata(w: WebState) -> dict[str, IndicatorMeta]:
    """Every indicator's metadata by id, in catalogue order (made once per snapshot)."""
    return w.snapshot.memo("metadata", lambda: {m.id: m for m in _all_metadata(w)})


def _all_metadata(w: WebState) -> list[IndicatorMeta]:
    """Every indicator's metadata, in catalogue order."""
    specs = {s.id: s for s in specs_from_catalogue(w.snapshot.catalogue)}
    return [IndicatorMeta(id=i.id, title=i.title, definition=i.definition, domain=i.domain, measure=i.measure,
                          per=i.per, unit=specs[i.id].unit.strip(), polarity=i.polarity, frequency=i.frequency,
                          geographies=list(i.geographies), breakdowns=list(i.breakdowns),
                          specification=i.specification, version=i.version, deviations=list(i.deviations),
                          target=specs[i.id].target, standard_source=specs[i.id].standard_source,
                          no_spc=specs[i.id].no_spc or None)
            for i in w.snapshot.catalogue.indicators]


@router.get("/indicators", response_model=list[IndicatorMeta])
@allow("public")
def indicators(w: Web) -> list[IndicatorMeta]:
    """Every indicator of the catalogue with its metadata."""
    return list(_metadata(w).values())


def _indicator(w: WebState, indicator_id: str) -> IndicatorMeta:
    """One indicator's metadata, or a 404 naming it."""
    found = _metadata(w).get(indicator_id)
    if found is not None:
        return found
    raise HTTPException(404, f"no indicator {indicator_id!r}; GET /api/v1/indicators lists them")


@router.get("/indicators/{indicator_id}", response_model=IndicatorMeta)
@allow("public")
def indicator(indicator_id: str, w: Web) -> IndicatorMeta:
    """One indicator's metadata."""
    return _indicator(w, indicator_id)


class DataRow(BaseModel):
    """One figure: an area, a group and a period, as the caller may read it."""

    period_start: str
    period_end: str
    geography_type: str
    geography_code: str
    area_name: str | None
    breakdown: str
    breakdown_group: str
    numerator: float | None
    denominator: float | None
    value: float | None
    lower: float | None
    upper: float | None
    suppressed: bool
    suppression_reason: str
    funnel: str | None = Field(None, description="Funnel plot verdict against the pooled value of every area at "
                                                 "the level in the period (whole population; null where none)")
    target: float | None = Field(None, description="The target in force in the financial year of the period, on "
                                                   "the value's scale (whole population; null where none applies or "
                                                   "the latest is stale)")
    plan: float | None = Field(None, description="The plan for the period, as the Board's plan against actual: the "
                                                 "operating-plan trajectory, else the glide path to the year's target "
                                                 "or the standing standard (whole population; null where none)")


class SpcOut(BaseModel):
    """The SPC chart of one area's published series (breakdown none): NHS England's Making Data Count rules
    (:mod:`placewise.analyse.spc`), with each point's class and the latest point's icons. A series whose points
    overlap (rolling or cumulative) has no SPC: its classes, mean, limits and icons are null, ``no_spc`` says why."""

    period_end: list[str]
    point_type: list[str] | None
    mean: list[float | None] | None
    lower_limit: list[float | None] | None
    upper_limit: list[float | None] | None
    target: float | None = Field(description="The target of the latest period's financial year, as the rows carry it "
                                             "(null where none applies or the latest is stale)")
    variation: str | None
    assurance: str | None
    no_spc: str | None = Field(None, description="Why there is no SPC for this series; null where there is")


class IndicatorData(BaseModel):
    """An indicator's figures, with the disclosure rule they passed, and the SPC chart when one area is asked for."""

    indicator: IndicatorMeta
    disclosure: str
    rows: list[DataRow]
    spc: SpcOut | None = None


def _finite(values: np.ndarray) -> list[float | None]:
    """Numbers for JSON, NaN as null."""
    return [float(v) if np.isfinite(v) else None for v in values]


def spc_of(meta: IndicatorMeta, rows: pd.DataFrame) -> SpcOut | None:
    """The SPC chart of one area's rows as the caller reads them (with their ``target``, :func:`targets_plans`):
    suppressed periods are left out, so the limits rest on published points only (as in the report); assurance
    against the target of the latest period's financial year."""
    whole = rows[rows.breakdown == "none"]
    shown = whole[~whole.suppressed.astype(bool) & whole.value.notna()]
    if shown.empty or shown.geography_code.nunique() != 1:
        return None
    target = whole.target.iloc[-1]
    target = None if target is None or pd.isna(target) else float(target)
    if meta.no_spc:
        return SpcOut(period_end=[str(p) for p in shown.period_end], target=target, point_type=None, mean=None,
                      lower_limit=None, upper_limit=None, variation=None, assurance=None, no_spc=meta.no_spc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortSeriesWarning)
        result = spc(shown.value.to_numpy(dtype=float), polarity=meta.polarity,  # type: ignore[arg-type]
                     target=target)
    n = len(shown)
    return SpcOut(period_end=[str(p) for p in shown.period_end], target=target,
                  point_type=[POINT_CLASS[PointType(int(t))] for t in result.point_type[0, :n]],
                  mean=_finite(result.mean[0, :n]), lower_limit=_finite(result.lpl[0, :n]),
                  upper_limit=_finite(result.upl[0, :n]),
                  variation=str(variation_from_spc(VariationIcon(int(result.variation_icon[0])))),
                  assurance=str(assurance_from_spc(AssuranceIcon(int(result.assurance_icon[0])))), no_spc=None)


class Filters(BaseModel):
    """Which figures: a level (geography type), an area, a breakdown, and periods by their end."""

    level: str | None = Field(None, pattern=CODE, description="geography type: ics, place, pcn, practice, …")
    area: str | None = Field(None, pattern=CODE, description="geography code (ODS or ONS)")
    breakdown: str = Field("none", pattern=CODE, description="none, imd_quintile, ethnic_group, sex, age_band")
    period_from: date | None = Field(None, alias="from", description="first period end, YYYY-MM-DD")
    period_to: date | None = Field(None, alias="to", description="last period end, YYYY-MM-DD")
    format: Format = "json"


def _rows(w: WebState, user: User, indicator_id: str, f: Filters) -> tuple[IndicatorMeta, pd.DataFrame]:
    """An indicator's rows for the caller (404 for an unknown indicator)."""
    meta = _indicator(w, indicator_id)
    first, last = (d.isoformat() if d else None for d in (f.period_from, f.period_to))
    return meta, w.snapshot.rows(user, indicator_id, f.level, f.area, f.breakdown, first, last)


def _download(frame: pd.DataFrame, fmt: Format, name: str) -> Response:
    """A table as CSV or Excel, named for download."""
    if fmt == "csv":
        return Response(frame.to_csv(index=False), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    buf = io.BytesIO()
    frame.to_excel(buf, index=False, sheet_name=name[:31])
    return Response(buf.getvalue(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


@router.get("/indicators/{indicator_id}/data", response_model=IndicatorData,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                                                         "spreadsheetml.sheet": {}}}})
@allow("public")
def indicator_data(indicator_id: str, w: Web, user: Caller, f: Annotated[Filters, Query()]) -> Response:
    """An indicator's figures by level, area, breakdown and period, disclosure-controlled by role."""
    if f.format != "json":
        _, rows = _rows(w, user, indicator_id, f)
        rows = rows.assign(funnel=_funnels(w, user, indicator_id, f, rows),
                           **targets_plans(w, user, indicator_id, rows))
        return _download(rows, f.format, indicator_id)
    return Response(data_body(w, user, indicator_id, f), media_type="application/json")


def data_body(w: WebState, user: User, indicator_id: str, f: Filters) -> str:
    """The JSON body of an indicator's figures, made once per snapshot, audience and filter."""
    key = ("data", w.snapshot.audience(user), indicator_id, f.level, f.area, f.breakdown, f.period_from, f.period_to)
    return w.snapshot.memo(key, lambda: _data_json(w, user, indicator_id, f))


def _data_json(w: WebState, user: User, indicator_id: str, f: Filters) -> str:
    """The JSON body of an indicator's figures (with the SPC chart when one area is asked for)."""
    meta, rows = _rows(w, user, indicator_id, f)
    rows = rows.assign(funnel=_funnels(w, user, indicator_id, f, rows), **targets_plans(w, user, indicator_id, rows))
    chart = spc_of(meta, rows) if f.area else None
    return (f'{{"indicator":{meta.model_dump_json()},"disclosure":{json.dumps(w.snapshot.rule.statement())},'
            f'"rows":{rows[[*ROW_COLUMNS, "funnel", "target", "plan"]].to_json(orient="records")},'
            f'"spc":{chart.model_dump_json() if chart else "null"}}}')


def _funnels(w: WebState, user: User, indicator_id: str, f: Filters, rows: pd.DataFrame) -> np.ndarray:
    """Each row's funnel verdict among every area of its level in its period against the ICS value, as the caller
    reads them (the explorer's funnel, :func:`placewise.publish.web.views.funnel_labels`); null for breakdowns and
    without a level."""
    if f.level is None or rows.empty:
        return np.full(len(rows), None, dtype=object)
    first, last = (d.isoformat() if d else None for d in (f.period_from, f.period_to))
    peers = w.snapshot.rows(user, indicator_id, f.level, None, "none", first, last)
    spec = w.snapshot.memo("specs", lambda: {s.id: s for s in specs_from_catalogue(w.snapshot.catalogue,
                                                                                  spreads=w.snapshot.spreads)})
    ics = w.snapshot.rows(user, indicator_id, "ics", None, "none", first, last)
    centres = ics_centres(ics, spec[indicator_id].per)
    verdicts = pd.Series(funnel_labels(spec[indicator_id], peers, centres), dtype=object)
    if verdicts.empty:
        return np.full(len(rows), None, dtype=object)
    found = verdicts.reindex(pd.MultiIndex.from_arrays([rows.period_end, rows.geography_code])).to_numpy()
    keep = (rows.breakdown.to_numpy() == "none") & pd.notna(found)
    out = np.full(len(rows), None, dtype=object)
    out[keep] = found[keep]
    return out


_PROFILE_PLANS: dict[tuple[str, float], Plans] = {}
_PLANS_LOCK = threading.Lock()


def plans_of(w: WebState) -> Plans:
    """The profile's plans and trajectories, read once per profile and population share (the plans of counts are
    scaled to a synthetic sample's share of the ICS, as in the report)."""
    share = queries.population_share(w.warehouse, w.snapshot.computed_at, w.snapshot.profile)
    key = (str(w.snapshot.profile.folder), share)
    with _PLANS_LOCK:
        if key not in _PROFILE_PLANS:
            _PROFILE_PLANS[key] = load_plans(w.snapshot.profile, w.snapshot.catalogue, share=share)
        return _PROFILE_PLANS[key]


def plans(w: WebState, user: User) -> dict[str, pd.Series]:
    """Every whole-population series' plan (:func:`placewise.analyse.plan.plan_against_actual`, as the Board reads
    it) by indicator, then level, area and period start, over the actuals as this user's audience reads them (a
    glide path starts from the March value they see). Made once per snapshot and audience, every indicator in one
    pass: a plan depends only on its own series, so one pass gives each series what it would alone."""
    def make() -> dict[str, pd.Series]:
        """The plans of every series the audience reads."""
        s = w.snapshot
        frame = measurement_frame({i: s.rows(user, i, None, None, "none") for i in s.by_indicator})
        pva = plan_against_actual(pa.Table.from_pandas(frame, preserve_index=False), plans_of(w),
                                  s.catalogue).to_pandas()
        keyed = pva.set_index(["geography_type", "geography_code", "period_start"])
        return {str(i): g.plan.sort_index() for i, g in keyed.groupby("indicator_id", sort=False)}
    return w.snapshot.memo(("plans", w.snapshot.audience(user)), make)


def warm(w: WebState) -> None:
    """Make what a first request would otherwise wait for: the plans as the public and as analysts read them."""
    for reader in (ANONYMOUS, User(None, "analyst")):
        plans(w, reader)


def targets_plans(w: WebState, user: User, indicator_id: str, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each whole-population row's target (:func:`placewise.analyse.targets.target_status` for the financial year of
    its period; null where stale or missing) and plan (:func:`plans`); null for breakdowns. The API's rows and the
    explorer page read them here, so both show the same."""
    out = {"target": np.full(len(rows), None, dtype=object), "plan": np.full(len(rows), None, dtype=object)}
    whole = rows.breakdown.to_numpy() == "none"
    if not whole.any():
        return out
    ind = next(i for i in w.snapshot.catalogue.indicators if i.id == indicator_id)
    source = _indicator(w, indicator_id).standard_source
    starts = pd.to_datetime(rows.period_start).dt.date
    years = {d: target_status(ind.target, source, d) for d in set(starts[whole])}
    targets = starts.map({d: None if t.flag == "stale" else t.value for d, t in years.items()}).to_numpy(dtype=object)
    out["target"][whole] = targets[whole]
    plan = plans(w, user).get(indicator_id)
    if plan is None:
        return out
    found = plan.reindex(pd.MultiIndex.from_arrays([rows.geography_type, rows.geography_code, starts])).to_numpy()
    keep = whole & pd.notna(found)
    out["plan"][keep] = found[keep]
    return out


FINGERTIPS_COLUMNS = [
    "Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name", "Area Type", "Sex",
    "Age", "Category Type", "Category", "Time period", "Value", "Lower CI 95.0 limit", "Upper CI 95.0 limit",
    "Lower CI 99.8 limit", "Upper CI 99.8 limit", "Count", "Denominator", "Value note", "Recent Trend",
    "Compared to England value or percentiles", "Compared to ICB value or percentiles", "Time period Sortable",
    "New data", "Compared to goal", "Time period range"]
"""The columns of OHID Fingertips' CSV data download (``all_data/csv``), in its order."""
BREAKDOWN_CATEGORY = {"imd_quintile": "IMD quintile (1 most deprived)", "ethnic_group": "Ethnic group",
                      "age_band": "Age band", "sex": "Sex", "imd_quintile_gap": "IMD quintile gap",
                      "sex_by_imd_quintile": "Sex and IMD quintile",
                      "ethnic_group_by_imd_quintile": "Ethnic group and IMD quintile"}


def fingertips_frame(meta: IndicatorMeta, rows: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Rows in Fingertips' CSV shape: its column names, a persons/all-ages row per area, breakdowns as categories.

    Placewise's indicator id stands in the Indicator ID column (it has no Fingertips number); the
    comparison columns Placewise does not compute are left empty; a suppressed figure carries its
    reason in Value note, as Fingertips does.
    """
    names = areas.set_index(["geography_type", "geography_code"]).name
    parents = areas.set_index(["geography_type", "geography_code"])[["parent_type", "parent_code"]]
    key = pd.MultiIndex.from_frame(rows[["geography_type", "geography_code"]])
    parent = parents.reindex(key)
    parent_names = names.reindex(pd.MultiIndex.from_arrays([parent.parent_type, parent.parent_code]))
    by_sex = rows.breakdown == "sex"
    category = rows.breakdown.map(BREAKDOWN_CATEGORY).where(~by_sex & (rows.breakdown != "none"), "")
    end = pd.to_datetime(rows.period_end)
    out = pd.DataFrame({
        "Indicator ID": meta.id, "Indicator Name": meta.title,
        "Parent Code": parent.parent_code.to_numpy(), "Parent Name": parent_names.to_numpy(),
        "Area Code": rows.geography_code.to_numpy(), "Area Name": rows.area_name.to_numpy(),
        "Area Type": rows.geography_type.to_numpy(),
        "Sex": rows.breakdown_group.where(by_sex, "Persons").str.capitalize().to_numpy(),
        "Age": rows.breakdown_group.where(rows.breakdown == "age_band", "All ages").to_numpy(),
        "Category Type": category.to_numpy(),
        "Category": rows.breakdown_group.where(category != "", "").to_numpy(),
        "Time period": rows.period_start + " to " + rows.period_end,
        "Value": rows.value.to_numpy(), "Lower CI 95.0 limit": rows.lower.to_numpy(),
        "Upper CI 95.0 limit": rows.upper.to_numpy(), "Lower CI 99.8 limit": None, "Upper CI 99.8 limit": None,
        "Count": rows.numerator.to_numpy(), "Denominator": rows.denominator.to_numpy(),
        "Value note": rows.suppression_reason.where(rows.suppressed, "").map(
            lambda r: f"Value suppressed for disclosure control ({r})" if r else "").to_numpy(),
        "Recent Trend": "", "Compared to England value or percentiles": "",
        "Compared to ICB value or percentiles": "", "Time period Sortable": (end.dt.year * 10000 + end.dt.month * 100
                                                                            ).to_numpy(),
        "New data": "", "Compared to goal": "", "Time period range": "",
    })
    return out[FINGERTIPS_COLUMNS]


@router.get("/indicators/{indicator_id}/fingertips.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
@allow("public")
def fingertips_csv(indicator_id: str, w: Web, user: Caller, f: Annotated[Filters, Query()]) -> Response:
    """An indicator's figures in OHID Fingertips' CSV column layout, so code written for Fingertips reads them."""
    meta, rows = _rows(w, user, indicator_id, f)
    frame = fingertips_frame(meta, rows, w.snapshot.areas)
    return Response(frame.to_csv(index=False), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{indicator_id}-fingertips.csv"'})


# ----------------------------------------------------------------------------------------------- areas

class AreaOut(BaseModel):
    """An area, its parent in the hierarchy and the Place it lies in (null above Place level)."""

    geography_type: str
    geography_code: str
    name: str
    parent_type: str | None
    parent_code: str | None
    place: str | None


@router.get("/areas", response_model=list[AreaOut])
@allow("public")
def areas(w: Web, level: Annotated[str | None, Query(pattern=CODE)] = None) -> Response:
    """Every area (or every area of one level) with its parent: the geography hierarchy."""
    t = w.snapshot.areas
    if level is not None:
        t = t[t.geography_type == level]
    return Response(t.to_json(orient="records"), media_type="application/json")


# ----------------------------------------------------------------------------------------------- data quality

class Quality(BaseModel):
    """Loads, completeness by table, the commonest quarantine reasons and the latest data."""

    latest_data: str
    summary: str
    measurements: int
    computed_at: str | None
    tables: list[dict[str, str]]
    quarantine_reasons: list[dict[str, str | int]]
    recorded_fields: list[dict[str, str]]


@router.get("/data-quality", response_model=Quality)
@allow("analyst", "place_lead", "admin")
def data_quality(w: Web) -> Quality:
    """The load log, completeness, quarantine summary and latest data, as read at start-up."""
    q, s = w.snapshot.quality, w.snapshot
    return Quality(latest_data=q.latest_data, summary=q.summary, measurements=s.measurements,
                   computed_at=s.computed_at.isoformat() if s.computed_at else None,
                   tables=[dict(zip(q.headers, r, strict=True)) for r in q.tables],
                   quarantine_reasons=[dict(zip(("table", "field", "reason", "rows"), r, strict=True))
                                       for r in q.reasons],
                   recorded_fields=[dict(zip(("field", "rows", "recorded"), r, strict=True)) for r in q.fields])


# ----------------------------------------------------------------------------------------------- model cards

class FairnessRow(BaseModel):
    """The model's performance in one group of the test year, with 95% intervals (null where hidden or not
    estimable): discrimination (AUROC), calibration (slope, intercept, observed/expected) and error rates."""

    dimension: str
    group: str
    people: float | None
    admitted: float | None
    auroc: float | None
    auroc_low: float | None
    auroc_high: float | None
    slope: float | None
    slope_low: float | None
    slope_high: float | None
    intercept: float | None
    intercept_low: float | None
    intercept_high: float | None
    observed_expected: float | None
    oe_low: float | None
    oe_high: float | None
    fpr: float | None
    fpr_low: float | None
    fpr_high: float | None
    fnr: float | None
    fnr_low: float | None
    fnr_high: float | None
    suppressed: bool


class ModelCard(BaseModel):
    """A risk model's card (Markdown, TRIPOD+AI items) and fairness panel, disclosure-controlled by role."""

    id: str
    title: str
    card: str
    disclosure: str
    fairness: list[FairnessRow]


def cards_for(w: WebState, user: User) -> list[ModelCard]:
    """The server's model cards as this user reads them (the panel's counts through the rule below analyst)."""
    out = []
    for m in w.models:
        panel = m.panel.assign(suppressed=False) if reads_unsuppressed(user, None) else \
            disclosed_panel(m.panel, w.snapshot.rule)
        rows = json.loads(panel.to_json(orient="records"))
        out.append(ModelCard(id=m.id, title=m.title, card=m.card, disclosure=w.snapshot.rule.statement(),
                             fairness=[FairnessRow.model_validate(r) for r in rows]))
    return out


@router.get("/model-cards", response_model=list[ModelCard])
@allow("public")
def model_cards(w: Web, user: Caller) -> list[ModelCard]:
    """The model cards and fairness panels of the risk models this server was given (``--model``)."""
    return cards_for(w, user)


# ----------------------------------------------------------------------------------------------- administration

class NewUser(BaseModel):
    """A local user to add."""

    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["analyst", "place_lead", "clinician", "admin"]
    place: str | None = Field(None, pattern=CODE)
    practice: str | None = Field(None, pattern=CODE)


class UserOut(BaseModel):
    """A user as the administrator sees them (never a password)."""

    username: str | None
    role: Role
    place: str | None
    practice: str | None


class NewToken(BaseModel):
    """An API token to issue."""

    username: str = Field(min_length=2, max_length=64)
    label: str = Field(min_length=1, max_length=200)


class Token(BaseModel):
    """An API token, shown once."""

    username: str
    token: str


@router.get("/admin/users", response_model=list[UserOut])
@allow("admin")
def list_users(w: Web) -> list[UserOut]:
    """Every local user."""
    return [UserOut(**asdict(u)) for u in w.auth.users()]


@router.post("/admin/users", response_model=UserOut, status_code=201)
@allow("admin")
def add_user(new: Annotated[NewUser, Body()], w: Web, user: Caller) -> UserOut:
    """Add a local user (a clinician needs a practice, a Place lead a Place)."""
    try:
        added = w.auth.add_user(new.username, new.password, new.role, new.place, new.practice)
    except UserError as e:
        raise HTTPException(422, f"invalid request: {e}") from None
    audit.record(w.store, user, "user_added", new.username, "granted", new.role)
    return UserOut(**asdict(added))


@router.post("/admin/tokens", response_model=Token, status_code=201)
@allow("admin")
def issue_token(new: Annotated[NewToken, Body()], w: Web, user: Caller) -> Token:
    """Issue an API token for a user's scripts (shown once)."""
    try:
        token = w.auth.issue_token(new.username, new.label)
    except UserError as e:
        raise HTTPException(404, str(e)) from None
    audit.record(w.store, user, "token_issued", new.username, "granted", new.label)
    return Token(username=new.username, token=token)


class Reloaded(BaseModel):
    """Whether the server read new measurements, and which it now serves."""

    reloaded: bool
    measurements: int
    computed_at: str | None


@router.post("/admin/reload", response_model=Reloaded)
@allow("admin")
def reload(request: Request, user: Caller) -> Reloaded:
    """Read the warehouse again after a load: if its measurements changed, the new ones are served from the
    next request on (the disclosure decision made again over them)."""
    shared: WebState = request.app.state.web
    changed = shared.reload()
    s = shared.snapshot
    audit.record(shared.store, user, "reload", "warehouse", "granted",
                 f"{'new' if changed else 'unchanged'}: {s.measurements} measurements")
    return Reloaded(reloaded=changed, measurements=s.measurements,
                    computed_at=s.computed_at.isoformat() if s.computed_at else None)


class AuditRow(BaseModel):
    """One audited call."""

    at: str
    who: str | None
    role: str
    action: str
    target: str
    outcome: str
    detail: str


@router.get("/admin/audit", response_model=list[AuditRow])
@allow("admin")
def audit_log(w: Web, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[AuditRow]:
    """The latest audited calls, newest first."""
    return [AuditRow.model_validate({**r, "at": str(r["at"])}) for r in audit.rows(w.store, limit)]



# ----------------------------------------------------------------------------------------------- worklists

worklist_router = APIRouter(prefix="/api/v1/worklists", tags=["worklists"])

class WorklistMeta(BaseModel):
    """A case-finding list: what it finds, by which guidance and version."""

    id: str
    title: str
    source: str
    version: str
    caveats: list[str]


class WorklistRow(BaseModel):
    """One person on a practice's list: pseudonym, why, the evidence and when they were last seen."""

    list_id: str
    run_id: str
    practice_code: str
    person_id: str
    reasons: str | None
    evidence: str | None
    evidence_date: date | None
    last_seen: date | None
    caveats: str | None
    nhs_number: str | None = None


class Worklist(BaseModel):
    """A practice's rows of the latest run of a list."""

    worklist: WorklistMeta
    practice: str
    run_id: str
    reference_date: str
    rows: list[WorklistRow]


class Purpose(BaseModel):
    """Why a clinician asks to see NHS numbers: only direct care is granted."""

    purpose: str = Field(min_length=1, max_length=100, description="direct_care")


def _lists(w: WebState) -> list[WorklistMeta]:
    """The profile's lists."""
    return [WorklistMeta(id=x.id, title=x.title, source=x.source, version=x.version, caveats=list(x.caveats))
            for x in load_worklists(w.snapshot.profile).worklists]


@worklist_router.get("", response_model=list[WorklistMeta])
@allow("public")
def worklists(w: Web) -> list[WorklistMeta]:
    """The case-finding lists of the profile (their rules, not their people)."""
    return _lists(w)


def _practice_scope(request: Request, user: User, practice: str, action: str) -> None:
    """Refuse (and audit) a clinician asking for another practice's patients."""
    if user.practice != practice:
        raise refuse(request, user, 403, f"a clinician of {user.practice} may not {action} patients of {practice}")


def _latest(w: WebState, con: ibis.BaseBackend, list_id: str, practice: str) -> tuple[WorklistMeta, dict, pa.Table]:
    """The list, its newest stored run and the practice's rows of it (404 if there is none)."""
    meta = next((m for m in _lists(w) if m.id == list_id), None)
    if meta is None:
        raise HTTPException(404, f"no worklist {list_id!r}; GET /api/v1/worklists lists them")
    runs = con.table(RUNS_TABLE) if RUNS_TABLE in table_names(con) else None
    got = [] if runs is None else runs.filter(runs.list_id == list_id).order_by(ibis.desc("created_at")).limit(1)\
        .to_pyarrow().to_pylist()
    if not got:
        raise HTTPException(404, f"worklist {list_id!r} has not been run yet: placewise worklist builds it")
    return meta, got[0], rows_of(con, got[0]["run_id"], practice)


def _worklist(meta: WorklistMeta, run: dict, practice: str, rows: pa.Table) -> Worklist:
    """The response: the practice's rows."""
    return Worklist(worklist=meta, practice=practice, run_id=run["run_id"], reference_date=str(run["reference_date"]),
                    rows=[WorklistRow.model_validate(r) for r in rows.to_pylist()])


@worklist_router.get("/{list_id}/practices/{practice}", response_model=Worklist)
@allow("clinician")
def worklist(list_id: Annotated[str, Path(pattern=CODE)], practice: Annotated[str, Path(pattern=CODE)],
             request: Request, w: Web, user: Caller) -> Worklist:
    """A practice's people on the latest run of a list, pseudonymised (a person-level read, audited)."""
    _practice_scope(request, user, practice, "read the worklists of")
    with w.warehouse.read() as con:
        meta, run, rows = _latest(w, con, list_id, practice)
    audit.record(w.store, user, "person_level_read", f"{run['run_id']} {practice}", "granted",
                 f"{rows.num_rows} rows")
    return _worklist(meta, run, practice, rows)


@worklist_router.post("/{list_id}/practices/{practice}/reidentify", response_model=Worklist)
@allow("clinician")
def reidentify_worklist(list_id: Annotated[str, Path(pattern=CODE)], practice: Annotated[str, Path(pattern=CODE)],
                        why: Annotated[Purpose, Body()], request: Request, w: Web, user: Caller) -> Worklist:
    """The same rows with NHS numbers, for the practice's own clinician stating direct care (audited twice:
    here and in the identity store)."""
    _practice_scope(request, user, practice, "re-identify")
    url = os.environ.get(STORE_ENV)
    if not url:
        raise HTTPException(409, f"re-identification is not set up on this server: ${STORE_ENV} names no "
                                 "identity store")
    try:
        fernet = key_from_env()
        store = open_store(url)
    except IdentityError as e:
        raise HTTPException(409, f"re-identification is not available: {e}") from None
    requester = Requester(user.username or "", "clinician", user.practice or "", why.purpose)
    try:
        with w.warehouse.read() as con:
            meta, run, _ = _latest(w, con, list_id, practice)
            rows = reidentify(con, store, fernet, requester, run["run_id"], practice)
    except AccessRefused as e:
        raise refuse(request, user, 403, str(e)) from None
    finally:
        store.disconnect()
    audit.record(w.store, user, "reidentification", f"{run['run_id']} {practice}", "granted",
                 f"{rows.num_rows} rows; purpose {why.purpose}")
    return _worklist(meta, run, practice, rows)


# ------------------------------------------------------------------------------------------ referral feedback

class ReferralRow(BaseModel):
    """One specialty (treatment function) of a practice's or PCN's referral feedback, as the feedback pack publishes
    it: the rounded count (null where the disclosure rule hides it, with its ratios, verdicts and difference), the
    referrals expected at the ICS rates, the age-sex and need-adjusted ratios with their 95% funnel verdicts, whether
    the two verdicts differ, and (for a practice) its PCN's age-sex ratio and its verdict (null, with ``pcn_hidden``,
    where the PCN's count is hidden)."""

    specialty: str
    name: str
    referrals: int | None
    expected: float
    ratio: float | None
    verdict: str | None
    need_ratio: float | None
    need_verdict: str | None
    differ: bool | None
    pcn_ratio: float | None
    pcn_hidden: bool | None
    pcn_verdict: str | None = None
    """(For a practice) its PCN's verdict among every PCN of the ICS; null where the PCN's count is hidden."""


class ReferralFeedback(BaseModel):
    """A practice's or PCN's referrals by specialty over the window, against the ICS."""

    level: Literal["practice", "pcn"]
    code: str
    name: str
    pcn: str | None
    first_month: str
    last_month: str
    specialties: list[ReferralRow]


def referral_feedback(w: WebState, level: str, code: str) -> ReferralFeedback:
    """The feedback of a practice or PCN, or 404."""
    from placewise.publish.web import referrals as rf

    try:
        r = rf.referrals(w)
    except ValueError as e:
        raise HTTPException(404, f"no referral feedback: {e}") from None
    units = r.ratios.practices.units if level == "practice" else r.ratios.pcns.units
    if code not in units:
        raise HTTPException(404, f"no {level} {code} with referrals in the warehouse")
    a = w.snapshot.areas
    found = a[(a.geography_type == level) & (a.geography_code == code)]
    rows = rf.practice_rows(w, code) if level == "practice" else rf.pcn_rows(w, code)
    first, last = r.months
    return ReferralFeedback(level=level, code=code, name=str(found.iloc[0]["name"]) if len(found) else code,  # type: ignore[arg-type]
                            pcn=rf.pcn_of(w, code) if level == "practice" else None, first_month=str(first),
                            last_month=str(last), specialties=[ReferralRow(**x) for x in rows])  # type: ignore[arg-type]


@router.get("/referrals/{level}/{code}", response_model=ReferralFeedback)
@allow("public")
def referral_feedback_api(level: Literal["practice", "pcn"], code: Annotated[str, Path(pattern=CODE)],
                          w: Web) -> ReferralFeedback:
    """A practice's or PCN's referral variation feedback by specialty: the figures of its feedback pack
    (``placewise report --practice CODE``), through the disclosure rule for every role."""
    return referral_feedback(w, level, code)
