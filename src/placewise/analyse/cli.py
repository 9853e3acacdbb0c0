"""``placewise measure``: compute every indicator into the warehouse's measurements table."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from placewise.analyse.measurements import measure_all
from placewise.canonical import TABLES
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import ProfileError, load_profile
from placewise.warehouse import WarehouseError, opened, require_tables


def measure_command(
    db: WarehouseOption = DEFAULT_URL,
    profile: ProfileOption = BUNDLED,
    indicator: list[str] = typer.Option([], "--indicator", "-i",
                                        help="Compute only this indicator (repeatable); default all."),
) -> None:
    """Compute the profile's indicators for every period, geography and group into `measurements`."""
    console = Console()
    started = time.perf_counter()
    with refusing(console, ProfileError, WarehouseError, ValueError):
        prof = load_profile(profile)
        with opened(db) as con:
            require_tables(con, (t.name for t in TABLES))
            with console.status("Computing indicators…"):
                table = measure_all(con, prof, indicators=indicator or None)
    console.print(f"{table.num_rows:,} measurements written in {time.perf_counter() - started:.1f} s.")
