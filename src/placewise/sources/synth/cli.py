"""``placewise synth``: write a synthetic ICS population and its calibration report."""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from placewise.options import BUNDLED, ProfileOption
from placewise.outputs import OutputFolderError, prepare_output_folder
from placewise.profile import ProfileError, load_profile
from placewise.sources.synth.calibrate import calibration, write_calibration
from placewise.sources.synth.generate import generate


MAX_SCALE = 20.0
"""Twenty times the ICS (about 22 million people) is beyond any machine this runs on: refuse it up front."""


class FileFormat(StrEnum):
    """Output file format."""

    parquet = "parquet"
    csv = "csv"


def _date(text: str | None) -> dt.date | None:
    """Parse YYYY-MM-DD, with a clear error."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def synth_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write one file per canonical table into")],
    scale: Annotated[float, typer.Option(help="Share of the whole ICS (1.0 is about 1.1 million registered people); "
                                         "NHS numbers come from the test range, which holds enough for about 0.69", min=0.0001)] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives byte-identical files")] = 1,
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format")] = FileFormat.parquet,
    end_date: Annotated[str | None, typer.Option(help="Last day of the history, YYYY-MM-DD (default from the profile)")] = None,
    years: Annotated[int, typer.Option(help="Years of monthly history", min=1, max=20)] = 5,
    profile: ProfileOption = BUNDLED,
    show_calibration: Annotated[bool, typer.Option("--calibration", help="Print the calibration report")] = False,
) -> None:
    """Generate a synthetic, calibrated population for an ICS profile, with its calibration report."""
    console = Console()
    if not math.isfinite(scale) or scale > MAX_SCALE:
        raise typer.BadParameter(f"{scale} is not a scale this tool can generate; give a number from 0.0001 to "
                                 f"{MAX_SCALE:g} (1.0 is the whole ICS)", param_hint="--scale")
    end = _date(end_date)
    try:
        prepare_output_folder(out)
    except OutputFolderError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    try:
        prof = load_profile(profile)
    except ProfileError as e:
        raise typer.BadParameter(str(e), param_hint="--profile") from None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("Generating people and activity", total=None)

        def step(_: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            rows = generate(prof, scale=scale, seed=seed, out=out, fmt=fmt.value, end_date=end, years=years,
                            progress=step)
        except ValueError as e:  # invalid profile parameters or arguments: say what, exit 2
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from None
        bar.update(task, description="Measuring calibration")
        report = calibration(out, prof, scale=scale, end_date=end, fmt=fmt.value)
    write_calibration(report, out / "calibration.csv")
    console.print(f"Wrote {sum(rows.values()):,} rows in {len(rows)} tables to {out}")
    if show_calibration:
        console.print(_report_table(report))
    failed = [r for r in report if not r.passed]
    if failed:
        console.print(f"[yellow]{len(failed)} calibration figures outside tolerance (see calibration.csv)[/yellow]")


def _report_table(report: list) -> Table:
    """The calibration report as a Rich table."""
    t = Table(title="Calibration: generated figures against targets")
    for col in ("measure", "geography", "generated", "target", "tolerance", "result", "source"):
        t.add_column(col, overflow="fold")
    for r in report:
        t.add_row(r.measure, r.geography, f"{r.value:,.2f}", f"{r.target:,.2f}", f"±{r.tolerance:,.2f}",
                  "[green]pass[/green]" if r.passed else "[red]fail[/red]", r.source)
    return t
