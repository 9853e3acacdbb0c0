"""What the report reads from the warehouse: measurements, data quality and plans, and the areas compared."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from placewise.analyse.funnels import event_spread
from placewise.analyse.independence import cumulative, no_spc_reason
from placewise.analyse.plan import forecast_year_end, load_plans, plan_against_actual, population_sized
from placewise.analyse.targets import target_status
from placewise.measure.catalogue import Aggregate, Catalogue, Indicator
from placewise.profile import Profile, ProfileError
from placewise.publish.config import PlaceProviders, ReportSettings
from placewise.publish.disclosure import (CELL_KEYS, Decision, DisclosureRule, KeptDecisions, disclose,
                                         geography_relations, load_rule)
from placewise.publish.report import MEASUREMENT_COLUMNS, Area, DataQuality, IndicatorSpec, PlanInputs, Scope

RECORDED_FIELDS = (
    ("people", "ethnicity", ("Z", "99")),
    ("inpatient_spells", "discharge_date", ()),
    ("inpatient_spells", "treatment_function", ()),
    ("inpatient_spells", "site_code", ()),
    ("ae_attendances", "site_code", ()),
)
"""Fields whose completeness the report shows: table, column, and codes meaning "not stated"."""

MEASURED = [c for c in MEASUREMENT_COLUMNS if c != "suppressed"]
"""The measurement columns publishing reads (the suppression flag comes from the disclosure decision)."""


def read_measurements(con) -> pd.DataFrame:
    """Every measurement of the warehouse (all geographies and breakdowns: the disclosure decision
    needs every total), in the columns publishing reads, dates as dates, in the order of the cells' keys whatever
    order the engine returned them in (sorted here, not by the engine, whose collation and nulls differ)."""
    frame = con.table("measurements").select(*MEASURED).to_pandas()
    for c in ("period_start", "period_end"):
        frame[c] = pd.to_datetime(frame[c]).dt.date
    return frame.sort_values(CELL_KEYS, kind="stable", ignore_index=True)


def is_synthetic(con) -> bool:
    """Whether the warehouse holds the synthetic population (its LSOAs are named "(synthetic)")."""
    geo = con.table("geography")
    return bool(geo.filter(geo.lsoa_name.endswith("(synthetic)")).count().to_pandas())


def synthetic_share(con, profile: Profile) -> float:
    """The synthetic population's share of the ICS: the practices' registered lists against the ICS at the
    generator's scale 1.0 (each Place's Census residents x ``registered_per_resident``, ``synthetic.yaml``)."""
    from placewise.sources.synth.generate import load_synthetic

    registered = int(con.table("practices").list_size.sum().to_pandas() or 0)
    whole = sum(p.population for p in profile.ics.places) * load_synthetic(profile).registered_per_resident
    return registered / whole


def report_rows(frame: pd.DataFrame, geography_types: tuple[str, ...] = ("ics", "place")) -> pd.DataFrame:
    """The published measurements a report shows: these geographies; whole population, IMD quintiles
    and the quintile gap, sex, age band and ethnic group, and IMD quintiles within sex and ethnic group."""
    wanted = frame.geography_type.isin(list(geography_types)) & frame.breakdown.isin(
        ["none", "imd_quintile", "imd_quintile_gap", "sex", "age_band", "ethnic_group", "sex_by_imd_quintile",
         "ethnic_group_by_imd_quintile"])
    return frame[wanted].reset_index(drop=True)


def published_measurements(con, profile: Profile, catalogue: Catalogue, frame: pd.DataFrame | None = None,
                           kept: KeptDecisions | None = None) -> tuple[pd.DataFrame, Decision]:
    """The warehouse's measurements as they may be published, and the decision: every publisher's input.

    ``frame`` is :func:`read_measurements` of the same warehouse, when the caller has read it already
    (the web application keeps both, row for row); ``kept`` keeps the decision for the next run on the same
    measurements (the web store).
    """
    frame = read_measurements(con) if frame is None else frame
    practices = con.table("practices").select("practice_code", "pcn_code", "la_code").to_pandas()
    rule = load_rule(profile)
    measures: dict[str, str] = {i.id: i.measure for i in catalogue.indicators}
    return disclose(frame, rule, measures, geography_relations(profile, practices, frame), kept)


def warehouse_quality(con, frame: pd.DataFrame) -> DataQuality:
    """Completeness by table from the load log, the commonest quarantine reasons, the latest data."""
    files = con.table("load_files")
    by_table = (files.group_by("table_name")
                .aggregate(read=files.rows_read.sum(), loaded=files.rows_loaded.sum(),
                           quarantined=files.rows_quarantined.sum())
                .order_by("table_name").to_pandas())
    q = con.table("quarantine")
    reasons = (q.group_by(["table_name", "field", "reason"]).aggregate(rows=q.count())
               .order_by([q.count().desc(), "table_name"]).limit(10).to_pandas())
    log = con.table("load_log").aggregate(batches=con.table("load_log").count(),
                                          last=con.table("load_log").loaded_at.max()).to_pandas().iloc[0]
    read = by_table.read.sum()
    share = by_table.loaded / by_table.read.where(by_table.read > 0, np.nan)
    latest = max(frame.period_end) if not frame.empty else None
    batches = int(log.batches)
    loaded = ("No batch has been loaded through the ingest yet." if not batches else
              f"{batches} {'batch' if batches == 1 else 'batches'} loaded, the last at "
              f"{pd.Timestamp(log['last']):%-d %B %Y %H:%M} UTC; "
              f"{int(read):,} rows read, {int(by_table.quarantined.sum()):,} quarantined.")
    return DataQuality(
        latest_data=pd.Timestamp(latest).strftime("%-d %B %Y") if latest else "no measurements",
        summary=loaded,
        headers=("Table", "Rows read", "Rows loaded", "Quarantined", "Loaded"),
        tables=tuple(
            (r.table_name, f"{int(r.read):,}", f"{int(r.loaded):,}", f"{int(r.quarantined):,}",
             "–" if not np.isfinite(s) else f"{100 * s:.1f}%")
            for r, s in zip(by_table.itertuples(), share, strict=True)
        ),
        reasons=tuple((r.table_name, r.field, r.reason, int(r.rows)) for r in reasons.itertuples()),
        fields=recorded_fields(con),
    )


def recorded_fields(con) -> tuple[tuple[str, str, str], ...]:
    """Share of rows with each field of :data:`RECORDED_FIELDS` recorded (not null, not a not-stated code)."""
    out = []
    for name, column, not_stated in RECORDED_FIELDS:
        t = con.table(name)
        col = t[column]
        stated = col.notnull() & ~col.cast("string").isin(list(not_stated)) if not_stated else col.notnull()
        row = t.aggregate(rows=t.count(), stated=stated.ifelse(1, 0).sum()).to_pandas().iloc[0]
        rows = int(row["rows"])
        share = "–" if not rows else f"{100 * float(row['stated']) / rows:.1f}%"
        out.append((f"{name}.{column}", f"{rows:,}", share))
    return tuple(out)


def printed_alone(con, catalogue: Catalogue, frame: pd.DataFrame) -> dict[str, frozenset[tuple[str, date]]]:
    """For each returned share or mean, the (area code, period start) of the measurements whose own return printed
    the value without the counts behind it (a count column empty: :mod:`placewise.measure.returns` then counts the
    value over 1). Read from the return itself, never guessed from the value, so that a share printed as exactly
    100% is told apart from one case of one."""
    t = con.table("aggregate_returns")
    out: dict[str, frozenset[tuple[str, date]]] = {}
    for i in catalogue.indicators:
        num, den = i.numerator, i.denominator
        if i.measure != "returned" or not isinstance(num, Aggregate) or not isinstance(den, Aggregate):
            continue
        sides = [(num.measure, num.column), (den.measure, den.column)]
        alone = [t.filter((t.measure == m) & t[c].isnull()).select("org_code", "period") for m, c in sides]
        rows = alone[0].union(alone[1]).to_pandas()
        mine = frame[(frame.indicator_id == i.id) & (frame.breakdown == "none")]
        j = mine.merge(rows, left_on="geography_code", right_on="org_code")
        period = pd.to_datetime(j.period).dt.date
        j = j[(j.period_start <= period) & (period <= j.period_end)]
        out[i.id] = frozenset(zip(j.geography_code, j.period_start, strict=True))
    return out


def event_spreads(con, catalogue: Catalogue, rule: DisclosureRule) -> dict[str, tuple[tuple[date, float, float], ...]]:
    """For each rate whose numerator sums a value per event (bed days), the ICS's mean and root mean square value of
    an event (m, s; :func:`placewise.analyse.funnels.event_spread`) in each period, from its whole-population cell's
    sum, events and squared values (those its own interval rests on): what its units' funnel limits need, so that no
    unit's own events are. Read for every period; a funnel uses a period's only where the ICS's value is published
    (:func:`placewise.analyse.funnels.units_funnel`).

    m and s are printed under the funnel, so they pass the disclosure ``rule`` as the ICS's count of events would
    (:data:`SPREAD_RULE`): none where it counted 1 to ``suppress_up_to`` events, and both worked from its events
    rounded as every published count is, so that m and the published sum give back no more than the rounded count."""
    ids = [i.id for i in catalogue.indicators if i.sums_values]
    if not ids:
        return {}
    t = con.table("measurements")
    rows = t.filter(t.indicator_id.isin(ids) & (t.geography_type == "ics") & (t.breakdown == "none")).select(
        "indicator_id", "period_start", "numerator", "events", "sum_squares").to_pandas()
    rows["period_start"] = pd.to_datetime(rows.period_start).dt.date
    out: dict[str, list[tuple[date, float, float]]] = {}
    for r in rows.sort_values(["indicator_id", "period_start"]).itertuples():
        events = rule.published_count(float(r.events)) if r.events is not None else None
        spread = None if events is None else event_spread(r.numerator, events, r.sum_squares)
        if spread is not None:  # s below m, which no set of events has, can come only of the rounding
            out.setdefault(str(r.indicator_id), []).append((r.period_start, spread[0], max(spread)))
    return {k: tuple(v) for k, v in out.items()}


SPREAD_RULE = ("The mean and root mean square days of a spell (m, s) come from the ICS's spells, which are not "
               "published themselves: they are used and printed only where the ICS counted more spells than the "
               "disclosure rule's small counts, and worked from its spells rounded as every published count is.")
"""How the bed-day funnel's m and s pass the one disclosure rule (:func:`event_spreads`)."""


