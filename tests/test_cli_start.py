"""What the ``placewise`` program sets up before any command runs."""

from __future__ import annotations

import subprocess
import sys

from placewise.cli import YOUNG_COLLECTION

RUN = """
import gc, sys
from placewise.cli import app
before = gc.get_threshold()
sys.argv = ["placewise", "schema"]
try:
    app()
except SystemExit:
    pass
print(before, gc.get_threshold())
"""

FROZEN = """
import gc, sys
from placewise.cli import app
frozen = gc.get_freeze_count()
sys.argv = ["placewise", "measure", "--help"]
try:
    app()
except SystemExit:
    pass
from placewise.analyse.cli import measure_command
print(frozen, gc.get_freeze_count(), any(o is measure_command for o in gc.get_objects()))
"""


def test_the_program_exits_without_leak_warnings() -> None:
    """A command whose module imports DuckDB exits quietly: the objects frozen for the command are unfrozen at exit,
    so the interpreter frees them before it clears its modules; still frozen, DuckDB's bindings report dozens of them
    as "leaked" on stderr."""
    done = subprocess.run([sys.executable, "-m", "placewise.cli", "measure", "--help"], capture_output=True, text=True,
                          check=True)
    assert "Compute the profile's indicators" in done.stdout
    assert "duckdb" in subprocess.run([sys.executable, "-c", FROZEN + "print(sorted(sys.modules))"],
                                      capture_output=True, text=True, check=True).stdout
    assert done.stderr == ""


def test_the_program_collects_cycles_less_often_than_python_by_default() -> None:
    """Running a command raises the cycle collector's youngest-generation threshold from Python's 700 (its older
    generations as Python sets them), and the command still runs."""
    out = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, check=True).stdout
    assert "### `geography`" in out  # the data dictionary
    assert out.strip().splitlines()[-1] == f"(700, 10, 10) ({YOUNG_COLLECTION}, 10, 10)"


def test_the_program_hides_the_command_modules_objects_from_the_collector() -> None:
    """Before the command runs, the objects made so far, the command's module imported, are frozen: the collector no
    longer walks them (``gc.get_objects`` lists what it walks)."""
    out = subprocess.run([sys.executable, "-c", FROZEN], capture_output=True, text=True, check=True).stdout
    assert "Compute the profile's indicators" in out  # the command's help
    before, after, walked = out.strip().splitlines()[-1].split()
    assert int(before) == 0
    assert int(after) > 10_000
    assert walked == "False"
