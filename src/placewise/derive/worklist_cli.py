"""``placewise worklist``: a practice's case-finding list as CSV or Excel, versioned, with what changed."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from placewise.derive.worklists import diff, export, rows_of, run
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import ProfileError, load_profile
from placewise.profile.worklists import load_worklists
from placewise.warehouse import WarehouseError, connect


def worklist_command(
    practice: str = typer.Option(..., "--practice", help="ODS code of the practice."),
    list_id: str = typer.Option(..., "--list", help="Worklist id from worklists.yaml, or 'all' to build every list."),
    out: str = typer.Option("", "--out", help="File to write (.csv or .xlsx); default LIST-PRACTICE.csv."),
    db: WarehouseOption = DEFAULT_URL,
    profile: ProfileOption = BUNDLED,
) -> None:
    """Build (or reuse, if nothing changed) the list over the PHM tables and write the practice's rows."""
    console = Console()
    started = time.perf_counter()
    with refusing(console, ProfileError, WarehouseError, KeyError):
        lists = load_worklists(load_profile(profile))
        wanted = None if list_id == "all" else [lists.get(list_id).id]
        con = connect(db)
    try:
        with refusing(console, ValueError):
            runs = run(con, lists, wanted)
            for r in runs.values():
                rows = rows_of(con, r.run_id, practice)
                path = out if (out and len(runs) == 1) else f"{r.list_id}-{practice}.csv"
                export(rows, r, lists.get(r.list_id).title, path)
                added, removed = diff(con, r.run_id, practice)
                state = "new version" if r.new else "unchanged since the last run"
                console.print(f"{r.list_id}: {rows.num_rows} people for {practice} -> {path} ({state}; version "
                              f"{r.content_hash}, rule {r.rule_hash}; since the previous run +{len(added)} -{len(removed)})")
    finally:
        con.disconnect()
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")
