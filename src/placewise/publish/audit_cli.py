"""``placewise audit verify``: check the audit trails (cohort dataset pulls, re-identifications) are whole."""

from __future__ import annotations

import os
from contextlib import ExitStack

import typer
from rich.console import Console

from placewise.derive.cohorts import DATASET_AUDIT
from placewise.options import DEFAULT_URL, WarehouseOption, refusing
from placewise.publish.access import TRAIL
from placewise.warehouse import WarehouseError, opened
from placewise.warehouse.audit import AuditTampered, verify
from placewise.warehouse.identity import STORE_ENV, open_store

audit_app = typer.Typer(help="Audit trails: check that no audited row has been changed or removed.",
                        no_args_is_help=True)


@audit_app.command("verify")
def verify_command(
    db: WarehouseOption = DEFAULT_URL,
    store: str = typer.Option(os.environ.get(STORE_ENV, ""), "--store",
                              help=f"Identity store (default ${STORE_ENV}); omit to check the warehouse only."),
) -> None:
    """Check each trail's hash chain and anchored head; exit 1 naming the first bad row if one was changed."""
    console = Console()
    with ExitStack() as closing:                     # both closed however the command ends
        with refusing(console, WarehouseError):
            places = [("warehouse", closing.enter_context(opened(db)), DATASET_AUDIT)]
            if store:
                places.append(("identity store", open_store(store), TRAIL))
                closing.callback(places[-1][1].disconnect)
        for where, con, trail in places:
            try:
                n = verify(con, trail)
            except AuditTampered as e:
                console.print(f"[bold red]Tampered:[/] {where}: {e}")
                raise typer.Exit(1) from None
            console.print(f"{where}: {trail.table}: {n:,} rows, chain and anchored head intact")
