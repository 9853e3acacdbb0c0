"""``placewise ingest`` and ``placewise status``: load a delivery folder, and show what the warehouse holds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from placewise.ingest.load import EXIT_REFUSED, FileResult, IngestResult, ingest
from placewise.ingest.rotate import rotate_key
from placewise.ingest.pseudonymise import DEFAULT_KEY_ENV, PseudonymisationKeyError, key_from_env
from placewise.ingest.stage import IngestRefused, refuse
from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption, refusing
from placewise.profile import ProfileError, load_profile
from placewise.warehouse import WarehouseError, opened
from placewise.warehouse.connection import redact
from placewise.warehouse.identity import IdentityError
from placewise.warehouse.engines import DATABASE_ERRORS
from placewise.warehouse.status import status



def _as_of(text: str | None) -> date | None:
    """The --as-of date, with an error that says which format is expected."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise ValueError(f"--as-of {text!r} is not a date in the form YYYY-MM-DD") from None


def _print_result(console: Console, result: IngestResult) -> None:
    """The per-file table and the quarantine summary."""
    files = RichTable(title="Files", title_justify="left")
    files.add_column("file", no_wrap=True)
    for name in ("read", "loaded", "replaced", "quarantined"):
        files.add_column(name, justify="right")
    files.add_column("note")
    for f in result.files:
        notes = [("rows quarantined before, checked again" if f.retried else "already loaded in batch "
                  f"{f.already_loaded_in}")] if f.already_loaded_in else []
        if f.ignored_columns:
            notes.append(f"ignored columns: {', '.join(f.ignored_columns)}")
        files.add_row(f.file_name, f"{f.rows_read:,}", f"{f.rows_loaded:,}", f"{f.rows_replaced:,}",
                      f"{f.rows_quarantined:,}", "; ".join(notes))
    console.print(files)
    for f in result.files:
        if f.retried:
            console.print(_retry_note(f))
        for warning in f.warnings:
            console.print(f"[bold yellow]Warning:[/] {warning}")
    if result.unknown_files:
        console.print(f"[yellow]Ignored files (not canonical table names):[/] {', '.join(result.unknown_files)}")
    if result.problems.num_rows:
        _print_problems(console, result)


def _retry_note(f: FileResult) -> str:
    """What happened to the previously quarantined rows of a file delivered again unchanged."""
    parts = [f"{f.rows_loaded:,} now loaded"]
    if f.rows_quarantined:
        parts.append(f"{f.rows_quarantined:,} still quarantined")
    if f.rows_superseded:
        parts.append(f"{f.rows_superseded:,} not loaded: a later delivery has stored their key")
    return (f"{f.file_name} was loaded before (batch {f.already_loaded_in}); re-checked {f.rows_read:,} rows "
            f"quarantined in batch {f.already_loaded_in} or since: {', '.join(parts)}.")


def _print_problems(console: Console, result: IngestResult) -> None:
    """Quarantine lines grouped by file, field and reason, with the first few row numbers."""
    df = result.problems.to_pandas()
    grouped = df.groupby(["file_name", "field", "reason"], sort=True)["row_number"]
    table = RichTable(title=f"Quarantined rows: {result.rows_quarantined:,} "
                            "(row = data row in the file, the CSV header not counted)", title_justify="left")
    for name in ("file", "field", "reason", "lines", "first rows"):
        table.add_column(name, justify="right" if name == "lines" else "left")
    for (file_name, field, reason), rows in grouped:
        first = ", ".join(str(r) for r in sorted(rows)[:5]) + ("…" if len(rows) > 5 else "")
        table.add_row(file_name, field, reason, f"{len(rows):,}", first)
    console.print(table)
    if result.report_path:
        console.print(f"Quarantine report written to [bold]{result.report_path}[/]")


