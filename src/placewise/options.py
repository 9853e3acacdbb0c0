"""The command-line options many commands share (warehouse and ICS profile), declared once for every CLI module."""

from __future__ import annotations

from typing import Annotated

import typer

from placewise.profile.model import BUNDLED
from placewise.warehouse.connection import DEFAULT_URL

__all__ = ["BUNDLED", "DEFAULT_URL", "ProfileOption", "WarehouseOption"]

WarehouseOption = Annotated[str, typer.Option(
    "--db", "--warehouse", "-w",
    help="Warehouse: a DuckDB file, duckdb:///path, postgresql://… or spark:///folder.")]
"""``--db``: the warehouse a command reads or writes; give it the default ``DEFAULT_URL``."""

ProfileOption = Annotated[str, typer.Option("--profile", "-p", help="ICS profile: a bundled name or a folder.")]
"""``--profile``: the ICS profile a command uses; give it the default ``BUNDLED``."""