def specs_from_catalogue(catalogue: Catalogue, as_of: date | None = None,
                         alone: Mapping[str, frozenset[tuple[str, date]]] | None = None,
                         spreads: Mapping[str, tuple[tuple[date, float, float], ...]] | None = None
                         ) -> list[IndicatorSpec]:
    """The report's view of every catalogue indicator, in catalogue order, targets for the year of ``as_of``, the
    returned values printed without their counts (``alone``: :func:`printed_alone`) and, for a rate summing a value
    per event, the ICS's spread of its values (``spreads``: :func:`event_spreads`) its units' funnels rest on.

    Values are read as the measurements table stores them: numerator / denominator x ``per``
    (so a proportion with ``per: 100`` is already a percentage).
    """
    alone, spreads = alone or {}, spreads or {}
    return [_spec(i, as_of, alone.get(i.id, frozenset()), spreads.get(i.id, ())) for i in catalogue.indicators]


def _returned_format(i: Indicator) -> tuple[str, int]:
    """Unit and decimals of a returned figure: a percentage, a count (a returned value) or a mean."""
    if i.per == 100:
        return "%", 1
    return ("", 0) if i.denominator is None else ("", 1)


def _spec(i: Indicator, as_of: date | None, alone: frozenset[tuple[str, date]],
          spreads: tuple[tuple[date, float, float], ...] = ()) -> IndicatorSpec:
    """One catalogue indicator as the report shows it."""
    unit, decimals = _returned_format(i) if i.measure == "returned" else {
        "proportion": ("%" if i.per == 100 else "", 1),
        "ratio": ("%" if i.per == 100 else "", 2 if i.per == 1 else 1),
        "crude_rate": (f" per {i.per:,}", 1),
        "dsr": (f" per {i.per:,}", 1),
        "count": ("", 0),
    }.get(i.measure, ("", 1))
    status = target_status(i.target, i.standard_source, as_of)
    return IndicatorSpec(
        id=i.id, title=i.title, definition=i.definition, domain=i.domain, polarity=i.polarity,
        measure=i.measure, frequency=i.frequency, unit=unit, decimals=decimals,
        target=status.value, standard_source=status.source, target_flag=status.flag, target_note=status.note,
        per=float(i.per or 1), no_spc=no_spc_reason(i), cumulative=cumulative(i), population_sized=population_sized(i),
        sums_values=i.sums_values, spreads=spreads if i.sums_values else (),
        no_target=i.no_target.label if i.no_target else (f"No national target for {status.year}"
                                                          if status.flag == "none" else ""),
        no_target_reason=i.no_target.reason if i.no_target else status.note if status.flag == "none" else "",
        yearly=i.target, printed_alone=alone,
    )


