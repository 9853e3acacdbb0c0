"""``placewise report``: the integrated performance report, HTML and PDF, for the ICS and each Place."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from placewise.options import BUNDLED, DEFAULT_URL, ProfileOption, WarehouseOption
from placewise.outputs import prepare_output_folder
from placewise.profile import ProfileError
from placewise.publish.assembly import build_models
from placewise.publish.render import write_reports
from placewise.warehouse import WarehouseError

REPORT_HELP = "\n\n".join([
    "Write the integrated performance report as HTML and PDF: one for the ICS and one for each Place.",
    "Each report opens with a Board summary, exceptions first (special cause concern, failing the target, behind plan, "
    "hit or miss, then those in control; icons, latest value against target, plan, trend, owner), the key "
    "performance indicators by area (achieved or not, improved or deteriorated), then a page per indicator (SPC "
    "chart, areas compared, IMD quintiles with the slope index of inequality), the six delivery "
    "programmes, the assurance matrix and data quality. Every figure passes the profile's disclosure rule "
    "(disclosure.yaml): small counts suppressed, with secondary suppression, and counts rounded.",
    "--compare chooses the areas compared and reported on: place (default), provider, or a grouping kind of the "
    "profile such as legacy_ccg; --plan adds trajectories from an operating-plan CSV (indicator_id, "
    "geography_type, geography_code, period_start, value); --commentary and --actions add the Board commentary "
    "and action log for this month from CSV (columns as in the profile's governance.yaml).",
    "Exit codes: 0 written; 2 bad input (unreadable profile, warehouse without measurements, missing source file).",
])


def report_command(
    out: Path = typer.Option(Path("out/report"), "--out", "-o", help="Folder to write the reports into."),
    warehouse: WarehouseOption = DEFAULT_URL,
    profile: ProfileOption = BUNDLED,
    compare: str = typer.Option("place", "--compare", help="Areas compared: place, provider or a grouping kind."),
    plan: list[Path] = typer.Option([], "--plan", help="Operating-plan trajectories CSV (repeatable)."),
    commentary: list[Path] = typer.Option([], "--commentary", help="Commentary CSV: indicator, geography_code, "
                                           "shows, drivers, actions, owner, expected_recovery, updated (repeatable)."),
    actions: list[Path] = typer.Option([], "--actions", help="Action log CSV: id, raised, item, action, owner, due, "
                                       "status, update, indicator (repeatable)."),
    practice: str = typer.Option("", "--practice", help="Write only this practice's referral feedback pack."),
    feedback_date: str = typer.Option("", "--feedback-date", help="Date feedback was given (YYYY-MM-DD): the "
                                      "pack's SPC chart starts a new segment there."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write PDF (WeasyPrint; no browser needed)."),
    risk_model: Path | None = typer.Option(None, "--risk-model", help="Risk model folder (placewise risk train): "
                                           "adds its model card and fairness panel to the population health chapter."),
) -> None:
    console = Console(stderr=True)
    started = time.perf_counter()
    if practice:
        from placewise.publish.feedback import write_practice_feedback

        try:
            given = date.fromisoformat(feedback_date) if feedback_date else None
            typer.echo(str(write_practice_feedback(warehouse, practice, given, out)))
        except (WarehouseError, ValueError) as e:
            console.print(f"[red]Cannot build the feedback pack:[/] {e}")
            raise typer.Exit(2) from None
        return
    try:
        with console.status("Assembling the report (SPC, comparisons, disclosure control)…"):
            models = build_models(warehouse=warehouse, profile_name=profile, compare=compare, plan_csv=tuple(plan),
                                  commentary_csv=tuple(commentary), actions_csv=tuple(actions), risk_model=risk_model)
        prepare_output_folder(out)
    except (ProfileError, WarehouseError, FileNotFoundError, ValueError) as e:
        console.print(f"[red]Cannot build the report:[/] {e}")
        raise typer.Exit(2) from None
    with console.status(f"Rendering {len(models)} reports…"):
        written = write_reports(models, out, pdf)
    for name, html, pdf_path, pages in written:
        extra = f" and {pdf_path} ({pages} pages)" if pdf_path else ""
        typer.echo(f"{name}: {html}{extra}")
    console.print(f"Done in {time.perf_counter() - started:.1f} s.")


report_command.__doc__ = REPORT_HELP
