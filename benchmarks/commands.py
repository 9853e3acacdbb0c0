"""What the timed commands do by default, shared by the benchmark scripts (each is run as a script, so this folder
is on its import path), so that a benchmark times what the command does rather than a copy that can drift."""

from __future__ import annotations

import argparse
import inspect

from placewise.measure import default_range

MONTHS: int = inspect.signature(default_range).parameters["months"].default
"""The months ``placewise measure`` covers: ``default_range``'s default, read from the one place it is defined."""


def add_months_option(parser: argparse.ArgumentParser) -> None:
    """``--months``, by default the range ``placewise measure`` uses."""
    parser.add_argument("--months", type=int, default=MONTHS,
                        help=f"reporting range in months (default {MONTHS}, as placewise measure)")
