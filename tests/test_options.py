"""Every command that takes the warehouse or the ICS profile takes it the same way (one shared declaration)."""

from __future__ import annotations

import io

import pytest
import typer
from rich.console import Console
from typer.core import TyperGroup, TyperOption

from placewise.cli import app
from placewise.options import BUNDLED, DEFAULT_URL, refusing


def _commands(group: TyperGroup, prefix: str = "") -> dict:
    """Every leaf command of the CLI by its full name (``risk train``)."""
    found = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, TyperGroup):
            found |= _commands(cmd, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = cmd
    return found


def _option(cmd, flag: str) -> TyperOption | None:
    """The command's option answering to ``flag``, if it has one."""
    return next((p for p in cmd.params if isinstance(p, TyperOption) and flag in p.opts), None)


COMMANDS = _commands(typer.main.get_group(app))
# verify compares several warehouses, so it takes --db once per engine and has no default.
MANY_WAREHOUSES = {"verify"}


def test_every_warehouse_option_is_the_shared_one() -> None:
    """--db (alias --warehouse, -w) has one default and one help text wherever a command reads a warehouse."""
    seen = {name: _option(cmd, "--db") for name, cmd in COMMANDS.items() if name not in MANY_WAREHOUSES}
    with_db = {name: o for name, o in seen.items() if o is not None}
    assert {"ingest", "status", "rotate-key", "measure", "plan", "phm", "risk train", "risk score", "worklist",
            "cohort", "report", "serve"} <= set(with_db)
    for name, o in with_db.items():
        assert (o.opts, o.default, o.help) == (["--db", "--warehouse", "-w"], DEFAULT_URL, with_db["measure"].help), name


def test_every_command_that_uses_a_profile_takes_the_shared_profile_option() -> None:
    """--profile (alias -p) defaults to the bundled profile with one help text on every command that has it."""
    with_profile = {name: o for name, cmd in COMMANDS.items() if (o := _option(cmd, "--profile")) is not None}
    assert {"synth", "ingest", "measure", "plan", "phm", "risk train", "risk score", "worklist", "cohort", "report",
            "verify", "try", "explain", "demo", "serve"} <= set(with_profile)
    for name, o in with_profile.items():
        assert (o.opts, o.default, o.help) == (["--profile", "-p"], BUNDLED, with_profile["measure"].help), name


def test_refusing_turns_a_named_error_into_one_line_and_exit_2_and_lets_others_through() -> None:
    """Bad input named by the command is refused with its message; any other error is still a crash."""
    out = io.StringIO()
    with pytest.raises(typer.Exit) as stopped, refusing(Console(file=out), KeyError, ValueError):
        raise ValueError("patients.csv row 3: field age: 'x' is not a whole number")
    assert stopped.value.exit_code == 2
    assert out.getvalue() == "Refused: patients.csv row 3: field age: 'x' is not a whole number\n"
    with pytest.raises(ZeroDivisionError), refusing(Console(file=out), KeyError, ValueError):
        raise ZeroDivisionError
