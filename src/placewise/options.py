"""What the CLI modules share: the warehouse and ICS profile options, declared once, and one way to refuse bad input."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from placewise.profile.model import BUNDLED
from placewise.warehouse.connection import DEFAULT_URL

__all__ = ["BUNDLED", "DEFAULT_URL", "ProfileOption", "WarehouseOption", "refusing"]

WarehouseOption = Annotated[str, typer.Option(
    "--db", "--warehouse", "-w",
    help="Warehouse: a DuckDB file, duckdb:///path, postgresql://… or spark:///folder.")]
"""``--db``: the warehouse a command reads or writes; give it the default ``DEFAULT_URL``."""

ProfileOption = Annotated[str, typer.Option("--profile", "-p", help="ICS profile: a bundled name or a folder.")]
"""``--profile``: the ICS profile a command uses; give it the default ``BUNDLED``."""


@contextmanager
def refusing(console: Console, *errors: type[Exception]) -> Iterator[None]:
    """Turn one of ``errors`` (bad input, not a crash) into a one-line "Refused:" message and exit status 2."""
    try:
        yield
    except errors as e:
        console.print(f"[bold red]Refused:[/] {e}")
        raise typer.Exit(2) from None
