"""``placewise report``: the integrated performance report, HTML and PDF, for the ICS and each Place."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from placewise.measure.catalogue import ENGLAND
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption
from placewise.outputs import prepare_output_folder
from placewise.profile import ProfileError, load_profile
from placewise.publish.config import load_assurance, load_programmes, load_settings
from placewise.publish.render import render_index, write_report
from placewise.publish.report import (
    IndicatorSpec,
    ReportModel,
    Scope,
    assurance_latest,
    build_report,
    core20_view,
    kpi_progress,
)
from placewise.warehouse import WarehouseError

REPORT_HELP = "\n\n".join([
    "Write the integrated performance report as HTML and PDF: one for the ICS and one for each Place.",
    "Each report opens with a Board summary, exceptions first (special cause concern, failing the target, behind plan, "
    "hit or miss, then those in control; icons, latest value against target, plan, trend, owner), the key "
    "performance indicators by area (achieved or not, improved or deteriorated), then a page per indicator (SPC "
    "chart, areas compared, IMD quintiles with the slope index of inequality), the six delivery "
    "programmes, the assurance matrix and data quality. Every figure passes the profile's disclosure rule "
    "(disclosure.yaml): small counts suppressed, with secondary suppression, and counts rounded.",
    "--compare chooses the areas compared and reported on: place (default), provider, or a grouping kind of the "
    "profile such as legacy_ccg; --plan adds trajectories from an operating-plan CSV (indicator_id, "
    "geography_type, geography_code, period_start, value); --commentary and --actions add the Board commentary "
    "and action log for this month from CSV (columns as in the profile's governance.yaml).",
    "Exit codes: 0 written; 2 bad input (unreadable profile, warehouse without measurements, missing source file).",
])


def _stem(scope: Scope) -> str:
    """The file name (without extension) of one area's report."""
    return "ics" if scope.area == scope.ics else f"{scope.area.geography_type}-{scope.area.code}"


def _write(args: tuple[ReportModel, Path, str, bool]) -> tuple[Path, Path | None, int]:
    """Write one report (a top-level function so that worker processes can run it)."""
    return write_report(*args)


