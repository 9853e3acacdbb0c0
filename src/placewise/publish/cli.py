"""``placewise report``: the integrated performance report, HTML and PDF, for the ICS and each Place."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from placewise.outputs import prepare_output_folder
from placewise.profile import ProfileError, load_profile
from placewise.publish.config import load_assurance, load_programmes, load_settings
from placewise.publish.render import render_index, write_report
from placewise.publish.report import IndicatorSpec, PlanInputs, ReportModel, Scope, build_report, kpi_progress
from placewise.warehouse import WarehouseError

AE_CSV = Path(__file__).resolve().parents[4] / "shared" / "reference" / "nhse_ae_attendances_2016_2019.csv"
"""Where a checkout finds the NHS England A&E statistics: ``../shared/reference`` beside the repository."""

REPORT_HELP = "\n\n".join([
    "Write the integrated performance report as HTML and PDF: one for the ICS and one for each Place.",
    "Each report has a summary matrix (variation and assurance icons, latest value against target, trend), a page "
    "per indicator (SPC chart, areas compared, IMD quintiles with the slope index of inequality), the six delivery "
    "programmes, the assurance matrix and data quality. Small counts are suppressed, with secondary suppression, "
    "using the thresholds in the profile.",
    "With --example-ae the report is built instead from NHS England's published A&E statistics for the BLMK acute "
    "providers (one report for the ICS and one per provider); no warehouse is needed.",
    "Exit codes: 0 written; 2 bad input (unreadable profile, warehouse without measurements, missing source file).",
])


def _stem(scope: Scope) -> str:
    """The file name (without extension) of one area's report."""
    return "ics" if scope.area == scope.ics else f"{scope.area.geography_type}-{scope.area.code}"


def _write(args: tuple[ReportModel, Path, str, bool]) -> tuple[Path, Path | None, int]:
    """Write one report (a top-level function so that worker processes can run it)."""
    return write_report(*args)


def build_models(*, warehouse: str | None = None, ae_csv: Path | None = None,
                 profile_name: str = "blmk") -> list[tuple[Scope, ReportModel]]:
    """Every area's report model: from the warehouse's measurements, or (``ae_csv``) the A&E example."""
    from placewise.publish import inputs

    profile = load_profile(profile_name)
    settings = load_settings(profile)
    if ae_csv is not None:
        if not ae_csv.is_file():
            raise FileNotFoundError(f"{ae_csv}: NHS England A&E statistics not found (give --ae-csv)")
        frame = inputs.ae_frame(ae_csv, settings, profile.ics.code)
        specs, scopes = inputs.ae_specs(settings), inputs.ae_scopes(profile, settings)
        quality = inputs.ae_quality(ae_csv, frame, settings)
        plan = PlanInputs()
    else:
        from placewise.measure import load_catalogue
        from placewise.warehouse import DEFAULT_URL, connect_existing, table_names
        from placewise.warehouse.connection import redact

        con = connect_existing(warehouse or DEFAULT_URL)
        if "measurements" not in table_names(con):
            raise FileNotFoundError(f"{redact(warehouse or DEFAULT_URL)}: the warehouse has no measurements yet "
                                    "(compute the indicators first)")
        frame = inputs.read_measurements(con)
        catalogue = load_catalogue(profile)
        as_of = max(frame.period_end) if not frame.empty else None
        specs, scopes = inputs.specs_from_catalogue(catalogue, as_of), inputs.catalogue_scopes(profile)
        quality = inputs.warehouse_quality(con, frame)
        plan = inputs.plan_inputs(frame, profile, catalogue)
    specs = with_rebase(specs, settings.rebase)
    programmes, assurance = load_programmes(profile), load_assurance(profile)
    progress = kpi_progress(frame, programmes, inputs.baseline_areas(profile), {s.id: s for s in specs})
    out = []
    for scope in scopes:
        model = build_report(frame, specs, scope, title=settings.title, months=settings.months_shown,
                             rule=settings.disclosure, plan=plan)
        model.programmes, model.assurance, model.quality, model.progress = programmes, assurance, quality, progress
        out.append((scope, model))
    return out


def with_rebase(specs: list[IndicatorSpec], rebase: dict[str, list[date]]) -> list[IndicatorSpec]:
    """The specs with the profile's declared SPC rebase points; an unknown indicator id is an error."""
    unknown = sorted(set(rebase) - {s.id for s in specs})
    if unknown:
        raise ValueError(f"report.yaml: rebase names unknown indicator(s) {', '.join(unknown)}")
    return [replace(s, rebase=tuple(rebase.get(s.id, ()))) for s in specs]


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
    warehouse: str = typer.Option("placewise.duckdb", "--db", "--warehouse", "-w",
                                  help="Warehouse URL or DuckDB file holding the measurements."),
    profile: str = typer.Option("blmk", "--profile", "-p", help="Bundled profile name or profile folder."),
    example_ae: bool = typer.Option(False, "--example-ae",
                                    help="Build the example report from NHS England's A&E statistics instead."),
    ae_csv: Path = typer.Option(AE_CSV, "--ae-csv", help="The NHS England A&E statistics CSV (with --example-ae)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write PDF (WeasyPrint; no browser needed)."),
) -> None:
    console = Console(stderr=True)
    started = time.perf_counter()
    try:
        with console.status("Assembling the report (SPC, comparisons, disclosure control)…"):
            models = build_models(warehouse=warehouse, ae_csv=ae_csv if example_ae else None, profile_name=profile)
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