def compared_areas(profile: Profile, settings: ReportSettings, compare: str) -> tuple[Area, ...]:
    """The areas a report compares: the Places, the providers (historical names included) or a grouping kind."""
    if compare == "place":
        return tuple(Area("place", p.code, p.name) for p in profile.ics.places)
    if compare == "provider":
        names = {p.code: p.name for p in profile.ics.providers} | {p.code: p.name for p in settings.historical_providers}
        return tuple(Area("provider", code, name) for code, name in names.items())
    groups = tuple(Area(g.kind, g.code, g.name) for g in profile.ics.groupings if g.kind == compare)
    if not groups:
        raise ValueError(f"cannot compare by {compare!r}: not place, provider or a grouping kind of the profile")
    return groups


def catalogue_scopes(profile: Profile, areas: tuple[Area, ...],
                     units: dict[str, tuple[Area, ...]] | None = None,
                     providers: PlaceProviders | None = None) -> list[Scope]:
    """One report for the ICS and one per compared area, each comparing the areas; ``units`` gives each
    area's PCNs and practices (by area code) for its funnel plots, ``providers`` each Place's main providers."""
    ics = Area("ics", profile.ics.code, profile.ics.name)
    units = units or {}
    main = main_providers(profile, providers)
    source = providers.source if providers else ""
    links = [u for place in units.values() for u in place if u.geography_type == "pcn"]
    pcns = tuple({u.code: u for u in links}.values())
    shared = frozenset(code for code, k in Counter(u.code for u in links).items() if k > 1)
    return [Scope(ics, ics, areas)] + [Scope(a, ics, areas, units.get(a.code, ()), main.get(a.code, ()), source, pcns,
                                             shared) for a in areas]


