"""The ``placewise`` command line: one command per stage of the flow, and the demo."""

from __future__ import annotations

import typer

from placewise.analyse.cli import measure_command
from placewise.analyse.planning.cli import plan_command
from placewise.analyse.risk_cli import risk_app
from placewise.analyse.verify_cli import verify_command
from placewise.canonical import data_dictionary_markdown
from placewise.demo import demo_command
from placewise.publish.phm_cli import phm_command
from placewise.derive.worklist_cli import worklist_command
from placewise.ingest.cli import ingest_command, rotate_key_command, status_command
from placewise.measure.cli import explain_command, try_command
from placewise.publish.audit_cli import audit_app
from placewise.publish.cli import report_command
from placewise.publish.cohort_cli import cohort_command
from placewise.publish.web.cli import serve_command
from placewise.sources.synth.cli import synth_command

app = typer.Typer(
    name="placewise",
    help="Population health and performance intelligence for an NHS Integrated Care System.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("synth")(synth_command)
app.command("ingest")(ingest_command)
app.command("status")(status_command)
app.command("rotate-key")(rotate_key_command)
app.command("measure")(measure_command)
app.command("plan")(plan_command)
app.command("phm")(phm_command)
app.add_typer(risk_app, name="risk")
app.command("worklist")(worklist_command)
app.command("cohort")(cohort_command)
app.add_typer(audit_app, name="audit")
app.command("report")(report_command)
app.command("verify")(verify_command)
app.command("try")(try_command)
app.command("explain")(explain_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)


@app.command("schema")
def schema_command() -> None:
    """Print the data dictionary of the canonical model (Markdown)."""
    typer.echo(data_dictionary_markdown(), nl=False)


if __name__ == "__main__":
    app()
