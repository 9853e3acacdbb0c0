"""``placewise plan``: population, demand, capacity and workforce to the horizon, with uncertainty."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from placewise.analyse.planning.run import plan_warehouse
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import ProfileError, load_profile
from placewise.publish.inputs import is_synthetic, synthetic_share
from placewise.publish.planning import write_plan_chapter
from placewise.warehouse import WarehouseError, connect


def plan_command(
    db: WarehouseOption = DEFAULT_URL,
    to: int = typer.Option(None, "--to", help="Horizon year (default: the profile's, 2040 for BLMK)."),
    out: Path = typer.Option(Path("out/plan"), "--out", "-o", help="Folder for the tables (Parquet and CSV)."),
    runs: int = typer.Option(256, "--runs", min=1, help="Monte Carlo runs (besides the principal run)."),
    seed: int = typer.Option(1, "--seed", help="Random seed: the same seed gives identical results."),
    scenario: list[str] = typer.Option([], "--scenario", "-s", help="Scenario to run (repeatable); default all."),
    base_population: Path = typer.Option(None, "--base-population", exists=True, dir_okay=False,
                                         help="ONS mid-year estimate CSV (place_code, sex, age, population)."),
    base_year: int = typer.Option(None, "--base-year", help="Mid-year of --base-population (default: the "
                                                            "warehouse's last mid-year)."),
    profile: ProfileOption = BUNDLED,
    pdf: bool = typer.Option(False, "--pdf/--no-pdf", help="Also write the planning chapter as PDF."),
) -> None:
    """Project each Place's population (housing-led and trend), demand for every setting, beds, sessions and
    workforce to the horizon, with 10th, 50th and 90th percentiles; write the tables and the planning chapter
    (planning.html: pyramids, fan charts, scenarios, back-test, parameters) to --out.

    Exit codes: 0 written; 2 bad input (profile, warehouse without history, unknown scenario, bad base file)."""
    console = Console(stderr=True)
    started = time.perf_counter()
    with refusing(console, ProfileError, WarehouseError):
        prof = load_profile(profile)
        con = connect(db)
    try:
        with refusing(console, ProfileError, ValueError), console.status(f"Projecting {runs} runs…"):
            result = plan_warehouse(con, prof, to=to, runs=runs, seed=seed, scenarios=scenario or None,
                                    base_population=base_population, base_year=base_year)
        share = synthetic_share(con, prof) if is_synthetic(con) else None
    finally:
        con.disconnect()
    written = result.write(out)
    written += [p for p in write_plan_chapter(result, prof, out, pdf, share)[:2] if p]
    for path in written:
        typer.echo(str(path))
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {note}")
    console.print(f"{len(result.summary):,} summary rows, {result.summary.scenario.nunique()} scenarios, "
                  f"{runs} runs, in {time.perf_counter() - started:.1f} s.")
