"""``placewise verify``: prove that warehouses on different engines give the same measurements."""

from __future__ import annotations

import typer
from ibis.backends import BaseBackend
from rich.console import Console
from rich.table import Table as RichTable

from placewise.analyse.verify import Verification, sample, verify
from placewise.canonical import TABLES
from placewise.measure import load_catalogue
from placewise.options import BUNDLED, ProfileOption
from placewise.profile import ProfileError, load_profile
from placewise.warehouse import WarehouseError, connect_existing, engine_of, require_tables
from placewise.warehouse.engines import DATABASE_ERRORS
from placewise.warehouse.engines.base import redact

EXIT_DIFFERENT = 1
SHOWN = 20


def verify_command(
    engines: str = typer.Option(..., "--engines", help="The engines compared, in order, e.g. duckdb,postgres,spark."),
    db: list[str] = typer.Option(..., "--db", help="One warehouse URL per engine, in the same order, each loaded "
                                                   "with the same delivery."),
    profile: ProfileOption = BUNDLED,
    indicator: list[str] = typer.Option([], "--indicator", "-i",
                                        help="Compare this indicator (repeatable); default one of each kind."),
    every: bool = typer.Option(False, "--all", help="Compare the whole catalogue."),
) -> None:
    """Compute the same indicators on each warehouse and report any difference from the first (exit 1)."""
    console = Console(width=160)
    names = [e.strip() for e in engines.split(",") if e.strip()]
    warehouses: list[tuple[str, BaseBackend]] = []
    try:
        if len(names) != len(db) or len(names) < 2:
            raise WarehouseError(f"--engines names {len(names)} engines and --db gives {len(db)} warehouses: "
                                 "give two or more, one URL per engine in the same order")
        for name, url in zip(names, db, strict=True):
            if engine_of(url) != name:
                raise WarehouseError(f"{redact(url)} is a {engine_of(url)} warehouse, not {name}")
        catalogue = load_catalogue(load_profile(profile))
        chosen = [i.id for i in catalogue.indicators] if every else indicator or sample(catalogue)
        for i in chosen:
            catalogue.indicator(i)
        for n, (name, url) in enumerate(zip(names, db, strict=True), 1):
            warehouses.append((name if names.count(name) == 1 else f"{name} #{n}", connect_existing(url)))
            require_tables(warehouses[-1][1], (t.name for t in TABLES))
    except (ProfileError, WarehouseError, KeyError) as e:
        for _, con in warehouses:
            con.disconnect()
        console.print(f"[bold red]Refused:[/] {e}")
        raise typer.Exit(2) from None
    try:
        with console.status(f"Computing {len(chosen)} indicators on {', '.join(names)}…"):
            result = verify(warehouses, catalogue, chosen)
    except DATABASE_ERRORS as e:
        console.print(f"[bold red]Refused: a warehouse stopped the computation:[/] {str(e).splitlines()[0]}")
        raise typer.Exit(2) from None
    finally:
        for _, con in warehouses:
            con.disconnect()
    _report(console, result)
    if not result.agree:
        raise typer.Exit(EXIT_DIFFERENT)


def _report(console: Console, result: Verification) -> None:
    """Rows compared on each engine, then the differences (the first few in a table)."""
    rows = ", ".join(f"{n} {result.rows[n]:,}" for n in result.engines)
    console.print(f"{len(result.indicators)} indicators; measurements per engine: {rows}.")
    if result.agree:
        console.print(f"[green]The engines agree: every measurement is the same on {', '.join(result.engines)}.[/]")
        return
    console.print(f"[bold red]{len(result.differences):,} differences from {result.engines[0]}:[/]")
    table = RichTable("engine", "indicator", "period, geography, breakdown", "column", result.engines[0], "other")
    for d in result.differences[:SHOWN]:
        table.add_row(d.engine, d.indicator_id, d.key, d.column, _shown(d.reference), _shown(d.other))
    console.print(table)
    if len(result.differences) > SHOWN:
        console.print(f"… and {len(result.differences) - SHOWN:,} more.")


def _shown(x: float | None) -> str:
    """A compared number, or 'missing' for a row absent on that engine."""
    return "missing" if x is None else f"{x:.12g}"
