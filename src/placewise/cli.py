"""The ``placewise`` command line: one command per stage of the flow, and the demo.

Each command's module is imported only when that command runs (or when every command is listed, for
``placewise --help`` and the tests), so ``placewise measure`` does not pay for the web app, the risk models
or the planning statistics: start-up is a fixed cost of every run, and at small scale it is most of it.
"""

from __future__ import annotations

import atexit
import gc
import sys
from importlib import import_module
from typing import Any

import typer

COMMANDS = {
    "synth": "placewise.sources.synth.cli:synth_command",
    "ingest": "placewise.ingest.cli:ingest_command",
    "status": "placewise.ingest.cli:status_command",
    "rotate-key": "placewise.ingest.cli:rotate_key_command",
    "measure": "placewise.analyse.cli:measure_command",
    "plan": "placewise.publish.plan_cli:plan_command",
    "phm": "placewise.publish.phm_cli:phm_command",
    "risk": "placewise.analyse.risk_cli:risk_app",
    "worklist": "placewise.derive.worklist_cli:worklist_command",
    "cohort": "placewise.publish.cohort_cli:cohort_command",
    "audit": "placewise.publish.audit_cli:audit_app",
    "report": "placewise.publish.cli:report_command",
    "verify": "placewise.analyse.verify_cli:verify_command",
    "try": "placewise.measure.cli:try_command",
    "explain": "placewise.measure.cli:explain_command",
    "demo": "placewise.demo:demo_command",
    "serve": "placewise.publish.web.cli:serve_command",
    "schema": "placewise.cli:schema_command",
}
"""Every command, in the order ``--help`` lists them: name → ``module:function`` (or ``module:Typer`` for a
group of subcommands)."""

YOUNG_COLLECTION = 10_000
"""Allocations between two collections of the youngest generation by Python's cycle collector (Python's default is
700). Building and compiling queries in Ibis makes many short-lived objects: at the default a six-indicator
``placewise measure`` collected 650 times, four of them over the whole heap of imported modules, 0.35 s of CPU
time in all; at this threshold 0.17 s. Reference counting still frees at once whatever is not in a cycle.

The objects made before the command starts (the imported modules' functions, classes and constants, which live as
long as the process) are moved out of the collector's sight (``gc.freeze``), so that the collections of the oldest
generation no longer walk them: the whole catalogue at scale 0.05 spent 0.66-0.93 s of CPU time collecting, 0.43 s
so (load 12). They are unfrozen as the program exits, before the interpreter clears its modules: objects still frozen
then are never freed, and DuckDB's bindings (nanobind) print dozens of lines about "leaked" instances to stderr."""


def schema_command() -> None:
    """Print the data dictionary of the canonical model (Markdown)."""
    from placewise.canonical import data_dictionary_markdown

    typer.echo(data_dictionary_markdown(), nl=False)


def _group() -> None:
    """Population health and performance intelligence for an NHS Integrated Care System."""


class LazyCli(typer.Typer):
    """A Typer application whose commands are imported when Typer first asks for them."""

    def __init__(self, **kwargs: Any) -> None:
        self._only: str | None = None
        self._commands: list[Any] | None = None
        self._groups: list[Any] = []
        super().__init__(**kwargs)

    @property
    def registered_commands(self) -> list[Any]:
        """The commands, imported on first use: only the one being run when the program was started for it."""
        if self._commands is None:
            self._commands = []
            for name, target in COMMANDS.items():
                if self._only in (None, name):
                    module, attr = target.split(":")
                    obj = getattr(import_module(module), attr)
                    if isinstance(obj, typer.Typer):
                        super().add_typer(obj, name=name)
                    else:
                        super().command(name)(obj)
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list[Any]) -> None:
        """Typer's constructor sets an empty list; the commands are imported on first read instead."""
        self._commands = value or None

    @property
    def registered_groups(self) -> list[Any]:
        """The groups of subcommands (imported with the commands)."""
        self.registered_commands  # noqa: B018 - reading it imports the commands and groups
        return self._groups

    @registered_groups.setter
    def registered_groups(self, value: list[Any]) -> None:
        """Set by Typer's constructor and by ``add_typer``."""
        self._groups = value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line, collecting cycles less often and never over the objects of the modules imported
        before the command starts (:data:`YOUNG_COLLECTION`, ``gc.freeze``); when it names a command, import only its
        module.

        The program, which owns its process, sets the collector once before any work; the library's functions never
        touch it, so a process that calls them (the tests, a notebook, a server started otherwise) keeps its own."""
        if self._commands is None and len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
            self._only = sys.argv[1]
        self.registered_commands  # noqa: B018 - reading it imports the command's module, before the freeze
        gc.freeze()
        atexit.register(gc.unfreeze)
        gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])
        return super().__call__(*args, **kwargs)


app = LazyCli(
    name="placewise",
    help="Population health and performance intelligence for an NHS Integrated Care System.",
    callback=_group,
    no_args_is_help=True,
    add_completion=False,
)


if __name__ == "__main__":
    app()
