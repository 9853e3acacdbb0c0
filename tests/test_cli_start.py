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


def test_the_program_collects_cycles_less_often_than_python_by_default() -> None:
    """Running a command raises the cycle collector's youngest-generation threshold from Python's 700 (its older
    generations as Python sets them), and the command still runs."""
    out = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, check=True).stdout
    assert "### `geography`" in out  # the data dictionary
    assert out.strip().splitlines()[-1] == f"(700, 10, 10) ({YOUNG_COLLECTION}, 10, 10)"