def main_providers(profile: Profile, providers: PlaceProviders | None) -> dict[str, tuple[Area, ...]]:
    """Each Place's main providers as areas, named from the ICS profile or the mapping; an unknown Place or an
    unnamed provider is an error naming ``report.yaml``."""
    if providers is None:
        return {}
    names = {p.code: p.name for p in profile.ics.providers} | providers.names
    places = {p.code for p in profile.ics.places}
    for place, codes in providers.places.items():
        if place not in places:
            raise ProfileError(f"report.yaml: place_providers names {place!r}, which is not a Place of the profile")
        unnamed = [c for c in codes if c not in names]
        if unnamed:
            raise ProfileError(f"report.yaml: place_providers for {place}: provider(s) {', '.join(unnamed)} are not "
                               "in ics.yaml and have no name under place_providers.names")
    return {place: tuple(Area("provider", c, names[c]) for c in codes) for place, codes in providers.places.items()}


def place_units(con, place_names: Mapping[str, str]) -> dict[str, tuple[Area, ...]]:
    """Each Place's PCNs and practices, named, from the practices table. A PCN with practices in several Places is
    in each of them, its name followed by the other Places it serves (from ``place_names``, by code)."""
    pr = con.table("practices").select("practice_code", "practice_name", "pcn_code", "pcn_name",
                                       "la_code").to_pandas().dropna(subset=["practice_code", "la_code"])
    links = pr.dropna(subset=["pcn_code"]).drop_duplicates(["pcn_code", "la_code"])
    served = links.groupby("pcn_code").la_code.agg(list)
    out: dict[str, list[Area]] = {}
    for r in links.itertuples():
        others = [place_names.get(c, c) for c in served[r.pcn_code] if c != r.la_code]
        name = (r.pcn_name or r.pcn_code) + (f" (also serves {' and '.join(others)})" if others else "")
        out.setdefault(r.la_code, []).append(Area("pcn", r.pcn_code, name))
    for r in pr.itertuples():
        out.setdefault(r.la_code, []).append(Area("practice", r.practice_code, r.practice_name or r.practice_code))
    return {k: tuple(v) for k, v in out.items()}


def baseline_areas(profile: Profile) -> dict[str, Area]:
    """The areas that programme baselines name: each Place by name, and the ICS by its short name."""
    areas = {p.name: Area("place", p.code, p.name) for p in profile.ics.places}
    areas[profile.ics.short_name] = Area("ics", profile.ics.code, profile.ics.name)
    return areas


def plan_inputs(frame: pd.DataFrame, profile: Profile, catalogue: Catalogue,
                csv_files: tuple[Path, ...] = (), share: float = 1.0) -> PlanInputs:
    """Plan against actual and year-end forecasts for the measurements, from the profile's and CSV trajectories,
    population-sized plans scaled to ``share`` of the ICS (:func:`placewise.analyse.plan.load_plans`)."""
    plans = load_plans(profile, catalogue, csv_files, share)
    pva = plan_against_actual(pa.Table.from_pandas(frame, preserve_index=False), plans, catalogue)
    return PlanInputs(pva.to_pandas(), forecast_year_end(pva, plans, catalogue).to_pandas(), share)
