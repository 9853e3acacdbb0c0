"""``placewise cohort``: a declared cohort counted by geography and group, or as a pseudonymised dataset."""

from __future__ import annotations

import getpass
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from placewise.derive.cohorts import (
    BREAKDOWNS,
    GEOGRAPHIES,
    finest_counts,
    dataset,
    reference_date,
)
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import ProfileError, load_profile
from placewise.profile.cohorts import load_cohorts
from placewise.publish.cohorts import hidden_share, published_counts
from placewise.publish.disclosure import load_rule
from placewise.warehouse import WarehouseError, connect
from placewise.warehouse.audit import AuditTampered


def cohort_command(
    cohort_id: str = typer.Option("", "--cohort", help="Cohort id from cohorts.yaml; omit to list the cohorts."),
    by: str = typer.Option("place", "--by", help=f"Geography: {', '.join(GEOGRAPHIES)}."),
    breakdown: str = typer.Option("none", "--breakdown", help=f"Breakdown: {', '.join(BREAKDOWNS)}."),
    out: Path | None = typer.Option(None, "--out", help="Write the published counts to this CSV file."),
    people: Path | None = typer.Option(None, "--dataset",
                                       help="Write the pseudonymised person-level dataset (.parquet or .csv); audited."),
    who: str = typer.Option(getpass.getuser(), "--who", help="Who is pulling the dataset, for its audit."),
    db: WarehouseOption = DEFAULT_URL,
    profile: ProfileOption = BUNDLED,
) -> None:
    """Count a cohort over the PHM tables (built by `placewise phm`), disclosure-controlled, or write its dataset."""
    console = Console()
    started = time.perf_counter()
    with refusing(console, ProfileError, WarehouseError, KeyError, ValueError):
        prof = load_profile(profile)
        cohorts = load_cohorts(prof)
        if not cohort_id:
            for c in cohorts.cohorts:
                console.print(f"[bold]{c.id}[/]: {c.title}\n  {c.source}")
            return
        cohort = cohorts.get(cohort_id)
        if people is not None and people.suffix not in (".parquet", ".csv"):
            raise ValueError(f"{people}: the dataset file must end .parquet or .csv")
        rule = load_rule(prof)
        con = connect(db)
    try:
        with refusing(console, ValueError, AuditTampered):
            on = reference_date(con)
            table = published_counts(finest_counts(con, prof, cohort).to_pandas(), rule, by, breakdown, prof.ics.code)
            data = dataset(con, prof, cohort, who, str(people)) if people is not None else None
    finally:
        con.disconnect()
    t = Table(title=f"{cohort.title} at {on:%d %B %Y} by {by}"
              + ("" if breakdown == "none" else f" and {breakdown.replace('_', ' ')}"))
    for head in ("Geography", "Group", "In cohort", "Registered", "%"):
        t.add_column(head, justify="left" if head in ("Geography", "Group") else "right")
    for r in table.itertuples(index=False):
        t.add_row(*map(str, r))
    console.print(t)
    for note in cohort.notes:
        console.print(f"Note: {note}")
    console.print(f"Disclosure: {rule.statement()} ({hidden_share(table):.0%} of cohort counts hidden.)")
    if out is not None:
        table.to_csv(out, index=False)
        console.print(f"Counts: {out}")
    if data is not None and people is not None:
        (pq.write_table if people.suffix == ".parquet" else pacsv.write_csv)(data, people)
        console.print(f"Dataset: {people} ({data.num_rows:,} people, pseudonyms only; pull audited as {who})")
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")
