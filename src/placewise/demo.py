"""``placewise demo``: the whole flow on a small synthetic BLMK, end to end, on the embedded database."""

from __future__ import annotations

import os
import time
from datetime import date
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console

from placewise.analyse.measurements import measure_all
from placewise.analyse.planning.run import plan_warehouse
from placewise.ingest.cli import status_command
from placewise.ingest.load import ingest
from placewise.ingest.pseudonymise import DEFAULT_KEY_ENV, key_from_env
from placewise.options import BUNDLED, ProfileOption
from placewise.profile import load_profile
from placewise.measure import ReportingRange, load_catalogue
from placewise.publish.assembly import build_models
from placewise.publish.config import load_settings
from placewise.publish.inputs import synthetic_share
from placewise.publish.planning import write_plan_chapter
from placewise.publish.render import render_index, write_reports
from placewise.publish.web.demo import serve_demo, use_demo_identity_store
from placewise.sources import blmk_2020_21, nhse_ae
from placewise.sources.synth.calibrate import calibration, write_calibration
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect

T = TypeVar("T")
DEMO_KEY = "placewise-demo-key-not-for-real-data"
"""Used only when no key is set: the demo's data are synthetic, so the key protects nothing real."""


def _run(console: Console, title: str, work: Callable[[], T]) -> T:
    """Run one step of the demo under a spinner, then print its title and time."""
    started = time.perf_counter()
    with console.status(title + "…"):
        result = work()
    console.print(f"[green]✓[/] {title} ({time.perf_counter() - started:.1f} s)")
    return result


def demo_key() -> bytes:
    """The key from the usual environment variable if set, else the demo's own; the environment is left alone."""
    return key_from_env() if os.environ.get(DEFAULT_KEY_ENV) else DEMO_KEY.encode("utf-8")


def demo_command(
    out: Path = typer.Option(Path("demo"), "--out", help="Folder for the synthetic data, warehouse and report."),
    profile_name: ProfileOption = BUNDLED,
    reference: Path | None = typer.Option(
        None, "--reference", file_okay=False,
        help="Folder of real published data (NHS England A&E statistics, BLMK's 2020/21 dashboards) to report "
             "as well; scripts/demo.sh passes ../shared/reference when it is there."),
    scale: float = typer.Option(0.02, help="Share of the whole ICS to synthesise (1.0 is about 1.1 million people).",
                                min=0.001, max=1.0),
    seed: int = typer.Option(1, help="Random seed of the synthetic population."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write the report as PDF."),
    serve: bool = typer.Option(False, "--serve", help="Then build the worklists, add one demo login per role "
                               "and serve the web site and API (prints the address and the logins)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port for --serve (on 127.0.0.1)."),
) -> None:
    """Synthesise a small ICS, ingest it into DuckDB, compute every indicator and write the report."""
    console = Console()
    profile = load_profile(profile_name)
    if serve:
        use_demo_identity_store(out)
    key = demo_key()
    data, db = out / "data", out / "placewise.duckdb"
    console.print(f"[bold]Placewise demo[/]: {profile.ics.name}, scale {scale:g}, seed {seed} → {out}/")
    rows = _run(console, "Synthesising the population and five years of activity",
                lambda: generate(profile, scale=scale, seed=seed, out=data))
    report = calibration(data, profile, scale=scale)
    write_calibration(report, data / "calibration.csv")
    passed = sum(r.passed for r in report)
    console.print(f"  {sum(rows.values()):,} rows in {len(rows)} tables; calibration {passed}/{len(report)} within "
                  f"tolerance ({data / 'calibration.csv'})")
    result = _run(console, "Validating, pseudonymising and loading into DuckDB", lambda: ingest(data, db, key))
    console.print("  nothing new: this batch was loaded before" if result.nothing_new else
                  f"  batch {result.batch_id}: {result.rows_quarantined:,} rows quarantined")
    con = connect(db)
    try:
        measured = _run(console, "Computing every indicator for every period, geography and group",
                        lambda: measure_all(con, profile))
        console.print(f"  {measured.num_rows:,} measurements")
        planned = _run(console, "Projecting population, demand, beds and workforce to 2040 (256 runs)",
                       lambda: plan_warehouse(con, profile))
        share = synthetic_share(con, profile)
    finally:
        con.disconnect()
    planned.write(out / "plan")
    written = _run(console, "Writing the integrated performance report (HTML" + (" and PDF)" if pdf else ")"),
                   lambda: write_reports(build_models(warehouse=str(db), profile_name=profile_name), out / "report", pdf))
    written.append(("Planning to 2040", *write_plan_chapter(planned, profile, out / "report", pdf, share)))
    (out / "report" / "index.html").write_text(render_index(load_settings(profile).title, written), encoding="utf-8")
    for name, html, pdf_path, pages in written:
        console.print(f"  {name}: {html}" + (f" and {pdf_path} ({pages} pages)" if pdf_path else ""))
    real = [] if reference is None else _run(
        console, "Real published data through the same path: NHS England A&E 2016–2019 and BLMK's 2020/21 "
        "dashboards → ingest → measure → report", lambda: real_data_reports(out, key, pdf, reference))
    status_command(db=str(db))
    console.print(f"\n[bold]Open {out / 'report' / 'index.html'}[/] to see the reports"
                  + "".join(f" and {p / 'index.html'}" for p in real) + ".")
    if serve:
        serve_demo(db, profile, "127.0.0.1", port)


def real_data_reports(out: Path, key: bytes, pdf: bool, reference: Path) -> list[Path]:
    """Ingest the real published returns found in ``reference`` into their own warehouse, measure them over
    their own years and write a report for each; the folders written (none if absent). BLMK's own data, so
    reported with the BLMK profile."""
    db, written = out / "real.duckdb", []
    profile = load_profile("blmk")
    plan_csv: tuple[Path, ...] = ()
    if (reference / nhse_ae.FILE_NAME).is_file():
        providers = tuple(p.code for p in load_settings(profile).historical_providers)
        nhse_ae.write_aggregate_returns(reference / nhse_ae.FILE_NAME, out / "real" / "nhse_ae", providers)
        ingest(out / "real" / "nhse_ae", db, key)
    if (reference / blmk_2020_21.FOLDER_NAME).is_dir():
        plan_csv = (blmk_2020_21.write(reference / blmk_2020_21.FOLDER_NAME, out / "real" / "blmk_2020_21")[1],)
        ingest(out / "real" / "blmk_2020_21", db, key)
    if not db.exists():
        return []
    catalogue = load_catalogue(profile)
    returned = [i.id for i in catalogue.indicators if i.measure == "returned"]
    ae = ["ae_4hr_type1_published", "ae_4hr_all_published"]
    con = connect(db)
    try:
        measure_all(con, profile, periods_range=ReportingRange(date(2016, 4, 1), date(2021, 3, 31)),
                    indicators=returned + ae)
    finally:
        con.disconnect()
    for folder, compare, chosen, plans in (("report-nhse-ae", "provider", ae, ()),
                                           ("report-blmk-2020-21", "legacy_ccg", returned, plan_csv)):
        models = build_models(warehouse=str(db), compare=compare, indicators=chosen, plan_csv=plans)
        if any(m.pages for _, m in models):
            write_reports(models, out / folder, pdf)
            written.append(out / folder)
    return written
