"""The server-rendered pages: indicator explorer, inequalities, Board summary, area profiles, data quality.

Every page reads what the REST API reads, through the same snapshot (:mod:`.snapshot`) and with the same
role (figures disclosure-controlled for roles below analyst), and draws the report's charts. Pages are
plain HTML forms and links with no script, so they work from the keyboard and without JavaScript; the
stylesheet is served from the package under ``/static``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, FastAPI, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.exceptions import HTTPException

from placewise.measure import Indicator
from placewise.profile import Profile
from placewise.publish.access import DIRECT_CARE
from placewise.publish.config import load_core20, load_settings
from placewise.publish.inputs import main_providers, specs_from_catalogue
from placewise.publish.report import Area, IndicatorSpec, ReportModel, Scope
from placewise.publish.web import api, queries
from placewise.publish.web.app import WebState, current_user, state
from placewise.publish.web.roles import ANONYMOUS, UNSUPPRESSED_EVERYWHERE, User, allow
from placewise.publish.web.summaries import (
    GapRow,
    board_model,
    gap_rows,
    measurement_frame,
)
from placewise.publish.web.views import BREAKDOWNS, explorer, ics_centres, level_funnel

router = APIRouter(include_in_schema=False)
STATIC = "/static"
NAV = (("/explore", "Indicator explorer"), ("/inequalities", "Inequalities"), ("/board", "Board summary"),
       ("/areas", "Places, PCNs and practices"), ("/referrals", "Referrals"), ("/population", "Population health"),
       ("/worklists", "Worklists"), ("/quality", "Data quality"))
LEVELS = {"ics": "ICS", "place": "Place", "pcn": "Primary Care Network", "practice": "Practice",
          "provider": "Provider", "site": "Site", "care_alliance": "Care alliance", "legacy_ccg": "Legacy CCG",
          "ward": "Ward", "neighbourhood": "Neighbourhood"}
"""Geography levels as the pages name them."""
ROLE_LABELS = {"public": "public", "analyst": "analyst", "place_lead": "Place lead", "clinician": "clinician",
               "admin": "administrator"}
CODE = r"^[A-Za-z0-9_.-]{1,40}$"


def install(app: FastAPI) -> None:
    """Add the pages and the stylesheet to the application."""
    app.include_router(router)
    app.mount(STATIC, StaticFiles(packages=[("placewise.publish.web", "static")]), name="static")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """The Jinja2 environment over the pages' templates, escaping HTML, failing on unknown names."""
    return Environment(loader=PackageLoader("placewise.publish.web", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(request: Request, template: str, title: str, active: str = "", status: int = 200,
           **context: object) -> HTMLResponse:
    """A page: the template with the site's header (who is signed in), navigation and footer."""
    user: User = request.state.user
    w = state(request)
    html = _environment().get_template(template).render(
        title=title, active=active, nav=NAV, root="", static_url=STATIC, user=user if user.username else None,
        role_label=ROLE_LABELS[user.role], csrf_token=getattr(request.state, "csrf", None),
        synthetic=queries.synthetic(w.warehouse, w.snapshot.computed_at), rule_text=w.snapshot.rule.statement(),
        disclosed=user.role not in UNSUPPRESSED_EVERYWHERE, **context)
    return HTMLResponse(html, status_code=status)


def is_page(request: Request) -> bool:
    """Whether a request is for a page (not the API, the session endpoints or a static file)."""
    path = request.url.path
    return not path.startswith(("/api/", "/auth/", STATIC + "/")) and path != "/api"


def error_page(request: Request, status: int, message: str) -> Response:
    """A refused or failed page as a page: signed-out visitors go to the sign-in form, others read why."""
    if status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if getattr(request.state, "user", None) is None:
        try:
            request.state.user = current_user(request)
        except HTTPException:
            request.state.user = ANONYMOUS
    heading = {403: "You do not have access to this page", 404: "Page not found"}.get(status, "Something went wrong")
    return render(request, "message.html.j2", heading, status=status, heading=heading, text=message)


def _specs(w: WebState, rows: pd.DataFrame) -> dict[str, IndicatorSpec]:
    """The report's view of every catalogue indicator (formats, and targets for the year of the latest of
    ``rows``, as the report takes them), by id; made once per snapshot and latest period end."""
    latest = _latest_end(rows)
    return w.snapshot.memo(("specs", latest), lambda: {s.id: s for s in specs_from_catalogue(w.snapshot.catalogue,
                                                                                            latest, w.snapshot.alone,
                                                                                            w.snapshot.spreads)})


def _latest_end(rows: pd.DataFrame) -> date | None:
    """The latest period end of some rows (ISO strings or dates), or None if there are none."""
    return None if rows.empty else pd.Timestamp(max(rows.period_end)).date()


def _indicator(w: WebState, wanted: str | None) -> Indicator | None:
    """The catalogue indicator asked for (the first with data when none is asked for), or None if unknown."""
    inds = [i for i in w.snapshot.catalogue.indicators if i.id in w.snapshot.by_indicator]
    if wanted is None:
        return inds[0] if inds else None
    return next((i for i in inds if i.id == wanted), None)


def as_dates(rows: pd.DataFrame) -> pd.DataFrame:
    """Snapshot rows (ISO date strings) with dates, as the charts and labels read them."""
    return rows.assign(**{c: rows[c].to_numpy(dtype="datetime64[D]").astype(object)
                          for c in ("period_start", "period_end")})


@router.get("/", response_class=HTMLResponse)
@allow("public")
def home_page(request: Request) -> HTMLResponse:
    """The front page: what Placewise shows, and where to start."""
    w = state(request)
    return render(request, "home.html.j2", "Home", latest=w.snapshot.quality.latest_data,
                  measurements=w.snapshot.measurements, ics=w.snapshot.profile.ics.name)


@router.get("/login", response_class=HTMLResponse)
@allow("public")
def login_page(request: Request, next: Annotated[str, Query(max_length=200)] = "/",
               failed: bool = False) -> HTMLResponse:
    """The sign-in form; it posts to the session endpoint, which returns here to ``next``."""
    safe = next if next.startswith("/") and not next.startswith("//") else "/"
    return render(request, "login.html.j2", "Sign in", next_url=safe, failed=failed,
                  status=401 if failed else 200)


@router.get("/explore", response_class=HTMLResponse)
@allow("public")
def explore_page(request: Request, indicator: Annotated[str | None, Query(pattern=CODE)] = None,
            level: Annotated[str | None, Query(pattern=CODE)] = None,
            area: Annotated[str | None, Query(pattern=CODE)] = None,
            breakdown: Annotated[str, Query(pattern=CODE)] = "none") -> HTMLResponse:
    """The indicator explorer: one indicator for one area at one level, against every area, by group."""
    w, user = state(request), request.state.user
    ind = _indicator(w, indicator)
    if ind is None:
        return render(request, "explorer.html.j2", "Indicator explorer", "/explore", status=404, view=None,
                      message=f"There is no indicator {indicator!r} with data; choose one from the list.",
                      unpublished="", form=_choices(w, None, ["ics"], "ics", [], "", "none"))
    title, context = _explorer(w, user, ind, level, area, breakdown)
    return render(request, "explorer.html.j2", title, "/explore", **context)


def _explorer(w: WebState, user: User, ind: Indicator, level: str | None, area: str | None,
              breakdown: str) -> tuple[str, dict[str, Any]]:
    """The explorer page's title and context, made once per snapshot, audience and choice."""
    key = ("explore", w.snapshot.audience(user), ind.id, level, area, breakdown)
    return w.snapshot.memo(key, lambda: _explorer_context(w, user, ind, level, area, breakdown))


def warm_places(w: WebState) -> None:
    """Make every Place's explorer page and series (``/api/v1/indicators/{id}/data?level=place&area=…``) of every
    indicator measured by Place, as the public reads them, so that the first visitors to ask for them need not wait
    (``placewise serve`` runs this before it serves)."""
    for ind in w.snapshot.catalogue.indicators:
        if "place" in _levels(w, ANONYMOUS, ind):
            for area in _level(w, ANONYMOUS, ind, "place").present:
                _explorer(w, ANONYMOUS, ind, "place", area, "none")
                api.data_body(w, ANONYMOUS, ind.id, api.Filters.model_validate({"level": "place", "area": area}))


def _explorer_context(w: WebState, user: User, ind: Indicator, level: str | None, area: str | None,
                      breakdown: str) -> tuple[str, dict[str, Any]]:
    """The explorer page's title and what it shows (the same for every user who reads the same figures).

    What every area of a level shares (its rows with their targets and plans, the funnel, the form's choices) is
    made once per snapshot and audience (:func:`_level`), so a first page for another area draws only its own
    charts."""
    levels = _levels(w, user, ind)
    hidden = [LEVELS.get(g, g) for g in ind.geographies if g not in levels]
    level = level if level in levels else (levels[0] if levels else "ics")
    shared = _level(w, user, ind, level)
    rows = shared.rows
    area = area if area is not None and area in shared.present else (shared.present[0] if shared.present else "")
    breakdown = breakdown if breakdown in ind.breakdowns and breakdown in BREAKDOWNS else "none"
    if breakdown != "none" and area:
        rows = pd.concat([rows, as_dates(w.snapshot.rows(user, ind.id, level, area, breakdown))], ignore_index=True)
    spec = shared.spec
    view = None
    if area:
        mine = shared.rows[shared.rows.geography_code == area]
        plan, target = ({d: float(v) for d, v in zip(mine.period_start, mine[c], strict=True)
                         if v is not None and pd.notna(v)} for c in ("plan", "target"))
        view = explorer(rows, spec, ind.per, area, shared.names, breakdown, plan, target,
                        lambda period: w.snapshot.memo(
                            ("level funnel", w.snapshot.audience(user), ind.id, level, period),
                            lambda: level_funnel(shared.rows, spec, ind.per, shared.names, period,
                                                 _ics_centres(w, user, ind).get(period))))
    query = f"level={level}&area={area}&breakdown={breakdown}"
    base = f"/api/v1/indicators/{ind.id}"
    return f"{spec.title}: indicator explorer", dict(
        view=view, message="" if view else "No area has published figures for this indicator.",
        unpublished=", ".join(hidden),
        level_text=LEVELS.get(level, level).lower() if level != "pcn" else "Primary Care Network",
        breakdown_text=BREAKDOWNS.get(breakdown, breakdown),
        downloads=[(f"{base}/data?{query}&format=csv", "CSV"), (f"{base}/data?{query}&format=xlsx", "Excel"),
                   (f"{base}/data?{query}&format=json", "JSON"),
                   (f"{base}/fingertips.csv?{query}", "Fingertips-shaped CSV")],
        form=_choices(w, ind, levels, level, shared.present, area, breakdown))


@dataclass(frozen=True)
class Level:
    """One indicator at one level as an audience reads it, shared by the explorer pages of all its areas."""

    rows: pd.DataFrame
    """Whole-population rows with dates, and each row's ``target`` and ``plan`` (:func:`api.targets_plans`)."""
    present: list[str]
    names: dict[str, str]
    spec: IndicatorSpec


def _levels(w: WebState, user: User, ind: Indicator) -> list[str]:
    """The indicator's levels at which this user's audience reads any figures, made once per snapshot."""
    return w.snapshot.memo(("levels", w.snapshot.audience(user), ind.id), lambda: [
        g for g in ind.geographies if not w.snapshot.rows(user, ind.id, g, None, "none").empty])


def _level(w: WebState, user: User, ind: Indicator, level: str) -> Level:
    """An indicator's figures at one level as this user's audience reads them, made once per snapshot."""
    def make() -> Level:
        rows = as_dates(w.snapshot.rows(user, ind.id, level, None, "none"))
        rows = rows.assign(**api.targets_plans(w, user, ind.id, rows))
        return Level(rows, list(dict.fromkeys(rows.geography_code)), _area_names(w, level),
                     _specs(w, rows)[ind.id])
    return w.snapshot.memo(("level", w.snapshot.audience(user), ind.id, level), make)


def _ics_centres(w: WebState, user: User, ind: Indicator) -> dict:
    """The ICS value of each period as this user's audience reads it, the centre of every level's funnel (made once
    per snapshot and audience)."""
    return w.snapshot.memo(("ics centres", w.snapshot.audience(user), ind.id),
                           lambda: ics_centres(as_dates(w.snapshot.rows(user, ind.id, "ics", None, "none")), ind.per))


def _area_names(w: WebState, level: str) -> dict[str, str]:
    """Area names of one level, by code (made once per snapshot)."""
    def make() -> dict[str, str]:
        a = w.snapshot.areas
        a = a[a.geography_type == level]
        return dict(zip(a.geography_code, a.name, strict=True))
    return w.snapshot.memo(("area names", level), make)


def _choices(w: WebState, ind: Indicator | None, levels: list[str], level: str, codes: list[str], area: str,
             breakdown: str) -> dict[str, object]:
    """The explorer form's options (the levels this user may read) and current choices."""
    inds = [i for i in w.snapshot.catalogue.indicators if i.id in w.snapshot.by_indicator]
    names = _area_names(w, level)
    return {
        "indicators": inds, "levels": [(g, LEVELS.get(g, g)) for g in levels],
        "areas": sorted(((c, names.get(c, c)) for c in codes), key=lambda x: x[1]),
        "breakdowns": [(b, BREAKDOWNS[b]) for b in (ind.breakdowns if ind else ["none"]) if b in BREAKDOWNS],
        "chosen": {"indicator": ind.id if ind else "", "level": level, "area": area, "breakdown": breakdown},
    }


@router.get("/quality", response_class=HTMLResponse)
@allow("analyst", "place_lead", "admin")
def quality_page(request: Request) -> HTMLResponse:
    """Data quality: loads, completeness by table, the commonest quarantine reasons and the latest data."""
    w = state(request)
    computed = w.snapshot.computed_at
    return render(request, "quality.html.j2", "Data quality", "/quality", q=w.snapshot.quality,
                  measurements=f"{w.snapshot.measurements:,}",
                  computed=f"{computed:%-d %B %Y %H:%M} UTC" if computed else "never")


def _frame(w: WebState, user: User, level: str, codes: set[str] | None,
           breakdowns: tuple[str, ...] = ("none", "imd_quintile")) -> pd.DataFrame:
    """Every indicator's rows at one level (only ``codes`` if given) for these breakdowns, as the user may read them."""
    rows = {}
    for ind in w.snapshot.by_indicator:
        parts = [w.snapshot.rows(user, ind, level, None, b) for b in breakdowns]
        r = pd.concat(parts, ignore_index=True)
        rows[ind] = r if codes is None else r[r.geography_code.isin(codes)]
    return measurement_frame(rows)


def _ics(w: WebState) -> Area:
    """The ICS as an area of a report."""
    ics = w.snapshot.profile.ics
    return Area("ics", ics.code, ics.name)


def _board(w: WebState, user: User, level: str, code: str) -> ReportModel:
    """The report model of one area as this user may read it, kept while the snapshot lasts (it never changes)."""
    return w.snapshot.memo(("board", w.snapshot.audience(user), level, code),
                           lambda: _board_model(w, user, level, code))


def _board_model(w: WebState, user: User, level: str, code: str) -> ReportModel:
    """The report model of one area, its neighbours at the same level beside it (the Places for the ICS)."""
    areas = w.snapshot.areas
    me = areas[(areas.geography_type == level) & (areas.geography_code == code)].iloc[0]
    ics = _ics(w)
    if level == "ics":
        peers = areas[areas.geography_type == "place"]
    else:
        peers = areas[(areas.geography_type == level) & (areas.parent_code == me.parent_code)]
    peer_areas = tuple(Area(level if level != "ics" else "place", r.geography_code, r.name)
                       for r in peers.itertuples())
    providers, source = _main_providers(w, level, code)
    parts = [_frame(w, user, "ics", None),
             _frame(w, user, peer_areas[0].geography_type if peer_areas else level, {a.code for a in peer_areas} | {code})]
    returns = _frame(w, user, "provider", {p.code for p in providers}, ("none",)) if providers else None
    frame = pd.concat(parts if returns is None or returns.empty else [*parts, returns], ignore_index=True)
    specs = specs_from_catalogue(w.snapshot.catalogue, _latest_end(frame), w.snapshot.alone, w.snapshot.spreads)
    area = ics if level == "ics" else Area(level, code, str(me["name"]))
    return board_model(frame, specs, Scope(area, ics, peer_areas, (), providers, source), w.snapshot.profile,
                       w.snapshot.catalogue, w.snapshot.rule,
                       queries.population_share(w.warehouse, w.snapshot.computed_at, w.snapshot.profile))


def _main_providers(w: WebState, level: str, code: str) -> tuple[tuple[Area, ...], str]:
    """A Place's main providers (``place_providers`` in the profile's ``report.yaml``, as the Place reports read them)
    and where that mapping comes from: their returns stand in for standards published only by provider. Read from
    the profile once while the snapshot lasts, not on every page."""
    if level != "place":
        return (), ""
    mapping, source = w.snapshot.memo(("place_providers",), lambda: _place_providers(w.snapshot.profile))
    return mapping.get(code, ()), source


def _place_providers(profile: Profile) -> tuple[dict[str, tuple[Area, ...]], str]:
    """Every Place's main providers from the profile's ``report.yaml``, and where that mapping comes from."""
    settings = load_settings(profile).place_providers
    return main_providers(profile, settings), settings.source if settings else ""


@router.get("/board", response_class=HTMLResponse)
@allow("public")
def board_page(request: Request) -> HTMLResponse:
    """The Board summary: every ICS indicator, exceptions first, with plan against actual and the Places."""
    w = state(request)
    model = _board(w, request.state.user, "ics", w.snapshot.profile.ics.code)
    return render(request, "board.html.j2", "Board summary", "/board", m=model, providers={})


@router.get("/areas", response_class=HTMLResponse)
@allow("public")
def areas_page(request: Request) -> HTMLResponse:
    """The geography hierarchy: each Place with its Primary Care Networks and their practices."""
    a = state(request).snapshot.areas.sort_values("name")
    by_parent = {code: list(g.itertuples()) for code, g in a[a.geography_type.isin(["pcn", "practice"])]
                 .groupby("parent_code", sort=False)}
    tree = [(p, [(n, [r for r in by_parent.get(n.geography_code, []) if r.geography_type == "practice"])
                 for n in by_parent.get(p.geography_code, []) if n.geography_type == "pcn"])
            for p in a[a.geography_type == "place"].itertuples()]
    return render(request, "areas.html.j2", "Places, PCNs and practices", "/areas", tree=tree)


@router.get("/areas/{level}/{code}", response_class=HTMLResponse)
@allow("public")
def profile_page(request: Request, level: Annotated[str, Path(pattern=CODE)],
            code: Annotated[str, Path(pattern=CODE)]) -> HTMLResponse:
    """An area's profile: every indicator for it, exceptions first, against its neighbours."""
    w = state(request)
    a = w.snapshot.areas
    known = a[(a.geography_type == level) & (a.geography_code == code)]
    if known.empty or level not in ("place", "pcn", "practice"):
        return render(request, "message.html.j2", "No such area", "/areas", status=404,
                      heading="No such area", text=f"There is no {LEVELS.get(level, level)} with the code {code}.")
    model = _board(w, request.state.user, level, code)
    providers = {a.name: a.code for a in _main_providers(w, level, code)[0]}
    return render(request, "board.html.j2", f"{known.iloc[0]['name']}: profile", "/areas", m=model,
                  providers=providers)


@router.get("/inequalities", response_class=HTMLResponse)
@allow("public")
def inequalities_page(request: Request, level: Annotated[str, Query(pattern=CODE)] = "ics",
                 area: Annotated[str | None, Query(pattern=CODE)] = None) -> HTMLResponse:
    """The Core20PLUS5 dashboard: the most deprived fifth against the least, every indicator, and the trend."""
    w = state(request)
    level = level if level in ("ics", "place") else "ics"
    names = _area_names(w, level)
    area = area if area in names else next(iter(names))
    rows, specs = _gaps(w, request.state.user, level, area)
    core = load_core20(w.snapshot.profile, w.snapshot.catalogue)
    by_id = {r.id: r for r in rows}
    five = [(c.name, [by_id[i] for i in c.indicators if i in by_id], [specs[i].title for i in c.indicators])
            for c in core.areas]
    choices = [("ics", w.snapshot.profile.ics.code, w.snapshot.profile.ics.name)] + [
        ("place", c, n) for c, n in sorted(_area_names(w, "place").items(), key=lambda x: x[1])]
    return render(request, "inequalities.html.j2", "Inequalities (Core20PLUS5)", "/inequalities", rows=rows,
                  five=five, core=core, area_name=names[area], choices=choices, chosen=(level, area))


def _gaps(w: WebState, user: User, level: str, area: str) -> tuple[list[GapRow], dict[str, IndicatorSpec]]:
    """Every indicator's deprivation gap for one area as this user may read it, kept per snapshot."""
    def make() -> tuple[list[GapRow], dict[str, IndicatorSpec]]:
        """The gaps of the area's rows."""
        frame = _frame(w, user, level, {area})
        specs = _specs(w, frame)
        return gap_rows(frame, specs), specs
    return w.snapshot.memo(("gaps", w.snapshot.audience(user), level, area), make)


@router.get("/population", response_class=HTMLResponse)
@allow("public")
def population_page(request: Request) -> HTMLResponse:
    """Population health: the segment pyramid, frailty and multimorbidity, worklist sizes, and the risk model's card
    and fairness panel (counts disclosure-controlled)."""
    w = state(request)
    chapter = queries.population(w.warehouse, w.snapshot.computed_at, w.snapshot.profile)
    return render(request, "population.html.j2", "Population health", "/population", c=chapter,
                  cards=api.cards_for(w, request.state.user), threshold=w.snapshot.rule.suppress_up_to)


@router.get("/worklists", response_class=HTMLResponse)
@allow("clinician")
def worklists_page(request: Request) -> HTMLResponse:
    """A clinician's practice's case-finding lists, pseudonymised (through the API's worklist endpoint, which
    audits each read), with who is new since the run before."""
    w, user = state(request), request.state.user
    practice = user.practice or ""
    lists = []
    for meta in api.worklists(w):
        try:
            got = api.worklist(meta.id, practice, request, w, user)
        except HTTPException as e:
            if e.status_code != 404:  # 404: the list has not been run yet
                raise
            continue
        lists.append((got, queries.new_since_last_run(w.warehouse, got.run_id, practice)))
    return render(request, "worklists.html.j2", f"Worklists for {practice}", "/worklists", lists=lists,
                  practice=practice, direct_care=DIRECT_CARE)


@router.post("/worklists/{list_id}/reidentify", response_class=HTMLResponse)
@allow("clinician")
def reidentify_page(request: Request, list_id: Annotated[str, Path(pattern=CODE)],
                    purpose: Annotated[str, Form(max_length=100)] = "") -> HTMLResponse:
    """The latest run of a list with NHS numbers, for the clinician's own practice and direct care only (the
    API's re-identification endpoint: refused and audited otherwise)."""
    w, user = state(request), request.state.user
    try:
        got = api.reidentify_worklist(list_id, user.practice or "", api.Purpose(purpose=purpose or "not stated"),
                                      request, w, user)
    except HTTPException as e:
        if e.status_code not in (403, 409):
            raise
        return render(request, "message.html.j2", "Re-identification refused", "/worklists", status=e.status_code,
                      heading="Re-identification refused", text=str(e.detail))
    return render(request, "reidentified.html.j2", "Worklist with NHS numbers", "/worklists", got=got)


@router.get("/referrals", response_class=HTMLResponse)
@allow("public")
def referrals_page(request: Request, place: Annotated[str | None, Query(pattern=CODE)] = None) -> HTMLResponse:
    """Referral variation across the ICS (or one Place): for each specialty, the practices whose referrals are higher
    or lower than expected at 95%, by either ratio, linked to their pages; and every PCN and practice."""
    from placewise.publish.web import referrals as rf

    w = state(request)
    places = _area_names(w, "place")
    place = place if place in places else None
    a = w.snapshot.areas
    prs = a[a.geography_type == "practice"]
    if not rf.has_referrals(w):
        return render(request, "message.html.j2", "Referrals", "/referrals", heading="Referrals",
                      text="The warehouse has no referrals, so there is no referral feedback.")
    r = rf.referrals(w)
    mine = prs[prs.place == place] if place else prs
    codes = set(mine.geography_code) & set(r.ratios.practices.units)
    pcns = a[(a.geography_type == "pcn") & a.geography_code.isin(r.ratios.pcns.units)]
    pcns = pcns[pcns.place == place] if place else pcns
    user: User = request.state.user
    own = user.practice if user.practice in r.ratios.practices.units else None
    return render(request, "referrals.html.j2", "Referrals by specialty", "/referrals",
                  rows=rf.signalling(w, codes), months=r.months, places=sorted(places.items(), key=lambda x: x[1]),
                  place=place, place_name=places.get(place or "", ""), ics=w.snapshot.profile.ics.name,
                  practices=sorted(codes), names=dict(zip(prs.geography_code, prs.name, strict=True)),
                  pcns=list(pcns.sort_values("name").itertuples()), own=own, rule=w.snapshot.rule.statement())


@router.get("/referrals/{level}/{code}", response_class=HTMLResponse)
@allow("public")
def referral_unit_page(request: Request, level: Annotated[str, Path(pattern=CODE)],
                       code: Annotated[str, Path(pattern=CODE)],
                       feedback: Annotated[date | None, Query()] = None) -> HTMLResponse:
    """A practice's (or PCN's) referral feedback: the pack's table, funnel plots, conversion and monthly SPC chart
    rebased at the feedback date (a PCN: its table, the pack's funnel plots of every PCN and its practices)."""
    from placewise.publish.web import referrals as rf

    w = state(request)
    if level not in ("practice", "pcn"):
        return render(request, "message.html.j2", "No such area", "/referrals", status=404, heading="No such area",
                      text=f"Referral feedback is by practice or PCN, not {LEVELS.get(level, level)}.")
    try:
        out = api.referral_feedback(w, level, code)
    except HTTPException as e:
        return render(request, "message.html.j2", "No referral feedback", "/referrals", status=404,
                      heading="No referral feedback", text=str(e.detail))
    r = rf.referrals(w)
    figures = rf.practice_figures(w, code, feedback) if level == "practice" else None
    pcn_figures = rf.pcn_figures(w, code) if level == "pcn" and code in r.ratios.pcns.units else None
    a = w.snapshot.areas
    members = a[(a.geography_type == "practice") & (a.parent_code == code)] if level == "pcn" else a.iloc[0:0]
    pcn_name = None
    if out.pcn:
        found = a[(a.geography_type == "pcn") & (a.geography_code == out.pcn)]
        pcn_name = str(found.iloc[0]["name"]) if len(found) else out.pcn
    return render(request, "referral_unit.html.j2", f"{out.name}: referrals", "/referrals", f=out,
                  level_name=LEVELS[level], figures=figures, pcn_figures=pcn_figures, feedback=feedback,
                  months=r.months,
                  members=list(members.sort_values("name").itertuples()), pcn_name=pcn_name,
                  rule=w.snapshot.rule.statement(), method=rf.OVERDISPERSION_METHOD,
                  multimorbidity=rf.MULTIMORBIDITY_TEXT)