def build_models(*, warehouse: str | None = None, profile_name: str = BUNDLED, compare: str = "place",
                 indicators: list[str] | None = None,
                 plan_csv: tuple[Path, ...] = (), commentary_csv: tuple[Path, ...] = (),
                 actions_csv: tuple[Path, ...] = (), risk_model: Path | None = None) -> list[tuple[Scope, ReportModel]]:
    """Every area's report model from the warehouse's measurements (only ``indicators`` if given).

    With the PHM tables in the warehouse, each report carries the population health chapter (and, given the
    risk model's folder, its model card and fairness panel).
    """
    from placewise.derive.segments import PEOPLE_TABLE
    from placewise.publish.phm import build_chapter
    from placewise.analyse.governance import load_governance
    from placewise.publish.config import load_core20
    from placewise.measure import load_catalogue
    from placewise.publish import inputs
    from placewise.warehouse import connect_existing, table_names
    from placewise.warehouse.connection import redact

    profile = load_profile(profile_name)
    settings = load_settings(profile)
    areas = inputs.compared_areas(profile, settings, compare)
    con = connect_existing(warehouse or DEFAULT_URL)
    if "measurements" not in table_names(con):
        raise FileNotFoundError(f"{redact(warehouse or DEFAULT_URL)}: the warehouse has no measurements yet "
                                "(compute the indicators first)")
    catalogue = load_catalogue(profile)
    published, decision = inputs.published_measurements(con, profile, catalogue)
    frame = inputs.report_rows(published, ("ics", compare, ENGLAND))
    if compare == "place":  # each Place's practices and PCNs for its funnel plots, and its main providers' returns
        units = published[published.geography_type.isin(["pcn", "practice", "provider"]) & (published.breakdown == "none")]
        frame = pd.concat([frame, units], ignore_index=True)
    if indicators:
        frame = frame[frame.indicator_id.isin(indicators)].reset_index(drop=True)
    if compare == "provider":  # the providers that have returns, not every provider the profile lists
        areas = tuple(a for a in areas if a.code in set(frame.geography_code))
    as_of = max(frame.period_end) if not frame.empty else None
    alone = inputs.printed_alone(con, catalogue, frame)
    specs = [s for s in inputs.specs_from_catalogue(catalogue, as_of, alone) if not indicators or s.id in indicators]
    scopes = inputs.catalogue_scopes(profile, areas, inputs.place_units(con) if compare == "place" else None,
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


def write_reports(models: list[tuple[Scope, ReportModel]], out: Path, pdf: bool = True,
                  workers: int = 2) -> list[tuple[str, Path, Path | None, int]]:
    """Render every model to ``out`` in parallel; return (area name, HTML path, PDF path, PDF pages) each."""
    jobs = [(model, out, _stem(scope), pdf) for scope, model in models]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        written = list(pool.map(_write, jobs))
    done = [(scope.area.name, *paths) for (scope, _), paths in zip(models, written, strict=True)]
    if models:
        (out / "index.html").write_text(render_index(models[0][1].title, done), encoding="utf-8")
    return done


def report_command(
    out: Path = typer.Option(Path("out/report"), "--out", "-o", help="Folder to write the reports into."),
    warehouse: WarehouseOption = DEFAULT_URL,
    profile: ProfileOption = BUNDLED,
    compare: str = typer.Option("place", "--compare", help="Areas compared: place, provider or a grouping kind."),
    plan: list[Path] = typer.Option([], "--plan", help="Operating-plan trajectories CSV (repeatable)."),
    commentary: list[Path] = typer.Option([], "--commentary", help="Commentary CSV: indicator, geography_code, "
                                           "shows, drivers, actions, owner, expected_recovery, updated (repeatable)."),
    actions: list[Path] = typer.Option([], "--actions", help="Action log CSV: id, raised, item, action, owner, due, "
                                       "status, update, indicator (repeatable)."),
    practice: str = typer.Option("", "--practice", help="Write only this practice's referral feedback pack."),
    feedback_date: str = typer.Option("", "--feedback-date", help="Date feedback was given (YYYY-MM-DD): the "
                                      "pack's SPC chart starts a new segment there."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write PDF (WeasyPrint; no browser needed)."),
    risk_model: Path | None = typer.Option(None, "--risk-model", help="Risk model folder (placewise risk train): "
                                           "adds its model card and fairness panel to the population health chapter."),
) -> None:
    console = Console(stderr=True)
    started = time.perf_counter()
    if practice:
        from placewise.publish.feedback import write_practice_feedback

        try:
            given = date.fromisoformat(feedback_date) if feedback_date else None
            typer.echo(str(write_practice_feedback(warehouse, practice, given, out)))
        except (WarehouseError, ValueError) as e:
            console.print(f"[red]Cannot build the feedback pack:[/] {e}")
            raise typer.Exit(2) from None
        return
    try:
        with console.status("Assembling the report (SPC, comparisons, disclosure control)…"):
            models = build_models(warehouse=warehouse, profile_name=profile, compare=compare, plan_csv=tuple(plan),
                                  commentary_csv=tuple(commentary), actions_csv=tuple(actions), risk_model=risk_model)
        prepare_output_folder(out)
    except (ProfileError, WarehouseError, FileNotFoundError, ValueError) as e:
        console.print(f"[red]Cannot build the report:[/] {e}")
        raise typer.Exit(2) from None
    with console.status(f"Rendering {len(models)} reports…"):
        written = write_reports(models, out, pdf)
    for name, html, pdf_path, pages in written:
        extra = f" and {pdf_path} ({pages} pages)" if pdf_path else ""
        typer.echo(f"{name}: {html}{extra}")
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")


report_command.__doc__ = REPORT_HELP