def ingest_command(
    directory: Path = typer.Argument(..., help="Folder of canonical files (<table>.parquet or <table>.csv)."),
    db: WarehouseOption = DEFAULT_URL,
    key_env: str = typer.Option(DEFAULT_KEY_ENV, "--key-env",
                                help="Environment variable holding the pseudonymisation key."),
    profile: ProfileOption = BUNDLED,
    report: Path | None = typer.Option(None, "--report",
                                       help="Quarantine report CSV (default: next to the DuckDB file, or here)."),
    as_of: str | None = typer.Option(None, "--as-of",
                                     help="Dates after this day (YYYY-MM-DD) are in the future (default: today)."),
) -> None:
    """Validate, pseudonymise and load every canonical file in DIRECTORY as one batch.

    Files are named after canonical tables (people.parquet, inpatient_spells.csv, …); other files are
    reported and ignored. CSV files must be UTF-8 with a header row. NHS numbers are replaced by HMAC-SHA256
    pseudonyms (key from the environment variable named by --key-env) before anything is stored.

    Bad rows are quarantined (table quarantine; row numbers count data rows from 1, the CSV header row not
    counted) and listed in a CSV report. A file already loaded (same SHA-256) is skipped; a row whose key is
    already in the warehouse replaces the stored row.

    A file loaded before, unchanged, is skipped unless rows of it are still quarantined: then only those rows
    are checked again and loaded if they now pass (say, their practice has arrived since).

    Exit codes: 0 all rows loaded (or nothing new to load); 3 loaded, with rows quarantined;
    2 refused and nothing in the warehouse changed: a file is structurally broken (unreadable, not UTF-8,
    missing a required column, a column of the wrong type), no key or another key than the warehouse's,
    the warehouse in use by another process, or the quarantine report cannot be written;
    4 loaded, with rows quarantined, but the report could not be moved into place (the lines are in the
    quarantine table).
    """
    console = Console()
    with refusing(console, ProfileError, PseudonymisationKeyError, ValueError):
        ics = load_profile(profile).ics
        key = key_from_env(key_env)
        day = _as_of(as_of)
    console.print(f"Ingesting [bold]{directory}[/] into [bold]{redact(db)}[/] for {ics.name}")
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("starting", total=None)
            result = ingest(directory, db, key, as_of=day, report=report,
                            progress=lambda message, done, total: bar.update(task, description=message,
                                                                             completed=done, total=total))
    except (IngestRefused, WarehouseError) as e:
        console.print(f"[bold red]Refused, nothing loaded:[/] {e}")
        raise typer.Exit(EXIT_REFUSED) from None
    except DATABASE_ERRORS as e:  # the batch's transaction was rolled back
        console.print(f"[bold red]Refused, nothing loaded: the database stopped the batch:[/] {refuse(str(e))}")
        raise typer.Exit(EXIT_REFUSED) from None
    _print_result(console, result)
    if result.report_error:
        console.print(f"[bold yellow]Batch {result.batch_id} loaded with {result.rows_quarantined:,} rows quarantined, "
                      f"but the quarantine report could not be written ({result.report_error}). The quarantined rows "
                      "are in the warehouse's quarantine table (placewise status).[/]")
    elif result.nothing_new:
        console.print("[green]Nothing new: every file was loaded before; the warehouse is unchanged.[/]")
    elif result.rows_quarantined:
        console.print(f"[yellow]Batch {result.batch_id} loaded with {result.rows_quarantined:,} rows quarantined.[/]")
    else:
        console.print(f"[green]Batch {result.batch_id} loaded: every row passed validation.[/]")
    raise typer.Exit(result.exit_code)



def status_command(
    db: WarehouseOption = DEFAULT_URL,
) -> None:
    """Show the warehouse: rows per table, the load log and the quarantine by table, field and reason."""
    console = Console()
    try:
        with opened(db, read_only=True) as con:
            s = status(con)
    except WarehouseError as e:
        console.print(f"[bold red]{e}[/]")
        raise typer.Exit(EXIT_REFUSED) from None
    counts = RichTable(title="Tables", title_justify="left")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, n in s.counts.items():
        counts.add_row(name, f"{n:,}")
    console.print(counts)
    log = RichTable(title="Load log (newest first)", title_justify="left")
    for name in ("batch", "loaded at (UTC)", "files", "read", "loaded", "replaced", "quarantined"):
        log.add_column(name, justify="left" if name in ("batch", "loaded at (UTC)") else "right")
    for r in s.load_log.itertuples():
        log.add_row(r.batch_id, str(r.loaded_at)[:19], str(r.files), f"{r.rows_read:,}", f"{r.rows_loaded:,}",
                    f"{r.rows_replaced:,}", f"{r.rows_quarantined:,}")
    console.print(log if len(s.load_log) else "No batches loaded yet.")
    if len(s.quarantine):
        q = RichTable(title="Quarantine", title_justify="left")
        for name in ("table", "field", "reason", "lines"):
            q.add_column(name, justify="right" if name == "lines" else "left")
        for r in s.quarantine.itertuples():
            q.add_row(r.table_name, r.field, r.reason, f"{r.lines:,}")
        console.print(q)
    else:
        console.print("Quarantine is empty.")


def rotate_key_command(
    db: WarehouseOption = DEFAULT_URL,
    people: Path = typer.Option(..., "--people",
                                help="A file with an nhs_number column covering everyone in the warehouse "
                                     "(people.parquet or people.csv of a delivery)."),
    key_env: str = typer.Option(DEFAULT_KEY_ENV, "--key-env", help="Environment variable holding the current key."),
    new_key_env: str = typer.Option(..., "--new-key-env", help="Environment variable holding the new key."),
) -> None:
    """Re-pseudonymise the whole warehouse under a new key, in one transaction.

    Every person key of every table is rewritten from its pseudonym under the current key to the pseudonym
    under the new key, using the NHS numbers in --people (a pseudonym cannot be reversed). The warehouse then
    accepts batches under the new key only. Refused, changing nothing (exit 2), when the current key is not
    the warehouse's or the people file misses anyone stored. With an identity store configured
    ($PLACEWISE_IDENTITY_STORE and $PLACEWISE_IDENTITY_KEY), its links move to the new pseudonyms, every NHS
    number encrypted afresh. Recompute measurements afterwards.
    """
    console = Console()
    try:
        old_key, new_key = key_from_env(key_env), key_from_env(new_key_env)
        done = rotate_key(db, people, old_key, new_key)
    except (PseudonymisationKeyError, IngestRefused, WarehouseError, IdentityError) as e:
        console.print(f"[bold red]Refused, nothing changed:[/] {e}")
        raise typer.Exit(EXIT_REFUSED) from None
    except DATABASE_ERRORS as e:
        console.print(f"[bold red]Refused, nothing changed: the database stopped the rotation:[/] {refuse(str(e))}")
        raise typer.Exit(EXIT_REFUSED) from None
    tables = ", ".join(f"{name} {n:,}" for name, n in done.rows.items())
    links = "" if done.links is None else f" Identity store: {done.links:,} links moved and re-encrypted."
    console.print(f"[green]Rotated the pseudonymisation key: {done.people:,} people re-keyed; rows rewritten: "
                  f"{tables}.{links}[/]")
