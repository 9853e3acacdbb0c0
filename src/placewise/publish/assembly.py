"""Assemble the integrated performance report: every area's report model from the warehouse's measurements and the
profile (areas compared, scopes, rebase points, England comparators, plans, governance, assurance, programmes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd

from placewise.analyse.governance import load_governance
from placewise.derive.segments import PEOPLE_TABLE
from placewise.measure import load_catalogue
from placewise.measure.catalogue import ENGLAND
from placewise.options import BUNDLED, DEFAULT_URL
from placewise.profile import load_profile
from placewise.publish import inputs
from placewise.publish.config import load_assurance, load_core20, load_programmes, load_settings
from placewise.publish.phm import build_chapter
from placewise.publish.report import (
    IndicatorSpec,
    ReportModel,
    Scope,
    assurance_latest,
    build_report,
    core20_view,
    kpi_progress,
)
from placewise.publish.web.store import StoreError, WebStore, default_store_url
from placewise.warehouse import opened, table_names
from placewise.warehouse.connection import redact


def build_models(*, warehouse: str | None = None, profile_name: str = BUNDLED, compare: str = "place",
                 indicators: list[str] | None = None,
                 plan_csv: tuple[Path, ...] = (), commentary_csv: tuple[Path, ...] = (),
                 actions_csv: tuple[Path, ...] = (), risk_model: Path | None = None) -> list[tuple[Scope, ReportModel]]:
    """Every area's report model from the warehouse's measurements (only ``indicators`` if given).

    With the PHM tables in the warehouse, each report carries the population health chapter (and, given the
    risk model's folder, its model card and fairness panel).
    """
    profile = load_profile(profile_name)
    settings = load_settings(profile)
    areas = inputs.compared_areas(profile, settings, compare)
    with opened(warehouse or DEFAULT_URL) as con:
        if "measurements" not in table_names(con):
            raise FileNotFoundError(f"{redact(warehouse or DEFAULT_URL)}: the warehouse has no measurements yet "
                                    "(compute the indicators first)")
        catalogue = load_catalogue(profile)
        with kept_decisions(warehouse or DEFAULT_URL) as kept:
            published, decision = inputs.published_measurements(con, profile, catalogue, kept=kept)
        frame = inputs.report_rows(published, ("ics", compare, ENGLAND))
        if compare == "place":  # each Place's practices and PCNs for its funnel plots, and its main providers' returns
            units = published[published.geography_type.isin(["pcn", "practice", "provider"])
                              & (published.breakdown == "none")]
            frame = pd.concat([frame, units], ignore_index=True)
        if indicators:
            frame = frame[frame.indicator_id.isin(indicators)].reset_index(drop=True)
        if compare == "provider":  # the providers that have returns, not every provider the profile lists
            areas = tuple(a for a in areas if a.code in set(frame.geography_code))
        as_of = max(frame.period_end) if not frame.empty else None
        alone = inputs.printed_alone(con, catalogue, frame)
        specs = [s for s in inputs.specs_from_catalogue(catalogue, as_of, alone, inputs.event_spreads(con, catalogue, decision.rule))
                 if not indicators or s.id in indicators]
        scopes = inputs.catalogue_scopes(profile, areas, inputs.place_units(con, {a.code: a.name for a in areas}) if compare == "place" else None,
                                         settings.place_providers if compare == "place" else None)
        quality = inputs.warehouse_quality(con, frame)
        synthetic = inputs.is_synthetic(con)
        share = inputs.synthetic_share(con, profile) if synthetic else 1.0
        plan = inputs.plan_inputs(frame, profile, catalogue, plan_csv, share)
        shown = {s.id for s in specs}
        specs = with_rebase(specs, {k: v for k, v in settings.rebase.items() if not indicators or k in shown})
        specs = with_england(specs, {k: v for k, v in settings.england_sources.items() if not indicators or k in shown})
        programmes, assurance = load_programmes(profile), load_assurance(profile)
        governance = load_governance(profile, (i.id for i in catalogue.indicators), commentary_csv, actions_csv,
                                     domains={i.domain for i in catalogue.indicators})
        by_id = {s.id: s for s in specs}
        core20 = load_core20(profile, catalogue)
        progress = kpi_progress(frame, programmes, inputs.baseline_areas(profile), by_id)
        unknown = sorted({t.indicator for t in assurance.targets if t.indicator} - {i.id for i in catalogue.indicators})
        if unknown:
            raise ValueError(f"assurance.yaml: indicator names unknown indicator(s) {', '.join(unknown)}")
        has_phm = PEOPLE_TABLE in table_names(con)
        out = []
        for scope in scopes:
            model = build_report(frame, specs, scope, title=settings.title, months=settings.months_shown,
                                 rule=decision.rule, plan=plan, governance=governance,
                                 references={k: v for k, v in settings.reference_groups.items()})
            model.programmes, model.assurance, model.quality, model.progress = programmes, assurance, quality, progress
            place = scope.area.code if scope.area.geography_type == "place" else None
            model.synthetic, model.phm = synthetic, build_chapter(con, profile, risk_model, place) if has_phm else None
            model.assurance_latest = assurance_latest(frame, assurance, scope.area, by_id)
            model.core20 = core20_view(model.pages, [(a.name, a.indicators) for a in core20.areas])
            model.core20_source = f"{core20.source}. Core20: {core20.core}"
            out.append((scope, model))
        return out


def with_rebase(specs: list[IndicatorSpec], rebase: dict[str, list[date]]) -> list[IndicatorSpec]:
    """The specs with the profile's declared SPC rebase points; an unknown indicator id is an error."""
    unknown = sorted(set(rebase) - {s.id for s in specs})
    if unknown:
        raise ValueError(f"report.yaml: rebase names unknown indicator(s) {', '.join(unknown)}")
    return [replace(s, rebase=tuple(rebase.get(s.id, ()))) for s in specs]


def with_england(specs: list[IndicatorSpec], sources: dict[str, str]) -> list[IndicatorSpec]:
    """The specs with the source of each England comparator; an unknown indicator id is an error."""
    unknown = sorted(set(sources) - {s.id for s in specs})
    if unknown:
        raise ValueError(f"report.yaml: england_sources names unknown indicator(s) {', '.join(unknown)}")
    return [replace(s, england_source=sources.get(s.id, "")) for s in specs]


@contextmanager
def kept_decisions(warehouse: str) -> Iterator[WebStore | None]:
    """Where the report reads the disclosure decision kept for these measurements, or keeps the one it makes: the
    web store the web application opens for the same warehouse (:func:`default_store_url`), so that the decision is
    made once per measurements load, by whichever of the report command and the web app's start comes first.

    The web store rather than the warehouse: the publishing stage only reads the warehouse (the web app holds it
    read-only and reloads when it changes, and a Spark warehouse would need a binary table), while the web store is
    written by design, on DuckDB or PostgreSQL only, and already keeps decisions by digest. Where it cannot be opened
    (a running web app holds its DuckDB file), the report makes the decision itself: the same one, since it is
    deterministic.
    """
    try:
        store = WebStore(default_store_url(warehouse))
    except StoreError:
        yield None
        return
    try:
        yield store
    finally:
        store.close()
