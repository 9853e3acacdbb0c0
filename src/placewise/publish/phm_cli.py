"""``placewise phm``: rebuild the person-level PHM tables (segments, eFI, Cambridge score) in the warehouse."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from placewise.derive.segments import build, latest_month_end, pyramid
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import ProfileError, load_profile
from placewise.profile.phm import load_phm
from placewise.publish.phm import build_chapter, write_chapter
from placewise.warehouse import WarehouseError, connect


def phm_command(
    db: WarehouseOption = DEFAULT_URL,
    profile: ProfileOption = BUNDLED,
    on: str = typer.Option("", "--on", help="Reference date YYYY-MM-DD; default the last full month of data."),
    chapter: Path | None = typer.Option(None, "--chapter", help="Also write the population health chapter here."),
    model: Path | None = typer.Option(None, "--model", help="Risk model folder for the chapter's model card."),
) -> None:
    """Build phm_people and phm_items at the reference date and print the segment pyramid."""
    console = Console()
    started = time.perf_counter()
    with refusing(console, ProfileError, WarehouseError, ValueError):
        prof = load_profile(profile)
        con = connect(db)
        day = date.fromisoformat(on) if on else latest_month_end(con)
    try:
        people = build(con, prof, day)
        rows = pyramid(people, load_phm(prof)).to_pyarrow().to_pylist()
        page = write_chapter(build_chapter(con, prof, model), chapter) if chapter else None
    finally:
        con.disconnect()
    t = Table(title=f"Segments at {day:%d %B %Y}")
    for c in ("Segment", "People", "Emergency admissions", "Bed days", "A&E attendances"):
        t.add_column(c, justify="left" if c == "Segment" else "right")
    for r in rows:
        t.add_row(r["title"], f"{r['people']:,}", f"{r['emergency_admissions']:,}", f"{r['bed_days']:,}",
                  f"{r['ae_attendances']:,}")
    console.print(t)
    console.print(f"{sum(r['people'] for r in rows):,} people segmented in {time.perf_counter() - started:.1f} s.")
    if page:
        console.print(f"Population health chapter: {page}")
