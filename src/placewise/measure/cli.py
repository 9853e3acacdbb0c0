"""``placewise try`` and ``placewise explain``: a definition on hand-made patients, and its SQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table

from placewise.measure.catalogue import CatalogueError, load_catalogue
from placewise.measure.patients import PatientsError, load_patients, read_patients
from placewise.measure.trial import explain, register_trace, trace
from placewise.options import BUNDLED, ProfileOption, refusing
from placewise.profile import ProfileError, load_profile
from placewise.warehouse.engines import DIALECTS


def _month_end(text: str) -> date:
    """The last day of a YYYY-MM month, or a date given in full."""
    from placewise.measure.periods import month_end

    return month_end(date.fromisoformat(text + "-01" if len(text) == 7 else text))


def _show(console: Console, title: str, t: pa.Table) -> None:
    """One trace table, a row per person or event."""
    out = Table(title=title, title_justify="left")
    for name in t.column_names:
        out.add_column(name)
    for row in t.to_pylist():
        out.add_row(*["yes" if v is True else "no" if v is False else "" if v is None else str(v)
                      for v in row.values()])
    console.print(out)


def try_command(
    definition: str = typer.Argument(..., help="An indicator id or a register id from the profile."),
    patients: Path = typer.Argument(..., help="YAML file of hand-made patients (see docs/writing-an-indicator.md)."),
    period_end: str = typer.Option("", "--period-end", help="YYYY-MM (default: the file's period_end)."),
    profile: ProfileOption = BUNDLED,
) -> None:
    """Run an indicator or register on a few hand-made patients and show each person's result and why."""
    console = Console(width=200)
    with refusing(console, ProfileError, PatientsError, KeyError, ValueError):
        prof = load_profile(profile)
        cat = load_catalogue(prof)
        pf = read_patients(patients)
        end = _month_end(period_end) if period_end else pf.period_end
        if end is None:
            raise PatientsError(f"{patients}: give period_end in the file or --period-end")
        con = load_patients(ibis.duckdb.connect(), pf, prof)
        if definition in {i.id for i in cat.indicators}:
            ind = cat.indicator(definition)
            console.print(f"[bold]{ind.title}[/] — {ind.specification} ({ind.version}); period ending {end}")
            for side, t in trace(con, cat, definition, end).items():
                _show(console, side, t)
                for col in ("denominator", "numerator", "value"):
                    if col in t.column_names:
                        total = sum(float(v or 0) for v in t.column(col).to_pylist())
                        console.print(f"{side}: {col} total {total:g}")
        else:
            reg = cat.register(definition)
            console.print(f"[bold]{reg.title}[/] — {reg.specification} ({reg.version}); on {end}")
            _show(console, "register", register_trace(con, reg, end))


def explain_command(
    indicator: str = typer.Argument(..., help="An indicator id."),
    period_end: str = typer.Option("2024-03", "--period-end", help="YYYY-MM: the period to compile for."),
    dialect: str = typer.Option("duckdb", "--dialect", help="SQL dialect of a warehouse engine: "
                                + ", ".join(DIALECTS) + "."),
    profile: ProfileOption = BUNDLED,
) -> None:
    """Print the SQL an indicator compiles to (its finest cells for one period)."""
    with refusing(Console(), ProfileError, CatalogueError, KeyError, ValueError):
        cat = load_catalogue(load_profile(profile))
        if dialect not in DIALECTS:
            raise ValueError(f"dialect {dialect!r}: use {' or '.join(DIALECTS)}")
        typer.echo(explain(cat, indicator, _month_end(period_end), dialect))
